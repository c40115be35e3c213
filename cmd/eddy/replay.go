package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/spec"
)

type replayOpts struct {
	spec, input, output, deadLetter string
	batch                           int
	progress                        string
}

func newReplayCmd(e *env) *cobra.Command {
	var o replayOpts
	cmd := &cobra.Command{
		Use:   "replay --input FILE [--spec eddy.yaml] [--output FILE]",
		Short: "Re-run a function over recorded events, as fast as possible",
		Long: `replay re-executes a function over recorded history: newline-delimited records (JSON objects,
or whatever the spec's input.format says), plain or gzip-compressed, from a file or stdin (-).
It writes the window results, decisions and late events as JSON lines (eddy's output contract;
the spec's outputs section selects and formats them) to stdout or --output, and ends the stream
at the end of the input: every window fires and closes, pending patterns resolve.

The records are one partition in file order, as one shard would deliver them; the event time,
the watermark and the lateness rules are the same as in a deployment, so a replay reproduces what
the cloud computed. Records that cannot be decoded are counted and listed (--dead-letter FILE
keeps them all as JSON lines). A summary (events, late, failed, decisions, events/s) goes to
stderr, after a progress bar when stderr is a terminal.`,
		Example: `  # Replay a day of history, results to a file
  eddy replay --spec eddy.yaml --input events-2025-11-25.ndjson.gz --output results.ndjson

  # The standard workload W1 over generated events, decisions only
  eddy replay --spec examples/bench/w1.yaml --input w1.ndjson | grep '"type":"decision"'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.input == "" {
				return usagef("replay needs --input FILE (or --input - for stdin)")
			}
			return replay(cmd.Context(), e, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.spec, "spec", "s", "", "function spec (default ./eddy.yaml)")
	fl.StringVarP(&o.input, "input", "i", "", "recorded records, one per line, gzip or plain; - for stdin")
	fl.StringVarP(&o.output, "output", "o", "", "where results go (default stdout)")
	fl.StringVar(&o.deadLetter, "dead-letter", "", "write records that fail to decode to this file as JSON lines")
	fl.IntVar(&o.batch, "batch", 8192, "records per pipeline batch")
	fl.StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (when a terminal), always or never")
	return cmd
}

// replayStats is what a replay did.
type replayStats struct {
	core.Stats
	elapsed time.Duration
	// failures are the first few records that failed, for the summary.
	failures []*core.Failure
}

// printSummary writes the closing lines of a replay or a dev run.
func printSummary(w io.Writer, st replayStats) {
	secs := st.elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(st.Events) / secs
	}
	fmt.Fprintf(w, "%d events in %s (%.0f events/s): %d window results, %d decisions, %d late, %d failed\n",
		st.Events, st.elapsed.Round(time.Millisecond), rate, st.Windows, st.Decisions, st.Late, st.Failed)
	for _, f := range st.failures {
		fmt.Fprintf(w, "  failed: %v\n", f)
	}
	if st.Failed > len(st.failures) && len(st.failures) > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", st.Failed-len(st.failures))
	}
}

func replay(ctx context.Context, e *env, o replayOpts) error {
	if o.batch < 1 {
		return usagef("--batch %d: want at least 1", o.batch)
	}
	_, c, err := loadSpec(o.spec)
	if err != nil {
		return err
	}
	in, size, err := openInput(e, o.input)
	if err != nil {
		return err
	}
	defer in.Close()
	out, closeOut, err := openOutput(e, o.output)
	if err != nil {
		return err
	}
	var dl *failureSink
	closeDL := func() error { return nil }
	if o.deadLetter != "" {
		w, cl, err := openOutput(e, o.deadLetter)
		if err != nil {
			return fmt.Errorf("dead letter: %w", err)
		}
		dl, closeDL = &failureSink{w: w, json: true}, cl
	}

	var r io.Reader = in
	var bar *progressbar.ProgressBar
	switch o.progress {
	case "auto", "always", "never":
	default:
		return usagef("--progress %q: want auto, always or never", o.progress)
	}
	if o.progress == "always" || o.progress == "auto" && e.stderrTTY {
		bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(e.stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("replay"), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30))
		pr := progressbar.NewReader(in, bar)
		r = &pr
	}
	name := filepath.Base(o.input)
	if o.input == "-" {
		name = "stdin"
	}
	st, err := runReplay(ctx, c, r, name, out, dl, o.batch)
	if bar != nil {
		_ = bar.Finish()
	}
	if cerr := closeOut(); err == nil && cerr != nil {
		err = fmt.Errorf("output: %w", cerr)
	}
	if cerr := closeDL(); err == nil && cerr != nil {
		err = fmt.Errorf("dead letter: %w", cerr)
	}
	if err != nil {
		return err
	}
	printSummary(e.stderr, st)
	if st.Failed > 0 && dl == nil {
		fmt.Fprintf(e.stderr, "%d records failed to decode; rerun with --dead-letter FILE to keep them all\n", st.Failed)
	}
	return nil
}

// runReplay is the hot loop: lines decoded in large batches, each output appended straight into
// the writer's buffer (no allocation per output), one flush at the end.
func runReplay(ctx context.Context, c *spec.Compiled, r io.Reader, name string, out io.Writer, dl *failureSink, batch int) (replayStats, error) {
	var st replayStats
	start := time.Now()
	p, err := c.NewPipeline()
	if err != nil {
		return st, err
	}
	lines, err := codec.NewLines(r, name)
	if err != nil {
		return st, fmt.Errorf("input: %w", err)
	}
	defer lines.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	var werr error
	emit := func(o core.Output) {
		b, ok := c.AppendOutput(w.AvailableBuffer(), o)
		if !ok || werr != nil {
			return
		}
		if _, werr = w.Write(append(b, '\n')); werr != nil {
			werr = fmt.Errorf("write output: %w", werr)
		}
	}
	recs := make([]core.Record, batch)
	for {
		n := 0
		for n < batch && lines.Next(&recs[n]) {
			n++
		}
		if n == 0 {
			break
		}
		res, err := p.Run(ctx, core.Batch{Partition: "replay", Records: recs[:n], Now: time.Now()}, emit)
		if err != nil {
			return st, err
		}
		if werr != nil {
			return st, werr
		}
		st.Add(res.Stats)
		for _, f := range res.Failures {
			if len(st.failures) < 5 {
				st.failures = append(st.failures, f)
			}
		}
		if dl != nil && len(res.Failures) > 0 {
			if err := dl.EmitFailures(ctx, res.Failures); err != nil {
				return st, err
			}
		}
		if n < batch {
			break
		}
	}
	if err := lines.Err(); err != nil {
		return st, fmt.Errorf("input: %w", err)
	}
	res, err := p.Flush(ctx, emit)
	if err != nil {
		return st, err
	}
	st.Add(res.Stats)
	if werr != nil {
		return st, werr
	}
	if err := w.Flush(); err != nil {
		return st, fmt.Errorf("write output: %w", err)
	}
	st.elapsed = time.Since(start)
	return st, nil
}
