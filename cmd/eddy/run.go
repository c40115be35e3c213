package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	_ "gocloud.dev/blob/azureblob"          // azblob:// state
	_ "gocloud.dev/blob/gcsblob"            // gs:// state
	_ "gocloud.dev/blob/s3blob"             // s3:// state
	_ "gocloud.dev/docstore/awsdynamodb/v2" // dynamodb:// state

	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/core/runner"
	// The state stores workers on several hosts can share.
	_ "github.com/eddyhq/eddy/core/state/blobstate/azurestate"
	_ "github.com/eddyhq/eddy/core/state/blobstate/gcsstate"
	_ "github.com/eddyhq/eddy/core/state/blobstate/s3state"
	_ "github.com/eddyhq/eddy/core/state/docstate"
)

type runOpts struct {
	from, spec, stateURL, output, deadLetter, logLevel string
	tick                                               time.Duration
	connectAttempts                                    int
}

func newRunCmd(e *env) *cobra.Command {
	var o runOpts
	cmd := &cobra.Command{
		Use:   "run --from kafka://BROKERS/TOPIC?group=G [--spec eddy.yaml]",
		Short: "Run a function as a long-lived Kafka consumer-group worker (containers, VMs)",
		Long: `run consumes a Kafka topic as a member of a consumer group and runs the function on every
partition assigned to it: start as many workers with the same --from as you want partitions to
spread over, and the group balances them (cooperative-sticky). Each fetched partition batch is
processed, its outputs sent, and its state committed to --state with the partition's offset; only
then is the offset committed to Kafka. A worker that takes over a partition skips what the state
says was applied, so outputs are effectively once (each output's id lets consumers drop the copies
a crash may re-emit). Workers on several hosts need a shared --state (dynamodb://, gs://, azblob://, s3://);
file:// is for one host.

--from kafka://BROKER1,BROKER2/TOPIC takes ?group= (default eddy-FUNCTION), ?max_poll_records=,
?session_timeout= and ?rebalance_timeout=. --output and --dead-letter take the output URLs of
eddy's sinks: log: (stdout, JSON lines), log:stderr, kafka://BROKERS/TOPIC, mem://NAME. Partitions
quiet for --tick are ticked by the worker's own clock, so their windows close. On SIGINT or
SIGTERM the worker finishes its batches, commits them and leaves the group.`,
		Example: `  # Three workers of one group (run it three times), results to a topic
  eddy run --from 'kafka://127.0.0.1:9092/telemetry?group=press' --spec eddy.yaml \
    --state file:///var/lib/eddy --output kafka://127.0.0.1:9092/decisions --dead-letter kafka://127.0.0.1:9092/telemetry-dlq`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runWorker(cmd, e, o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.from, "from", "", "the topic to consume: kafka://BROKER1,BROKER2/TOPIC?group=GROUP")
	fl.StringVarP(&o.spec, "spec", "s", "", "function spec (default ./eddy.yaml)")
	fl.StringVar(&o.stateURL, "state", "file://.eddy/state", "state store URL (file:///DIR, or a store shared by all hosts), or a directory")
	fl.StringVarP(&o.output, "output", "o", "log:", "where results go: log:, log:stderr, kafka://BROKERS/TOPIC, mem://NAME")
	fl.StringVar(&o.deadLetter, "dead-letter", "log:stderr", "where undecodable records go (same forms)")
	fl.DurationVar(&o.tick, "tick", 10*time.Second, "tick partitions quiet this long (idle timeouts)")
	fl.IntVar(&o.connectAttempts, "connect-attempts", 6, "checks that the brokers answer and the topic exists before giving up (waits double from 0.5 s)")
	fl.StringVar(&o.logLevel, "log-level", "info", "log level on stderr: debug, info, warn or error")
	return cmd
}

func runWorker(cmd *cobra.Command, e *env, o runOpts) error {
	ctx := cmd.Context()
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	if o.from == "" {
		return usagef("--from is required: kafka://BROKER1,BROKER2/TOPIC?group=GROUP")
	}
	if _, err := kafka.ParseSourceURL(o.from); err != nil {
		return usagef("--from: %v", err)
	}
	if o.tick <= 0 || o.connectAttempts < 1 {
		return usagef("--tick and --connect-attempts must be positive")
	}
	_, c, err := loadSpec(o.spec)
	if err != nil {
		return err
	}
	stateURL := o.stateURL
	if !strings.Contains(stateURL, "://") {
		abs, err := filepath.Abs(stateURL)
		if err != nil {
			return usagef("--state %q: %v", stateURL, err)
		}
		stateURL = "file://" + filepath.ToSlash(abs)
	} else if rest, ok := strings.CutPrefix(stateURL, "file://"); ok && !strings.HasPrefix(rest, "/") {
		// file://.eddy/state: a directory relative to here.
		abs, err := filepath.Abs(rest)
		if err != nil {
			return usagef("--state %q: %v", stateURL, err)
		}
		stateURL = "file://" + filepath.ToSlash(abs)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	w, closeAll, err := kafka.Open(ctx, kafka.Config{Function: c.Name(), SourceURL: o.from, StateURL: stateURL,
		OutputURL: o.output, DeadLetterURL: o.deadLetter, TickEvery: o.tick},
		kafka.Func(c.Name(), func(string) (runner.Processor, error) { return c.NewPipeline() }),
		&kafka.WorkerConfig{Logger: logger, ConnectAttempts: o.connectAttempts})
	if err != nil {
		return err
	}
	// Reference tables reload in the background while the worker runs.
	refCtx, refCancel := context.WithCancel(ctx)
	refDone := make(chan struct{})
	go func() {
		defer close(refDone)
		_ = c.RunReference(refCtx)
	}()
	err = w.Run(ctx)
	refCancel()
	<-refDone
	if cerr := closeAll(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close: %w", cerr))
	}
	return err
}
