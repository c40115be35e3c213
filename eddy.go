// Package eddy is the one Go API for writing an eddy function: the spec as Go values, a compiler
// whose errors are the spec's own, and a way to run the function here or hand it to a cloud.
//
// A function is a Function value, written in Go or loaded from eddy.yaml (Load, Parse); both are
// the same type, checked by the same validator:
//
//	fn := &eddy.Function{
//		Name:       "machine-health",
//		Input:      eddy.Input{Key: "machine", Time: "ts"},
//		Window:     eddy.Window{Tumbling: time.Minute},
//		Aggregates: []eddy.Aggregate{{Name: "avg_temp", Op: eddy.Avg, Field: "temp"}},
//		Rules:      []eddy.Rule{{Name: "overheat", When: "avg_temp > 80", For: eddy.Windows(2)}},
//	}
//	stats, err := eddy.Run(ctx, fn, records, func(o eddy.Output) { fmt.Println(o) })
//
// Every adapter's Start runs what Compile returns (aws.Start(c), gcp.RegisterFunction,
// azure.Start, kafka.Start, local.Start). Code a spec cannot say plugs in through Options (key and
// time functions, decision handlers, reference-table loaders); a processor written from scratch
// through ProcessorFunc. Package core/eddytest tests a Function in a few lines.
package eddy

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/internal/aggregate"
	"github.com/eddyhq/eddy/internal/pattern"
)

// The function and its parts: the same types as package spec, so that a Function written here and
// one read from eddy.yaml are interchangeable. Their fields are documented there.
type (
	// Function is one eddy function (eddy.yaml's top level).
	Function = spec.Function
	// Input says how a record becomes an event.
	Input = spec.Input
	// Window declares the window kind and the handling of late events.
	Window = spec.Window
	// Sliding declares sliding (hopping) windows.
	Sliding = spec.Sliding
	// Session declares session windows.
	Session = spec.Session
	// CountWindow declares count windows.
	CountWindow = spec.CountWindow
	// Global declares global windows.
	Global = spec.Global
	// Early declares early (speculative) window results.
	Early = spec.Early
	// Aggregate is one named value per key and window.
	Aggregate = spec.Aggregate
	// Rule is a threshold rule with for, keep_firing_for and hysteresis.
	Rule = spec.Rule
	// Hold is a rule's for or keep_firing_for: windows (Windows) or event time (For).
	Hold = spec.Hold
	// Anomaly is a per-key anomaly detector over one aggregate.
	Anomaly = spec.Anomaly
	// Crossover is a per-key moving-average crossover over one aggregate.
	Crossover = spec.Crossover
	// Pattern is a temporal pattern over each key's events.
	Pattern = spec.Pattern
	// Step is one step of a Pattern.
	Step = spec.Step
	// Limits bound the rules' cost and state.
	Limits = spec.Limits
	// Outputs selects what the function writes and in which format.
	Outputs = spec.Outputs
	// View declares a materialized view.
	View = spec.View
	// Reference declares a reference table.
	Reference = spec.Reference
	// Options are the hooks only Go code can give: key and time functions, decision handlers,
	// reference-table loaders.
	Options = spec.Options

	// Op names an aggregate function (Aggregate.Op).
	Op = aggregate.Op
	// Method is an anomaly detector's method.
	Method = rule.Method
	// Direction restricts an anomaly detector to spikes or drops.
	Direction = rule.Direction
	// Average is a crossover's kind of moving average.
	Average = rule.Average
	// Contiguity says whether other events may come between a pattern's steps.
	Contiguity = pattern.Contiguity
	// Skip says where matching resumes after a pattern matched.
	Skip = pattern.Skip
)

