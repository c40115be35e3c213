package spec

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/reftable"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/internal/pattern"
	"github.com/eddyhq/eddy/internal/pipeline"
	"github.com/eddyhq/eddy/internal/window"
)

// Options are the hooks only Go code can give a function. They are called concurrently by the
// pipelines of different partitions, so they must be safe for concurrent use.
type Options struct {
	// KeyFunc computes the event key from the decoded event instead of input.key.
	KeyFunc func(*core.Event) (string, error)
	// TimeFunc computes the event time from the decoded event instead of input.time.
	TimeFunc func(*core.Event) (time.Time, error)
	// Aggregates are user-defined aggregates by name: an aggregate whose op is custom reads its
	// field through Aggregates[its name].
	Aggregates map[string]core.AggregateFunc
	// Handlers are custom decision logic run on every window result after the rules, anomaly
	// detectors and crossovers (see rule.Handler). They need aggregates.
	Handlers []rule.Handler
	// RefLoader reads the sources of reference tables (default: files, and the blob URLs whose
	// loaders are registered with reftable.DefaultURLMux, as package adapters/refblob does).
	RefLoader reftable.Loader
	// Context bounds the first load of the reference tables in Compile (default: none).
	Context context.Context
	// Logger logs reference-table refreshes (default: slog.Default()).
	Logger *slog.Logger
}

// Compiled is a validated, compiled function: rules, patterns and the decoder are compiled once
// and shared, so NewPipeline is cheap. It is immutable and safe for concurrent use.
type Compiled struct {
	name  string
	cfg   pipeline.Config
	rules *rule.Set // nil without rules, anomalies, crossovers and handlers
	// early holds the rules with early: true (nil without): they see early window results too.
	early    *rule.Set
	patterns []*pattern.Pattern
	// paths is the field table every pipeline ends up with; the patterns and the decoder index it.
	paths []string
	dec   *codec.Decoder

	// ref are the reference tables, loaded by Compile and refreshed by RunReference.
	ref *reftable.Set

	include    [3]bool // window, decision, late
	cloudEvent bool
	source     string
}

// Build validates and compiles f into one fresh pipeline. To make many (one per partition or
// attempt), Compile once and call NewPipeline.
func (f *Function) Build() (*pipeline.Pipeline, error) {
	c, err := f.Compile(Options{})
	if err != nil {
		return nil, err
	}
	return c.NewPipeline()
}

// Compile validates f (with opts) and compiles it. Validation problems come back as an Errors with
// the path of each field at fault. The Compiled value does not refer to f: changing f afterwards
// does not change it.
func (f *Function) Compile(opts Options) (*Compiled, error) {
	if err := f.validate(opts, nil).err(); err != nil {
		return nil, err
	}
	c := &Compiled{
		name: f.Name,
		cfg: pipeline.Config{
			Function: f.Name,
			Time: window.Time{OutOfOrder: f.Input.OutOfOrder, AllowedLateness: f.Window.AllowedLateness,
				IdleTimeout: f.Window.IdleTimeout},
			MaxFuture: f.Input.MaxFuture,
			MaxKeys:   f.Limits.MaxKeys,
		},
	}
	var err error
	if c.ref, err = f.loadReference(opts); err != nil {
		e := verr("reference", err.Error(), "")
		e.Err = err
		return nil, Errors{e}
	}
	c.cfg.Reference = c.ref
	if c.cfg.MaxFuture == 0 {
		c.cfg.MaxFuture = DefaultMaxFuture
	}
	if f.Input.ProcessingTime {
		c.cfg.MaxFuture = 0
	}
	for i := range f.Aggregates {
		c.cfg.Aggregates = append(c.cfg.Aggregates, f.Aggregates[i].spec(opts))
	}
	if len(f.Aggregates) > 0 {
		c.cfg.Window = f.windowSpec()
	}
	// A first builder lays out the field table: the aggregates' fields, then the patterns'.
	b, err := pipeline.New(c.cfg)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	for i := range f.Patterns {
		pc := f.patternConfig(i)
		pc.Reference = c.ref
		p, err := pattern.Compile(pc, b.Fields())
		if err != nil {
			return nil, Errors{patternError(fmt.Sprintf("patterns[%d]", i), err)}
		}
		c.patterns = append(c.patterns, p)
	}
	c.paths = slices.Clone(b.Fields().Paths())
	if len(f.Rules) > 0 || len(f.Anomalies) > 0 || len(f.Crossovers) > 0 || len(opts.Handlers) > 0 {
		rc := f.ruleConfig(opts)
		rc.Reference = c.ref
		fin, early := f.splitEarly(rc)
		if fin != nil {
			if c.rules, err = rule.Compile(*fin); err != nil {
				return nil, Errors{verr("rules", err.Error(), "")}
			}
		}
		if early != nil {
			if c.early, err = rule.Compile(*early); err != nil {
				return nil, Errors{verr("rules", err.Error(), "")}
			}
		}
	}
	c.dec, err = codec.New(codec.Config{
		Format: f.Input.Format, Paths: c.paths, Key: f.Input.Key, KeyFunc: opts.KeyFunc,
		Time: f.Input.Time, TimeFormat: f.Input.TimeFormat, TimeFunc: opts.TimeFunc, ProcessingTime: f.Input.ProcessingTime,
	})
	if err != nil {
		return nil, Errors{verr("input", err.Error(), "")}
	}
	if len(f.Outputs.Include) == 0 {
		c.include = [3]bool{true, true, true}
	}
	for _, s := range f.Outputs.Include {
		switch s {
		case "window":
			c.include[0] = true
		case "decision":
			c.include[1] = true
		case "late":
			c.include[2] = true
		}
	}
	c.cloudEvent = f.Outputs.Format == "cloudevents"
	c.source = f.Outputs.Source
	if c.source == "" {
		c.source = "eddy/" + f.Name
	}
	return c, nil
}

