// Package env is the one configuration every eddy entry point reads, and the one way it opens a
// function's state and outputs: aws.Start, gcp.Start, azure.Start and local.Start all call Read and
// Open, so that the same EDDY_* variables mean the same on every cloud.
//
//	EDDY_FUNCTION        the function's name: the state's namespace and part of every output id
//	                     (default: the function's own name, from its spec)
//	EDDY_STATE_URL       the state store: dynamodb://, s3://, gs://, azblob://, file://, mem://
//	EDDY_OUTPUT_URL      where window results, decisions and late events go: log: (default),
//	                     file://, mem://, kinesis://, awssns://, awssqs://, gcppubsub://,
//	                     eventhubs://, rabbit://, https://
//	EDDY_DEADLETTER_URL  where records that cannot be processed go, as dead-letter envelopes
//	                     (same forms; default log:)
//	EDDY_IDLE_TTL        expire the state of a partition idle this long (a duration, e.g. 168h)
//	EDDY_WINDOW_STATE    AWS only: "lambda" keeps the state in Lambda's tumbling window
//	                     instead of EDDY_STATE_URL
//	EDDY_VIEW_STORE      where the function's materialized views (its spec's views:) are
//	                     written, next to the outputs: dynamodb://, firestore://, azuretable://,
//	                     file://, mem:// (default: the spec's outputs.view_store; "none" writes
//	                     no views). A function that declares views without a store fails to open.
//
// Outputs and dead letters leave under one wire contract (see package core/sink): the same ids,
// metadata and dead-letter envelope whatever the cloud and the transport.
package env

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/view"
	_ "github.com/eddyhq/eddy/core/view/fileview" // file:// views
	_ "github.com/eddyhq/eddy/core/view/memview"  // mem:// views (tests)
)

// The variables Read reads.
const (
	VarFunction    = "EDDY_FUNCTION"
	VarStateURL    = "EDDY_STATE_URL"
	VarOutputURL   = "EDDY_OUTPUT_URL"
	VarDeadLetter  = "EDDY_DEADLETTER_URL"
	VarIdleTTL     = "EDDY_IDLE_TTL"
	VarWindowState = "EDDY_WINDOW_STATE"
	VarViewStore   = "EDDY_VIEW_STORE"
)

// NoViews, as EDDY_VIEW_STORE, writes no views although the function declares some.
const NoViews = "none"

// DefaultOutputURL is where outputs and dead letters go when no URL is set: log lines on stdout,
// which every cloud keeps (CloudWatch Logs, Cloud Logging, Application Insights).
const DefaultOutputURL = "log:"

// Function is the one value every adapter's Start runs: a function's name and its processing of
// one partition. A function compiled from eddy.yaml (what `eddy new` scaffolds) is one; Func makes
// one from a pipeline-building func.
type Function interface {
	// Name is the function's name, the default of EDDY_FUNCTION.
	Name() string
	// NewProcessor makes the processing of one partition (a shard, an ordering key, an Event Hubs
	// partition), as runner.Config.New wants it.
	NewProcessor(partition string) (runner.Processor, error)
}

// Keyer is implemented by functions that can find an event's key in a record without the
// transport: adapters of transports whose messages may carry no key (Pub/Sub without an ordering
// key) partition those messages by it (see Partitioning).
type Keyer interface {
	// KeyConfig is the input decoder's configuration (format and key; time settings are ignored).
	KeyConfig() codec.Config
}

// Viewer is implemented by functions that keep materialized views (package core/view): a
// function compiled from a spec with views: is one.
type Viewer interface {
	// Views returns the views to keep, the catalog the dashboard reads (nil: just the views), and
	// the store URL used when EDDY_VIEW_STORE is unset ("" if none).
	Views() (defs []view.Def, cat *view.Catalog, defaultStore string)
}

// Func makes a Function from a name and a processor factory.
func Func(name string, newProc func(partition string) (runner.Processor, error)) Function {
	return funcFunction{name, newProc}
}