// What flows through a function.
type (
	// Record is one input record, as a transport delivers it.
	Record = core.Record
	// Event is a decoded record: key, time and payload fields (what KeyFunc and TimeFunc see).
	Event = core.Event
	// Output is what a function emits: a *WindowResult, a *Decision or a late event.
	Output = core.Output
	// WindowResult is one key's aggregates over one window.
	WindowResult = core.WindowResult
	// Decision is a rule's, detector's, crossover's or pattern's verdict.
	Decision = core.Decision
	// Stats counts what a run did.
	Stats = core.Stats
	// Result is what a run did: its Stats and its Failures.
	Result = core.Result
	// Failure is a record that could not be processed, with the field at fault and the reason.
	Failure = core.Failure
	// Handler is custom decision logic run on every window result (Options.Handlers).
	Handler = rule.Handler
	// AggregateFunc is a user-defined aggregate (Options.Aggregates, for an Aggregate whose Op is
	// Custom).
	AggregateFunc = core.AggregateFunc
	// AggregateFuncOf adapts a constructor to AggregateFunc.
	AggregateFuncOf = core.AggregateFuncOf
	// Accumulator is one partial of a user-defined aggregate: it adds, merges, clones and
	// serializes, since it lives in window state between invocations.
	Accumulator = core.Accumulator
	// Value is a field's value as an Accumulator receives it.
	Value = core.Value
	// Processor is the processing of one partition, for ProcessorFunc: it restores and snapshots its
	// state and processes batches and ticks.
	Processor = runner.Processor
)

// The aggregate functions (Aggregate.Op).
const (
	Count    = aggregate.Count
	Sum      = aggregate.Sum
	Min      = aggregate.Min
	Max      = aggregate.Max
	Avg      = aggregate.Avg
	Variance = aggregate.Variance
	Stddev   = aggregate.Stddev
	First    = aggregate.First
	Last     = aggregate.Last
	Quantile = aggregate.Quantile
	Distinct = aggregate.Distinct
	TopK     = aggregate.TopK
	// Custom is an aggregate computed by Go code: Options.Aggregates[its name].
	Custom = aggregate.Custom
)

// Anomaly methods and directions, crossover averages, pattern contiguity and skip strategies.
const (
	ZScore = rule.ZScore
	EWMA   = rule.EWMA

	Both  = rule.Both
	Above = rule.Above
	Below = rule.Below

	SMA = rule.SMA
	EMA = rule.EMA

	Relaxed = pattern.Relaxed
	Strict  = pattern.Strict

	SkipPastLastEvent = pattern.SkipPastLastEvent
	SkipToNext        = pattern.SkipToNext
	NoSkip            = pattern.NoSkip
)

// Windows is a Hold of n consecutive windows (Rule.For: eddy.Windows(3)).
func Windows(n int) Hold { return spec.Windows(n) }

// For is a Hold of d in event time (Rule.For: eddy.For(3*time.Minute)).
func For(d time.Duration) Hold { return spec.For(d) }

// Load reads and checks a spec file (eddy.yaml); its problems come back together, each with line
// and column.
func Load(path string) (*Function, error) { return spec.Load(path) }

// Parse reads and checks a spec's YAML; name names it in errors ("eddy.yaml").
func Parse(name string, yaml []byte) (*Function, error) { return spec.Parse(name, yaml) }

// Compiled is a checked, compiled function: what every adapter's Start runs. Its CEL and decoder
// are compiled once; each partition gets a fresh processor cheaply. It is safe for concurrent use.
type Compiled struct {
	fn *Function
	c  *spec.Compiled
}

// Compile checks fn (the same checks as eddy.yaml, with the path of each field at fault) and
// compiles it with the hooks in opts (at most one Options). Reference tables, if fn declares any,
// are loaded now and refreshed in the background until ctx is done.
func Compile(ctx context.Context, fn *Function, opts ...Options) (*Compiled, error) {
	var o Options
	if len(opts) > 1 {
		return nil, fmt.Errorf("eddy: Compile takes at most one Options, got %d", len(opts))
	}
	if len(opts) == 1 {
		o = opts[0]
	}
	if o.Context == nil {
		o.Context = ctx
	}
	c, err := fn.Compile(o)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", fn.Name, err)
	}
	if c.Reference() != nil {
		// A failed refresh keeps the last good table; RunReference returns when ctx is done.
		go func() { _ = c.RunReference(ctx) }()
	}
	return &Compiled{fn: fn, c: c}, nil
}

// Name is the function's name: part of every output id, and its state's namespace.
func (c *Compiled) Name() string { return c.c.Name() }

