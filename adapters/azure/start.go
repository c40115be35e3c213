package azure

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/eddyhq/eddy/adapters/azure/eventhubsink" // eventhubs:// outputs
	_ "github.com/eddyhq/eddy/adapters/azure/tableview"    // azuretable:// views (EDDY_VIEW_STORE)
	"github.com/eddyhq/eddy/adapters/env"
	_ "github.com/eddyhq/eddy/adapters/refblob"  // azblob:// reference tables
	_ "github.com/eddyhq/eddy/core/sink/logsink" // log: outputs
	_ "github.com/eddyhq/eddy/core/sink/memsink"
	_ "github.com/eddyhq/eddy/core/sink/webhook"               // https:// outputs               // mem:// outputs (local runs, tests)
	_ "github.com/eddyhq/eddy/core/state/blobstate/azurestate" // azblob:// state
	_ "github.com/eddyhq/eddy/core/state/filestate"            // file:// state
	_ "github.com/eddyhq/eddy/core/state/memstate"             // mem:// state (local runs, tests)
)

// TickFunction is the name of the timer-triggered function whose invocations Start's handler
// answers with a tick (deploy/azure/Tick/function.json).
const TickFunction = "Tick"

// Open builds a custom handler for fn from cfg (see package adapters/env): the state store, the
// output and dead-letter sinks, and a runner. Outputs go to EDDY_OUTPUT_URL before the state
// commit (never in the reply, which no function.json declares), dead letters to
// EDDY_DEADLETTER_URL; a timer function named TickFunction ticks every partition. Close the
// returned closer when done.
func Open(ctx context.Context, cfg env.Config, fn env.Function) (*Handler, func() error, error) {
	o, err := env.Open(ctx, cfg, fn)
	if err != nil {
		return nil, nil, fmt.Errorf("azure: %w", err)
	}
	closeAll := func() error { return o.Close(context.Background()) }
	if o.Runner.Observer, err = MetricsFromEnv(os.Stdout); err != nil { // EDDY_METRICS: log, otlp or off
		closeAll()
		return nil, nil, fmt.Errorf("azure: %w", err)
	}
	r, err := o.NewRunner()
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("azure: %w", err)
	}
	h, err := NewHandler(HandlerConfig{
		Runner:       r,
		Function:     o.Runner.Function,
		DeadLetter:   o.DeadLetter,
		TickFunction: TickFunction,
		Logger:       slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return h, closeAll, nil
}

// Start runs fn as the custom handler the Functions host starts: it reads the EDDY_* variables,
// opens the handler (Open) and serves it on FUNCTIONS_CUSTOMHANDLER_PORT (Serve) until the host
// stops the process (SIGTERM). It returns only on error, or nil after a clean stop.
func Start(fn env.Function) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := env.Read(nil)
	if err != nil {
		return fmt.Errorf("azure: %w", err)
	}
	h, closeFn, err := Open(ctx, cfg, fn)
	if err != nil {
		return err
	}
	defer closeFn()
	return Serve(ctx, h)
}
