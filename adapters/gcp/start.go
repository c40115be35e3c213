package gcp

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	_ "gocloud.dev/blob/gcsblob" // gs:// state

	"github.com/eddyhq/eddy/adapters/env"
	_ "github.com/eddyhq/eddy/adapters/gcp/pubsubsink" // gcppubsub:// outputs
	_ "github.com/eddyhq/eddy/adapters/refblob"        // gs:// reference tables
	"github.com/eddyhq/eddy/core/codec"
	_ "github.com/eddyhq/eddy/core/sink/logsink" // log: outputs
	_ "github.com/eddyhq/eddy/core/sink/memsink"
	_ "github.com/eddyhq/eddy/core/sink/webhook"             // https:// outputs             // mem:// outputs (local runs, tests)
	_ "github.com/eddyhq/eddy/core/state/blobstate/gcsstate" // gs:// state
	_ "github.com/eddyhq/eddy/core/state/filestate"          // file:// state
	_ "github.com/eddyhq/eddy/core/state/memstate"           // mem:// state (local runs, tests)
	_ "github.com/eddyhq/eddy/core/view/docview"             // firestore:// views (EDDY_VIEW_STORE)
	_ "gocloud.dev/docstore/gcpfirestore"                    // firestore:// views
)

// Entry point names Start registers: the Pub/Sub CloudEvent function and the tick's HTTP function
// (gcloud's --entry-point, FUNCTION_TARGET locally).
const (
	EntryPoint     = "OnMessage"
	TickEntryPoint = "Tick"
)

// Open opens fn as a Function from cfg (see package adapters/env): the state store, the output
// and dead-letter sinks, a runner, and the partitioning of Partitioner(fn). Close the returned
// closer when done.
func Open(ctx context.Context, cfg env.Config, fn env.Function) (*Function, func() error, error) {
	o, err := env.Open(ctx, cfg, fn)
	if err != nil {
		return nil, nil, fmt.Errorf("gcp: %w", err)
	}
	closeAll := func() error { return o.Close(context.Background()) }
	if o.Runner.Observer, err = MetricsFromEnv(os.Stdout); err != nil { // EDDY_METRICS: log, otlp or off
		closeAll()
		return nil, nil, fmt.Errorf("gcp: %w", err)
	}
	r, err := o.NewRunner()
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("gcp: %w", err)
	}
	part, err := Partition(fn)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	f, err := New(Config{Runner: r, Function: o.Runner.Function, DeadLetter: o.DeadLetter, Partition: part})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return f, closeAll, nil
}

// Partition is how Start partitions fn's messages: by ordering key; a message without one by its
// event key when fn's key comes from the record (a payload field, $attr.NAME, $ce.NAME: see
// spec.Partitioning), else in SinglePartition. A function without a key (or with key: $key)
// therefore runs on any subscription, ordered or not, and no message is a dead letter for want of
// a key.
func Partition(fn env.Function) (Partitioner, error) {
	k, ok := fn.(env.Keyer)
	if !ok {
		return FirstOf(ByOrderingKey), nil
	}
	cfg := k.KeyConfig()
	byKey, err := ByEventKey(codec.Config{Format: cfg.Format, Key: cfg.Key, KeyFunc: cfg.KeyFunc})
	if err != nil {
		return nil, err
	}
	return FirstOf(ByOrderingKey, byKey), nil
}

// Opener returns the opener Register and RegisterTick take: on the first event or tick (and again
// after a failure) it loads the function, reads the EDDY_* variables and opens it, for both entry
// points to share. Loading there rather than in init lets a broken function show as failed
// deliveries with its error in the logs.
func Opener(load func() (env.Function, error)) func(ctx context.Context) (*Function, error) {
	return OpenOnce(func(ctx context.Context) (*Function, error) {
		fn, err := load()
		if err != nil {
			return nil, fmt.Errorf("gcp: load the function: %w", err)
		}
		cfg, err := env.Read(nil)
		if err != nil {
			return nil, fmt.Errorf("gcp: %w", err)
		}
		f, _, err := Open(ctx, cfg, fn)
		return f, err
	})
}

// RegisterFunction registers the function load returns with functions-framework-go: EntryPoint
// (Pub/Sub messages) and TickEntryPoint (Cloud Scheduler's tick), sharing one Function opened
// from the EDDY_* variables. Call it from an init function of the package Cloud Run functions
// builds:
//
//	func init() { gcp.RegisterFunction(func() (env.Function, error) { return myfn.Load() }) }
func RegisterFunction(load func() (env.Function, error)) {
	open := Opener(load)
	Register(EntryPoint, open)
	RegisterTick(TickEntryPoint, open)
}

// Start registers fn (RegisterFunction) and serves it (Serve). It returns only on error.
func Start(fn env.Function) error {
	RegisterFunction(func() (env.Function, error) { return fn, nil })
	return Serve()
}

// Serve serves the registered functions with functions-framework-go on PORT (default 8080), as
// Cloud Run does: on every interface where the platform runs it (K_SERVICE is set), else on
// 127.0.0.1 only, so that a local run is not reachable from the network. With FUNCTION_TARGET it
// serves that entry point at every path; without, each at "/"+name. It returns only on error.
func Serve() error {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.StartHostPort(ListenHost(os.Getenv), port); err != nil {
		return fmt.Errorf("gcp: serve on port %s: %w", port, err)
	}
	return nil
}

// ListenHost is the host Start listens on: "" (every interface) when deployed (K_SERVICE, which
// Cloud Run sets), else the loopback address.
func ListenHost(getenv func(string) string) string {
	if getenv("K_SERVICE") != "" {
		return ""
	}
	return net.IPv4(127, 0, 0, 1).String()
}