type funcFunction struct {
	name    string
	newProc func(string) (runner.Processor, error)
}

func (f funcFunction) Name() string { return f.name }
func (f funcFunction) NewProcessor(p string) (runner.Processor, error) {
	return f.newProc(p)
}

// Config is what the EDDY_* variables say.
type Config struct {
	// Function overrides the function's name (EDDY_FUNCTION).
	Function string
	// StateURL opens the state store (EDDY_STATE_URL).
	StateURL string
	// OutputURL opens the outputs' sink (EDDY_OUTPUT_URL; DefaultOutputURL when empty).
	OutputURL string
	// DeadLetterURL opens the dead-letter sink (EDDY_DEADLETTER_URL; DefaultOutputURL when
	// empty).
	DeadLetterURL string
	// IdleTTL expires idle partitions' state (EDDY_IDLE_TTL; 0: never).
	IdleTTL time.Duration
	// WindowState is EDDY_WINDOW_STATE: "" or "store" (the state store), or "lambda" (AWS only).
	WindowState string
	// ViewStoreURL opens the store of the function's views (EDDY_VIEW_STORE; when empty, the
	// function's own default, e.g. its spec's outputs.view_store; NoViews: none).
	ViewStoreURL string
}

// Read reads the configuration from the environment (os.Getenv when getenv is nil). A value that
// does not parse is an error naming the variable.
func Read(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Config{
		Function:      getenv(VarFunction),
		StateURL:      getenv(VarStateURL),
		OutputURL:     getenv(VarOutputURL),
		DeadLetterURL: getenv(VarDeadLetter),
		WindowState:   getenv(VarWindowState),
		ViewStoreURL:  getenv(VarViewStore),
	}
	switch c.WindowState {
	case "", "store", "lambda":
	default:
		return c, fmt.Errorf("%s=%q: want \"store\" (the default) or \"lambda\"", VarWindowState, c.WindowState)
	}
	if v := getenv(VarIdleTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("%s=%q: not a duration like 168h", VarIdleTTL, v)
		}
		c.IdleTTL = d
	}
	return c, nil
}

// Opened is a function's runner configuration with its state store and sinks open. Close it when
// done (serverless instances never are).
type Opened struct {
	// Config is the configuration it was opened with, Function filled in.
	Config Config
	// Runner is the runner.Config to build the runner from (runner.New, or the AWS window
	// runner): function, store (nil without StateURL), processors, sinks and idle TTL.
	Runner runner.Config
	// Output and DeadLetter are the sinks (the same one when both URLs are equal).
	Output, DeadLetter *sink.Sink
	// Views writes the function's views, teed after Output in Runner.Sink; nil when the function
	// declares none.
	Views   *view.Writer
	closers []func(context.Context) error
}

// Open opens what cfg names for fn: the state store (when StateURL is set), the output and the
// dead-letter sinks through sink.Open (whose drivers the caller imports), and returns them with the
// runner configuration that uses them. The function's name is cfg.Function, else fn.Name().
func Open(ctx context.Context, cfg Config, fn Function) (*Opened, error) {
	if fn == nil {
		return nil, errors.New("eddy: no function to run")
	}
	if cfg.Function == "" {
		cfg.Function = fn.Name()
	}
	if cfg.Function == "" {
		return nil, fmt.Errorf("eddy: the function has no name: give it one in its spec or set %s", VarFunction)
	}
	if cfg.OutputURL == "" {
		cfg.OutputURL = DefaultOutputURL
	}
	if cfg.DeadLetterURL == "" {
		cfg.DeadLetterURL = DefaultOutputURL
	}
	o := &Opened{Config: cfg}
	var err error
	if o.Output, err = sink.Open(ctx, cfg.OutputURL); err != nil {
		return nil, fmt.Errorf("%s: %w", VarOutputURL, err)
	}
	o.closers = append(o.closers, o.Output.Close)
	o.DeadLetter = o.Output
	if cfg.DeadLetterURL != cfg.OutputURL {
		if o.DeadLetter, err = sink.Open(ctx, cfg.DeadLetterURL); err != nil {
			o.Close(ctx)
			return nil, fmt.Errorf("%s: %w", VarDeadLetter, err)
		}
		o.closers = append(o.closers, o.DeadLetter.Close)
	}
	o.Runner = runner.Config{Function: cfg.Function, New: fn.NewProcessor, Sink: o.Output, DeadLetter: o.DeadLetter, IdleTTL: cfg.IdleTTL}
	if cfg.StateURL != "" {
		st, err := state.Open(ctx, cfg.StateURL)
		if err != nil {
			o.Close(ctx)
			return nil, fmt.Errorf("%s: %w", VarStateURL, err)
		}
		o.Runner.Store = st
		o.closers = append(o.closers, func(context.Context) error { return st.Close() })
	}
	if err := o.openViews(ctx, fn); err != nil {
		o.Close(ctx)
		return nil, err
	}
	return o, nil
}

