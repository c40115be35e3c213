package aws

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	_ "gocloud.dev/docstore/awsdynamodb/v2" // dynamodb:// state
	"gocloud.dev/pubsub"
	_ "gocloud.dev/pubsub/awssnssqs" // awssns:// and awssqs:// outputs

	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	_ "github.com/eddyhq/eddy/core/state/blobstate/s3state" // s3:// state
	_ "github.com/eddyhq/eddy/core/state/docstate"          // dynamodb:// state
	_ "github.com/eddyhq/eddy/core/state/filestate"         // file:// state (tests, /tmp)
	_ "github.com/eddyhq/eddy/core/state/memstate"          // mem:// state (tests)
	_ "gocloud.dev/blob/s3blob"
)

// Environment variables read by ConfigFromEnv.
const (
	// EnvFunction names the function (default: AWS_LAMBDA_FUNCTION_NAME).
	EnvFunction = "EDDY_FUNCTION"
	// EnvStateURL is the state store, e.g. "dynamodb://eddy-state?partition_key=id".
	EnvStateURL = "EDDY_STATE_URL"
	// EnvOutputURL is where outputs go: "log:" (default), "kinesis://STREAM", "awssns:///ARN",
	// "awssqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE".
	EnvOutputURL = "EDDY_OUTPUT_URL"
	// EnvDeadLetterURL is where records that fail to decode go (same forms; default "log:").
	EnvDeadLetterURL = "EDDY_DEADLETTER_URL"
	// EnvWindowState set to "lambda" keeps the state in Lambda's tumbling window (no state store).
	EnvWindowState = "EDDY_WINDOW_STATE"
	// EnvIdleTTL expires the state of a shard idle this long (a Go duration, e.g. "168h").
	EnvIdleTTL = "EDDY_IDLE_TTL"
)

// Config is the deployed function's configuration.
type Config struct {
	Function      string
	StateURL      string
	OutputURL     string
	DeadLetterURL string
	// LambdaWindowState keeps the state in Lambda's tumbling window instead of StateURL.
	LambdaWindowState bool
	IdleTTL           time.Duration
}

// ConfigFromEnv reads the configuration from the environment variables above.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Function:      os.Getenv(EnvFunction),
		StateURL:      os.Getenv(EnvStateURL),
		OutputURL:     os.Getenv(EnvOutputURL),
		DeadLetterURL: os.Getenv(EnvDeadLetterURL),
	}
	if c.Function == "" {
		c.Function = os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	}
	switch v := os.Getenv(EnvWindowState); v {
	case "", "store":
	case "lambda":
		c.LambdaWindowState = true
	default:
		return c, fmt.Errorf("%s=%q: want \"lambda\" or \"store\"", EnvWindowState, v)
	}
	if v := os.Getenv(EnvIdleTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("%s=%q: not a duration like 168h", EnvIdleTTL, v)
		}
		c.IdleTTL = d
	}
	return c, nil
}

// Open builds a handler from cfg: it opens the state store and the outputs, and makes a runner whose
// processors come from newProc. Close the returned closer when done (Lambda never is).
func Open(ctx context.Context, cfg Config, newProc func(partition string) (runner.Processor, error)) (*Handler, func() error, error) {
	return OpenWith(ctx, cfg, newProc, nil)
}