// NewProcessor makes the processing of one partition (a shard, an ordering key, an Event Hubs
// partition), as the runner and every adapter want it.
func (c *Compiled) NewProcessor(string) (Processor, error) { return c.c.NewPipeline() }

// KeyConfig is the input decoder's configuration, enough to find an event's key: adapters of
// transports whose messages may carry no key partition those messages by it.
func (c *Compiled) KeyConfig() codec.Config {
	return codec.Config{Format: c.fn.Input.Format, Key: c.fn.Input.Key, ProcessingTime: true}
}

// Function returns the function it was compiled from (changing it does not change c).
func (c *Compiled) Function() *Function { return c.fn }

// AppendOutput appends o as the function's outputs section says (eddy's JSON, or a CloudEvent),
// without a newline, and reports whether it did: outputs that outputs.include leaves out are not
// written.
func (c *Compiled) AppendOutput(b []byte, o Output) ([]byte, bool) { return c.c.AppendOutput(b, o) }

// batchSize is how many records Run hands the function at a time, as a delivery would.
const batchSize = 500

// Run runs the function over records in one partition, as `eddy run` does: in batches of 500
// records processed at the wall clock's time, then closing every open window. It calls emit for
// each window result, decision and late event the spec's outputs include, and returns the counts
// and the records that could not be processed (Result.Failures, each naming the field and the
// reason), which a deployment dead-letters; Result.Outputs stays empty.
func (c *Compiled) Run(ctx context.Context, records []Record, emit func(Output)) (Result, error) {
	var sum Result
	p, err := c.c.NewPipeline()
	if err != nil {
		return sum, err
	}
	out := func(o Output) {
		if c.c.Wants(o) {
			emit(o)
		}
	}
	add := func(r core.Result) {
		sum.Stats.Add(r.Stats)
		sum.Failures = append(sum.Failures, r.Failures...)
		sum.Checkpoint, sum.Watermark = r.Checkpoint, r.Watermark
	}
	for i := 0; i < len(records); i += batchSize {
		b := core.Batch{Partition: "local-0", Records: records[i:min(i+batchSize, len(records))], Now: time.Now()}
		res, err := p.Run(ctx, b, out)
		add(res)
		if err != nil {
			return sum, err
		}
	}
	res, err := p.Flush(ctx, out)
	add(res)
	return sum, err
}

// Run compiles fn and runs it over records (see Compiled.Run).
func Run(ctx context.Context, fn *Function, records []Record, emit func(Output)) (Result, error) {
	c, err := Compile(ctx, fn)
	if err != nil {
		return Result{}, err
	}
	return c.Run(ctx, records, emit)
}

// ReadRecords reads newline-delimited records (JSON lines, plain or gzip) from r, as `eddy run`
// does; name names the input in errors and record ids ("events.ndjson").
func ReadRecords(r io.Reader, name string) ([]Record, error) {
	lines, err := codec.NewLines(r, name)
	if err != nil {
		return nil, err
	}
	var recs []Record
	for {
		var rec Record
		if !lines.Next(&rec) {
			break
		}
		recs = append(recs, rec)
	}
	return recs, lines.Err()
}

// ProcessorFunc is a function written from scratch: a name and a processor per partition. Adapters run it
// like a compiled spec.
func ProcessorFunc(name string, newProcessor func(partition string) (Processor, error)) Runnable {
	return custom{name, newProcessor}
}

// Runnable is what every adapter's Start runs: a *Compiled or a ProcessorFunc.
type Runnable interface {
	// Name is the function's name.
	Name() string
	// NewProcessor makes the processing of one partition.
	NewProcessor(partition string) (Processor, error)
}

type custom struct {
	name string
	newP func(string) (Processor, error)
}

func (c custom) Name() string                             { return c.name }
func (c custom) NewProcessor(p string) (Processor, error) { return c.newP(p) }

// DefaultMaxPartials is Pattern.MaxPartials when left zero: the partial matches held per key.
const DefaultMaxPartials = pattern.DefaultMaxPartials

// FormatDuration writes d as eddy.yaml does (90s, 1h30m, 2d), for descriptions and generated specs.
func FormatDuration(d time.Duration) string { return spec.FormatDuration(d) }