// Name returns the function's name.
func (c *Compiled) Name() string { return c.name }

// Reference returns the function's reference tables, nil if it declares none.
func (c *Compiled) Reference() *reftable.Set { return c.ref }

// RunReference refreshes the reference tables in the background of a running function, each at
// its refresh interval, until ctx is done; pipelines see each new version atomically, from their
// next evaluation on. Without reference tables it just waits for ctx.
func (c *Compiled) RunReference(ctx context.Context) error { return c.ref.Run(ctx) }

// NewPipeline makes a fresh pipeline (no state) for one partition, sharing the compiled rules,
// patterns and decoder configuration.
func (c *Compiled) NewPipeline() (*pipeline.Pipeline, error) {
	b, err := pipeline.New(c.cfg)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	ft := b.Fields()
	for _, p := range c.paths {
		ft.Index(p)
	}
	// The compiled patterns and the decoder hold field indexes: the table must be laid out exactly
	// as when they were compiled.
	if !slices.Equal(ft.Paths(), c.paths) {
		return nil, fmt.Errorf("spec: function %s: field table %q differs from the compiled %q", c.name, ft.Paths(), c.paths)
	}
	if c.rules != nil {
		b.Decide(c.rules.NewEngine())
	}
	if c.early != nil {
		b.DecideEarly(c.early.NewEngine())
	}
	for _, p := range c.patterns {
		b.Match(p.NewMatcher())
	}
	return b.Build(func(paths []string) (pipeline.Decoder, error) {
		if !slices.Equal(paths, c.paths) {
			return nil, fmt.Errorf("decoder compiled for fields %q, pipeline needs %q", c.paths, paths)
		}
		return c.dec.Clone(), nil
	})
}

// Wants reports whether outputs.include lets o through.
func (c *Compiled) Wants(o core.Output) bool {
	switch o.Type() {
	case "window":
		return c.include[0]
	case "decision":
		return c.include[1]
	case "late":
		return c.include[2]
	}
	return true
}

// AppendOutput appends o as outputs.format says (a JSON object of eddy's output contract, or a
// structured-mode CloudEvent wrapping it), without a newline, and reports whether it did: outputs
// that outputs.include leaves out are not written.
func (c *Compiled) AppendOutput(b []byte, o core.Output) ([]byte, bool) {
	if !c.Wants(o) {
		return b, false
	}
	if c.cloudEvent {
		return codec.AppendCloudEvent(b, o, c.source), true
	}
	return o.AppendJSON(b), true
}