// OpenWith is Open with a hook that wraps the output before the runner gets it (to count, filter
// or enrich outputs); nil uses the output as it is.
func OpenWith(ctx context.Context, cfg Config, newProc func(partition string) (runner.Processor, error), wrap func(Output) runner.Sink) (*Handler, func() error, error) {
	if cfg.Function == "" {
		return nil, nil, fmt.Errorf("aws: the function has no name: set %s", EnvFunction)
	}
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	out, err := OpenOutput(ctx, orDefault(cfg.OutputURL, "log:"))
	if err != nil {
		return nil, nil, fmt.Errorf("aws: %s: %w", EnvOutputURL, err)
	}
	closers = append(closers, out.Close)
	dl := out
	if cfg.DeadLetterURL != cfg.OutputURL {
		dl, err = OpenOutput(ctx, orDefault(cfg.DeadLetterURL, "log:"))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("aws: %s: %w", EnvDeadLetterURL, err)
		}
		closers = append(closers, dl.Close)
	}
	rc := runner.Config{Function: cfg.Function, New: newProc, Sink: out, DeadLetter: dl, IdleTTL: cfg.IdleTTL}
	if rc.Observer, err = MetricsFromEnv(os.Stdout); err != nil { // metrics.go
		closeAll()
		return nil, nil, fmt.Errorf("aws: %w", err)
	}
	if wrap != nil {
		rc.Sink = wrap(out)
	}
	var r *runner.Runner
	if cfg.LambdaWindowState {
		if cfg.StateURL != "" {
			closeAll()
			return nil, nil, fmt.Errorf("aws: %s=lambda keeps the state in Lambda's window: unset %s", EnvWindowState, EnvStateURL)
		}
		r, err = NewWindowRunner(rc)
	} else {
		if cfg.StateURL == "" {
			closeAll()
			return nil, nil, fmt.Errorf("aws: no state store: set %s (e.g. dynamodb://eddy-state?partition_key=id), or %s=lambda for a tumbling window of at most 900 s", EnvStateURL, EnvWindowState)
		}
		rc.Store, err = state.Open(ctx, cfg.StateURL)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("aws: %s: %w", EnvStateURL, err)
		}
		closers = append(closers, rc.Store.Close)
		r, err = runner.New(rc)
	}
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("aws: %w", err)
	}
	h, err := NewHandler(r, &Options{LambdaWindowState: cfg.LambdaWindowState})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return h, closeAll, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// OpenOutput opens an output from a URL:
//
//	log:                                        slog JSON lines on stdout (CloudWatch Logs)
//	kinesis://STREAM?region=R&endpoint=URL      a Kinesis stream (aws-sdk-go-v2 PutRecords)
//	awssns:///arn:aws:sns:REGION:ACCOUNT:TOPIC  an SNS topic (gocloud.dev/pubsub/awssnssqs)
//	awssqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE  an SQS queue (same)
//
// Credentials and region come from the environment, as everywhere in Lambda.
func OpenOutput(ctx context.Context, rawURL string) (Output, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "log":
		return NewLogOutput(os.Stdout), nil
	case "kinesis":
		stream := u.Host
		if stream == "" {
			return nil, fmt.Errorf("output %q: no stream name (kinesis://STREAM)", rawURL)
		}
		q := u.Query()
		var opts []func(*config.LoadOptions) error
		if r := q.Get("region"); r != "" {
			opts = append(opts, config.WithRegion(r))
		}
		cfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("output %q: AWS configuration: %w", rawURL, err)
		}
		client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
			if ep := q.Get("endpoint"); ep != "" {
				o.BaseEndpoint = awssdk.String(ep)
			}
		})
		k := NewKinesisOutput(client, stream)
		if v := q.Get("max_attempts"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("output %q: max_attempts %q is not a positive integer", rawURL, v)
			}
			k.MaxAttempts = n
		}
		return k, nil
	case "awssns", "awssqs":
		t, err := pubsub.OpenTopic(ctx, rawURL)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", rawURL, err)
		}
		return NewTopicOutput(t), nil
	}
	return nil, fmt.Errorf("output %q: unknown scheme %q (want log:, kinesis://, awssns:// or awssqs://)", rawURL, strings.TrimSuffix(u.Scheme, ":"))
}

// Start runs the function in Lambda: it reads the configuration from the environment (see
// ConfigFromEnv), opens the store and outputs, and serves invocations until Lambda stops the
// process. newProc makes the function's processing for one shard (a *pipeline.Pipeline). It does
// not return; a configuration error ends the process with the error, so the init phase fails
// visibly in the logs.
func Start(newProc func(partition string) (runner.Processor, error)) {
	ctx := context.Background()
	cfg, err := ConfigFromEnv()
	if err != nil {
		fatal(err)
	}
	h, _, err := Open(ctx, cfg, newProc)
	if err != nil {
		fatal(err)
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "eddy:", err)
	os.Exit(1)
}