// NewRunner builds a runner.Runner on the opened store; without EDDY_STATE_URL it is an error
// that says what to set.
func (o *Opened) NewRunner() (*runner.Runner, error) {
	if o.Runner.Store == nil {
		return nil, fmt.Errorf("eddy: no state store: set %s (dynamodb://, s3://, gs://, azblob://, file://; mem:// to try it)", VarStateURL)
	}
	return runner.New(o.Runner)
}

// Close closes the sinks and the store, in reverse order of opening.
func (o *Opened) Close(ctx context.Context) error {
	var errs []error
	for i := len(o.closers) - 1; i >= 0; i-- {
		errs = append(errs, o.closers[i](ctx))
	}
	o.closers = nil
	return errors.Join(errs...)
}

// openViews opens fn's views (OpenViews) and tees their writer after the output sink: a batch is
// committed only once its views are written, and a batch whose views failed is delivered again.
func (o *Opened) openViews(ctx context.Context, fn Function) error {
	w, err := OpenViews(ctx, o.Config.ViewStoreURL, o.Config.Function, fn)
	if err != nil || w == nil {
		return err
	}
	o.closers = append(o.closers, func(context.Context) error { return w.Store().Close() })
	o.Views = w
	o.Runner.Sink = view.Tee(o.Output, w)
	return nil
}

// OpenViews opens the views fn declares when it is a Viewer, as function, in the store storeURL
// names (EDDY_VIEW_STORE; "" for fn's own default, NoViews for none), and records the function's
// catalog there, so that a store that cannot be opened or rejects writes is an error at load, not
// at the first batch. It returns nil when there are no views to write. Adapters that do not go
// through Open (kafka) call it to tee the writer after their output sink; close the writer's
// Store when done.
func OpenViews(ctx context.Context, storeURL, function string, fn any) (*view.Writer, error) {
	v, ok := fn.(Viewer)
	if !ok {
		return nil, nil
	}
	defs, cat, defaultURL := v.Views()
	if len(defs) == 0 || storeURL == NoViews {
		return nil, nil
	}
	if storeURL == "" {
		storeURL = defaultURL
	}
	if storeURL == "" {
		return nil, fmt.Errorf("eddy: function %s declares %d views but names no view store: set %s (e.g. dynamodb://TABLE?partition_key=id, firestore://..., azuretable://TABLE, file:///DIR) or outputs.view_store, or %s=%s to write none",
			function, len(defs), VarViewStore, VarViewStore, NoViews)
	}
	store, err := view.Open(ctx, storeURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", VarViewStore, err)
	}
	if cat == nil {
		cat = &view.Catalog{Views: defs}
	}
	c := *cat
	c.Function = function
	if err := store.PutCatalog(ctx, &c); err != nil {
		store.Close()
		return nil, fmt.Errorf("%s %s: %w", VarViewStore, storeURL, err)
	}
	w, err := view.NewWriter(store, function, defs, nil)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("%s: %w", VarViewStore, err)
	}
	return w, nil
}
