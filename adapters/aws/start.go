package aws

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	_ "gocloud.dev/docstore/awsdynamodb/v2" // dynamodb:// state
	_ "gocloud.dev/pubsub/awssnssqs"        // awssns:// and awssqs:// outputs

	_ "github.com/eddyhq/eddy/adapters/aws/kinesissink" // kinesis:// outputs
	_ "github.com/eddyhq/eddy/adapters/aws/snssqssink"  // awssns:// and awssqs:// outputs
	"github.com/eddyhq/eddy/adapters/env"
	_ "github.com/eddyhq/eddy/adapters/refblob" // s3:// reference tables
	"github.com/eddyhq/eddy/core/runner"
	_ "github.com/eddyhq/eddy/core/sink/logsink"            // log: outputs
	_ "github.com/eddyhq/eddy/core/sink/memsink"            // mem:// outputs (tests)
	_ "github.com/eddyhq/eddy/core/sink/webhook"            // https:// outputs
	_ "github.com/eddyhq/eddy/core/state/blobstate/s3state" // s3:// state
	_ "github.com/eddyhq/eddy/core/state/docstate"          // dynamodb:// state
	_ "github.com/eddyhq/eddy/core/state/filestate"         // file:// state (tests, /tmp)
	_ "github.com/eddyhq/eddy/core/state/memstate"          // mem:// state (tests)
	_ "github.com/eddyhq/eddy/core/view/docview"            // dynamodb:// views (EDDY_VIEW_STORE)
	_ "gocloud.dev/blob/s3blob"
)

// Environment variables read by ConfigFromEnv: the EDDY_* variables of every adapter (package
// adapters/env).
const (
	// EnvFunction names the function (default: the function's own name, else
	// AWS_LAMBDA_FUNCTION_NAME).
	EnvFunction = env.VarFunction
	// EnvStateURL is the state store, e.g. "dynamodb://eddy-state?partition_key=id".
	EnvStateURL = env.VarStateURL
	// EnvOutputURL is where outputs go: "log:" (default), "kinesis://STREAM", or any sink URL.
	EnvOutputURL = env.VarOutputURL
	// EnvDeadLetterURL is where records that fail to decode go (same forms; default "log:").
	EnvDeadLetterURL = env.VarDeadLetter
	// EnvWindowState set to "lambda" keeps the state in Lambda's tumbling window (no state store).
	EnvWindowState = env.VarWindowState
	// EnvIdleTTL expires the state of a shard idle this long (a Go duration, e.g. "168h").
	EnvIdleTTL = env.VarIdleTTL
)

// Config is the deployed function's configuration, as every adapter reads it.
type Config = env.Config

// ConfigFromEnv reads the configuration from the EDDY_* variables (env.Read).
func ConfigFromEnv() (Config, error) { return env.Read(nil) }

// Open builds a handler for fn from cfg: it opens the state store and the outputs (env.Open), and
// makes a runner whose processors come from fn. Close the returned closer when done (Lambda never
// is).
func Open(ctx context.Context, cfg Config, fn env.Function) (*Handler, func() error, error) {
	return OpenWith(ctx, cfg, fn, nil)
}

// OpenWith is Open with a hook that wraps the output sink before the runner gets it (to count,
// filter or enrich outputs); nil uses the sink as it is.
func OpenWith(ctx context.Context, cfg Config, fn env.Function, wrap func(runner.Sink) runner.Sink) (*Handler, func() error, error) {
	if fn != nil && cfg.Function == "" && fn.Name() == "" {
		cfg.Function = os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	}
	lambdaState := cfg.WindowState == "lambda"
	if lambdaState && cfg.StateURL != "" {
		return nil, nil, fmt.Errorf("aws: %s=lambda keeps the state in Lambda's window: unset %s", EnvWindowState, EnvStateURL)
	}
	if !lambdaState && cfg.StateURL == "" {
		return nil, nil, fmt.Errorf("aws: no state store: set %s (e.g. dynamodb://eddy-state?partition_key=id), or %s=lambda for a tumbling window of at most 900 s", EnvStateURL, EnvWindowState)
	}
	o, err := env.Open(ctx, cfg, fn)
	if err != nil {
		return nil, nil, fmt.Errorf("aws: %w", err)
	}
	closeAll := func() error { return o.Close(context.Background()) }
	rc := o.Runner
	if rc.Observer, err = MetricsFromEnv(os.Stdout); err != nil { // metrics.go
		closeAll()
		return nil, nil, fmt.Errorf("aws: %w", err)
	}
	if wrap != nil {
		rc.Sink = wrap(rc.Sink)
	}
	var r *runner.Runner
	if lambdaState {
		r, err = NewWindowRunner(rc)
	} else {
		r, err = runner.New(rc)
	}
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("aws: %w", err)
	}
	h, err := NewHandler(r, &Options{LambdaWindowState: lambdaState})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return h, closeAll, nil
}

// Start runs fn in Lambda: it reads the EDDY_* variables (see package adapters/env), opens the
// store and the outputs, and serves invocations until Lambda stops the process. fn is the same
// value every adapter's Start takes (a function compiled from eddy.yaml, or env.Func). Start does
// not return; a configuration error ends the process with the error, so the init phase fails
// visibly in the logs.
func Start(fn env.Function) {
	ctx := context.Background()
	cfg, err := ConfigFromEnv()
	if err != nil {
		fatal(err)
	}
	h, _, err := Open(ctx, cfg, fn)
	if err != nil {
		fatal(err)
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "eddy:", err)
	os.Exit(1)
}
