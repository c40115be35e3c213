// Package pipeline runs one function over the batches of one partition: decode → key → time →
// window → aggregate → decisions, with one watermark per partition. It knows events and time, not
// clouds or stores: package runner wraps it with state and delivery guarantees.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/reftable"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/internal/aggregate"
	"github.com/eddyhq/eddy/internal/window"
)

// Decoder turns a record into an event; codec.Decoder is the standard one. It returns a
// *core.Failure for a record it cannot decode.
type Decoder interface {
	Decode(partition string, rec *core.Record, now time.Time, ev *core.Event) error
}

// Decider draws decisions from window results: a rule.Engine (CEL rules, thresholds, anomaly
// detectors, and the user's rule.Handlers). Its per-key state survives between invocations through
// the snapshot methods.
type Decider interface {
	rule.Handler
	AppendBinary(b []byte) ([]byte, error)
	UnmarshalBinary(b []byte) error
}

// Matcher finds temporal patterns in events (a pattern.Matcher). Add returns the late-output entry
// for an event that came too late to be matched; Advance releases the events the watermark passed.
type Matcher interface {
	Add(ev *core.Event) (*core.Late, error)
	Advance(wm time.Time, emit func(*core.Decision))
	Tick(now time.Time, emit func(*core.Decision))
	AppendBinary(b []byte) ([]byte, error)
	UnmarshalBinary(b []byte) error
}

// Config describes a pipeline.
type Config struct {
	// Function names the function in outputs and decision ids.
	Function string
	// Window and Aggregates define the window results; leave Aggregates empty for a pattern-only
	// function.
	Window     window.Spec
	Time       window.Time
	Aggregates []aggregate.Spec
	// Reference are the reference tables where conditions may read (nil: none).
	Reference *reftable.Set
	// MaxFuture dead-letters an event whose time is more than this ahead of its batch's processing
	// time (Batch.Now), so a wrong clock cannot push the watermark past every other event. Zero
	// accepts any time.
	MaxFuture time.Duration
	// MaxKeys bounds the keys whose window state a partition holds (0: no bound). At the bound, an
	// event of a key with no state is dead-lettered with the reason, and counted as failed; keys
	// already held go on, and room comes back as their windows close.
	MaxKeys int
	// Logger gets a warning for each rule evaluation that fails (default slog.Default()).
	Logger *slog.Logger
}

// Pipeline is one function's processing state for one partition. Not safe for concurrent use.
type Pipeline struct {
	fn       string
	fields   core.FieldTable
	plan     *aggregate.Plan
	op       *window.Operator
	dec      Decoder
	newDec   func(paths []string) (Decoder, error)
	deciders []Decider
	// early[i] is set when deciders[i] sees early window results too.
	early    []bool
	matchers []Matcher
	ooo      int64
	idle     time.Duration
	log      *slog.Logger
	future   time.Duration
	maxKeys  int
	now      time.Time

	maxTs       int64
	seen        bool
	lastArrival time.Time
	// shared: the watermark moves only through AdvanceTo (a replay split by key, see AddShared).
	shared bool
	// stage is what is emitting now (see Stage).
	stage int

	ev  core.Event
	err error
	// The batch being run: where window results and decisions go.
	ctx     context.Context
	res     *core.Result
	emit    func(core.Output)
	onWin   window.Emit
	onMatch func(*core.Decision)
}

// Builder assembles a pipeline: New compiles the windows and aggregates (registering the fields
// they read), then deciders and matchers are added (registering theirs), then Build makes the
// decoder for every registered field.
type Builder struct {
	p *Pipeline
}

// New starts a pipeline from cfg.
func New(cfg Config) (*Builder, error) {
	if cfg.Function == "" {
		return nil, fmt.Errorf("pipeline: function name is missing")
	}
	p := &Pipeline{fn: cfg.Function, ooo: int64(cfg.Time.OutOfOrder), idle: cfg.Time.IdleTimeout, log: cfg.Logger, future: cfg.MaxFuture, maxKeys: cfg.MaxKeys}
	if p.log == nil {
		p.log = slog.Default()
	}
	if err := cfg.Time.Validate(); err != nil {
		return nil, fmt.Errorf("function %s: %w", cfg.Function, err)
	}
	if len(cfg.Aggregates) > 0 {
		plan, err := aggregate.CompileRef(cfg.Aggregates, &p.fields, cfg.Reference)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", cfg.Function, err)
		}
		op, err := window.New(cfg.Function, cfg.Window, cfg.Time, plan)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", cfg.Function, err)
		}
		p.plan, p.op = plan, op
	}
	return &Builder{p: p}, nil
}

// Fields is the field table deciders and matchers register their fields in.
func (b *Builder) Fields() *core.FieldTable { return &b.p.fields }

// Decide adds deciders, run in order on every window result except early ones (see window.Early):
// decisions then do not flap with speculative values.
func (b *Builder) Decide(d ...Decider) *Builder {
	for range d {
		b.p.early = append(b.p.early, false)
	}
	b.p.deciders = append(b.p.deciders, d...)
	return b
}

// DecideEarly adds deciders, run in order with those of Decide, that see early window results
// too (marked Early, before the final one of their window).
func (b *Builder) DecideEarly(d ...Decider) *Builder {
	for range d {
		b.p.early = append(b.p.early, true)
	}
	b.p.deciders = append(b.p.deciders, d...)
	return b
}

// Match adds pattern matchers.
func (b *Builder) Match(m ...Matcher) *Builder {
	b.p.matchers = append(b.p.matchers, m...)
	return b
}

// Build makes the decoder for the registered fields and returns the pipeline.
func (b *Builder) Build(newDecoder func(paths []string) (Decoder, error)) (*Pipeline, error) {
	dec, err := newDecoder(b.p.fields.Paths())
	if err != nil {
		return nil, fmt.Errorf("function %s: decoder: %w", b.p.fn, err)
	}
	b.p.dec, b.p.newDec = dec, newDecoder
	b.p.onWin = b.p.onWindow
	b.p.onMatch = b.p.onDecision
	if b.p.op == nil && len(b.p.matchers) == 0 {
		return nil, fmt.Errorf("function %s: neither aggregates nor patterns: nothing to compute", b.p.fn)
	}
	return b.p, nil
}

// Function returns the function's name.
func (p *Pipeline) Function() string { return p.fn }

// OutOfOrder is how far behind the greatest event time the watermark stays.
func (p *Pipeline) OutOfOrder() time.Duration { return time.Duration(p.ooo) }

// Fields returns the field table, for tools that decode events themselves.
func (p *Pipeline) Fields() *core.FieldTable { return &p.fields }

// Watermark returns the partition's watermark (zero before the first event).
func (p *Pipeline) Watermark() time.Time {
	if !p.seen {
		return time.Time{}
	}
	return time.Unix(0, p.maxTs-p.ooo).UTC()
}

// Run processes a batch, handing each output to emit as it is produced (window results and
// decisions are reused after emit returns: clone them to keep them). The result carries the
// failures and counts, not the outputs.
func (p *Pipeline) Run(ctx context.Context, b core.Batch, emit func(core.Output)) (core.Result, error) {
	return p.run(ctx, b, nil, emit)
}

// NewDecoder returns a decoder of the pipeline's records, independent of the pipeline's own: for a
// goroutine that decodes the next batch while the pipeline processes this one (see RunDecoded).
func (p *Pipeline) NewDecoder() (Decoder, error) {
	return p.newDec(p.fields.Paths())
}

// Decoded is a record decoded ahead of the pipeline by a decoder from NewDecoder.
type Decoded struct {
	// Event is the decoded event when Err is nil. Its storage is the caller's to reuse once the
	// batch is processed.
	Event core.Event
	// Err is what the decoder returned: a *core.Failure for a record that cannot be decoded.
	Err error
}

// RunDecoded is Run for a batch whose records another goroutine already decoded: dec[i] holds
// b.Records[i] decoded by a decoder from NewDecoder with the same partition and b.Now. The
// outputs are those of Run, byte for byte; only the decoding moves to the other goroutine.
func (p *Pipeline) RunDecoded(ctx context.Context, b core.Batch, dec []Decoded, emit func(core.Output)) (core.Result, error) {
	if len(dec) != len(b.Records) {
		return core.Result{}, fmt.Errorf("function %s: %d decoded records for a batch of %d", p.fn, len(dec), len(b.Records))
	}
	return p.run(ctx, b, dec, emit)
}

// run processes b, decoding each record unless dec holds it decoded.
func (p *Pipeline) run(ctx context.Context, b core.Batch, dec []Decoded, emit func(core.Output)) (core.Result, error) {
	var res core.Result
	p.begin(ctx, &res, emit)
	defer p.end()
	p.now = b.Now
	res.Stats.Records = len(b.Records)
	for i := range b.Records {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		rec := &b.Records[i]
		var err error
		if dec != nil {
			err = p.addDecoded(rec, &dec[i].Event, dec[i].Err)
		} else {
			err = p.add(b.Partition, rec, b.Now)
		}
		if err != nil {
			return res, err
		}
		res.Checkpoint = rec.Offset
	}
	if len(b.Records) > 0 {
		p.lastArrival = b.Now
	}
	if p.op != nil {
		// Early firings by processing time go by the batch's time, once per batch.
		p.op.FireEarly(b.Now, p.onWin)
		if err := p.takeErr(); err != nil {
			return res, err
		}
	}
	res.Watermark = p.Watermark()
	return res, nil
}

func (p *Pipeline) add(partition string, rec *core.Record, now time.Time) error {
	return p.addDecoded(rec, &p.ev, p.dec.Decode(partition, rec, now, &p.ev))
}

// addDecoded processes rec, which decoded to ev or failed with err.
func (p *Pipeline) addDecoded(rec *core.Record, ev *core.Event, err error) error {
	res := p.res
	if err != nil {
		f, ok := err.(*core.Failure)
		if !ok {
			f = &core.Failure{Record: *rec, Reason: err.Error(), Err: err}
		}
		res.Failures = append(res.Failures, f)
		res.Stats.Failed++
		return nil
	}
	if p.plan != nil {
		if field, reason := p.plan.Check(ev); field != "" {
			res.Failures = append(res.Failures, &core.Failure{Record: *rec, Field: field, Reason: reason})
			res.Stats.Failed++
			return nil
		}
	}
	if p.future > 0 && !p.now.IsZero() && ev.Time.Sub(p.now) > p.future {
		res.Failures = append(res.Failures, &core.Failure{Record: *rec, Field: "time", Reason: fmt.Sprintf(
			"event time %s is %s ahead of the processing time %s, more than max_future %s allows (a wrong clock or time unit? raise input.max_future if such times are right)",
			ev.Time.UTC().Format(core.TimeLayout), ev.Time.Sub(p.now).Round(time.Millisecond), p.now.UTC().Format(core.TimeLayout), p.future)})
		res.Stats.Failed++
		return nil
	}
	// Checked only at the bound, so it costs nothing per event below it.
	if p.maxKeys > 0 && p.op != nil && p.op.Keys() >= p.maxKeys && !p.op.HasKey(ev.Key) {
		// The event moves the watermark first (as it would after its windows took it): windows it
		// closes may free room.
		if t := ev.Time.UnixNano(); !p.seen || t > p.maxTs {
			p.maxTs, p.seen = t, true
			if err := p.advance(p.Watermark()); err != nil {
				return err
			}
		}
	}
	if p.maxKeys > 0 && p.op != nil && p.op.Keys() >= p.maxKeys && !p.op.HasKey(ev.Key) {
		res.Failures = append(res.Failures, &core.Failure{Record: *rec, Field: "key", Reason: fmt.Sprintf(
			"key %q is new and the partition already holds the %d keys limits.max_keys allows (its events are dead-lettered until windows close and free room)", ev.Key, p.maxKeys)})
		res.Stats.Failed++
		return nil
	}
	res.Stats.Events++
	var late *core.Late
	if p.op != nil && p.op.Add(ev, p.onWin) {
		late = &core.Late{
			Function: p.fn, Key: ev.Key, Time: ev.Time, Watermark: p.Watermark(), ID: ev.ID, Pos: ev.Pos,
			Data:   ev.Data,
			Reason: fmt.Sprintf("event time %s is past the allowed lateness: its windows closed at watermark %s", ev.Time.UTC().Format(core.TimeLayout), p.Watermark().Format(core.TimeLayout)),
		}
	}
	for _, m := range p.matchers {
		l, err := m.Add(ev)
		if err != nil {
			return fmt.Errorf("function %s: record %s: %w", p.fn, rec.ID, err)
		}
		if late == nil && l != nil {
			l.Function = p.fn
			late = l
		}
	}
	if late != nil {
		res.Stats.Late++
		p.emit(late)
	}
	if t := ev.Time.UnixNano(); !p.shared && (!p.seen || t > p.maxTs) {
		p.maxTs, p.seen = t, true
		return p.advance(p.Watermark())
	}
	return nil
}

func (p *Pipeline) onWindow(r *core.WindowResult) {
	p.res.Stats.Windows++
	p.emit(r)
	for i, d := range p.deciders {
		if r.Early && !p.early[i] {
			continue
		}
		if err := d.Decide(p.ctx, r, p.onMatch); err != nil {
			p.decideFailed(r, err)
		}
	}
}

// decideFailed turns each rule evaluation error into a failure of that rule on that window: counted,
// logged and dead-lettered, while the stream goes on. Other errors (a user handler's) fail the batch.
func (p *Pipeline) decideFailed(r *core.WindowResult, err error) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, err := range errs {
		var ee *rule.EvalError
		if !errors.As(err, &ee) {
			if p.err == nil {
				p.err = fmt.Errorf("function %s: decide on key %s window %s: %w", p.fn, r.Key, r.End.Format(core.TimeLayout), err)
			}
			continue
		}
		start, end := r.Start.UTC().Format(core.TimeLayout), r.End.UTC().Format(core.TimeLayout)
		p.res.Stats.RuleErrors++
		p.log.WarnContext(p.ctx, "rule evaluation failed; the window's decision is skipped and dead-lettered",
			"function", p.fn, "rule", ee.Rule, "key", r.Key, "window_start", start, "window_end", end, "revision", r.Revision, "error", ee.Err)
		p.res.Failures = append(p.res.Failures, &core.Failure{
			// A deterministic id, so a retried batch dead-letters the same failure.
			Record: core.Record{ID: fmt.Sprintf("rule/%s/%s/%s/%s/%d", p.fn, ee.Rule, r.Key, end, r.Revision), Key: r.Key},
			Field:  "rules." + ee.Rule,
			Reason: fmt.Sprintf("rule %q failed on key %q window [%s, %s) revision %d: %v", ee.Rule, r.Key, start, end, r.Revision, ee.Err),
			Err:    ee,
		})
	}
}

func (p *Pipeline) onDecision(d *core.Decision) {
	p.res.Stats.Decisions++
	p.emit(d)
}

func (p *Pipeline) advance(wm time.Time) error {
	p.stage = StageWindows
	if p.op != nil {
		p.op.Advance(wm, p.onWin)
	}
	for i, m := range p.matchers {
		p.stage = StagePatterns + i
		m.Advance(wm, p.onMatch)
	}
	p.stage = StageAdd
	return p.takeErr()
}

// Stages of a pipeline's work, as Stage reports them.
const (
	// StageAdd: adding a record (late events, windows re-emitted because of a late event, count
	// windows).
	StageAdd = 0
	// StageWindows: the watermark moved and windows fire, in order of end time, then key; each
	// window result is followed by the decisions drawn from it.
	StageWindows = 1
	// StagePatterns is the first pattern matcher releasing the events the watermark passed;
	// StagePatterns+i is matcher i. Its decisions come in order of decision time.
	StagePatterns = 2
)

// Stage tells, from inside an emit callback, which part of the pipeline's work is emitting (StageAdd,
// StageWindows, StagePatterns+i). A caller that interleaves the outputs of several pipelines, each
// owning some of a partition's keys, uses it to put them in the order one pipeline would have.
func (p *Pipeline) Stage() int { return p.stage }

// AddShared processes one record decoded ahead (dec from a decoder of NewDecoder) in a partition
// whose keys are split over several pipelines (a replay on many cores): unlike RunDecoded it
// leaves the watermark where it is, since the greatest event time is the whole partition's, which
// the caller passes to AdvanceTo before each record. The record's failure, if any, and counts go
// to res.
func (p *Pipeline) AddShared(ctx context.Context, res *core.Result, rec *core.Record, dec *Decoded, emit func(core.Output)) error {
	p.shared = true
	p.begin(ctx, res, emit)
	res.Stats.Records++
	err := p.addDecoded(rec, &dec.Event, dec.Err)
	p.end() // a call, not a defer: this runs per event, and what begin set matters only until the next begin
	return err
}

// AdvanceTo raises the greatest event time seen to maxTs (Unix nanoseconds) when that is later and
// fires what the watermark then passes. With AddShared, it makes each of the pipelines that share a
// partition's keys see the watermark the partition's single pipeline would see.
func (p *Pipeline) AdvanceTo(ctx context.Context, res *core.Result, maxTs int64, emit func(core.Output)) error {
	if p.seen && maxTs <= p.maxTs {
		return nil
	}
	p.maxTs, p.seen = maxTs, true
	p.begin(ctx, res, emit)
	err := p.advance(p.Watermark())
	p.end()
	return err
}

// begin points outputs of the coming work at res and emit.
func (p *Pipeline) begin(ctx context.Context, res *core.Result, emit func(core.Output)) {
	p.ctx, p.res, p.emit = ctx, res, emit
}

// end drops what begin set, so that nothing of one call is kept alive until the next.
func (p *Pipeline) end() {
	p.ctx, p.res, p.emit = nil, nil, nil
}

// Tick is a processing-time invocation with no records: when the partition has been idle for the
// idle timeout, the watermark moves to now minus the out-of-orderness, closing the windows of a quiet
// stream; global windows emit their running values.
func (p *Pipeline) TickFunc(ctx context.Context, now time.Time, emit func(core.Output)) (core.Result, error) {
	var res core.Result
	p.begin(ctx, &res, emit)
	defer p.end()
	if p.idle > 0 && p.seen && now.Sub(p.lastArrival) >= p.idle {
		if t := now.UnixNano(); t > p.maxTs {
			p.maxTs = t
		}
		if err := p.advance(p.Watermark()); err != nil {
			return res, err
		}
	}
	if p.op != nil {
		// A tick is a batch without records: early firings by processing time go by its time,
		// so a quiet key's open window still speaks.
		p.op.FireEarly(now, p.onWin)
		p.op.EmitGlobal(p.onWin)
	}
	for _, d := range p.deciders {
		// Deciders that keep per-key state drop the keys idle past their TTL in event time
		// (resolving open alarms first).
		if e, ok := d.(interface {
			Expire(now time.Time, emit rule.Emit) int
		}); ok && p.seen {
			e.Expire(p.Watermark(), p.onMatch)
		}
	}
	for _, m := range p.matchers {
		m.Tick(now, p.onMatch)
	}
	res.Watermark = p.Watermark()
	return res, p.takeErr()
}

func (p *Pipeline) takeErr() error {
	err := p.err
	p.err = nil
	return err
}

// Flush ends the stream (a replay's last step): every window fires and closes, every pending
// pattern is resolved.
func (p *Pipeline) Flush(ctx context.Context, emit func(core.Output)) (core.Result, error) {
	var res core.Result
	p.begin(ctx, &res, emit)
	defer p.end()
	p.stage = StageWindows
	if p.op != nil {
		p.op.Flush(p.onWin)
	}
	end := time.Unix(0, 1<<63-1).UTC()
	for i, m := range p.matchers {
		p.stage = StagePatterns + i
		m.Advance(end, p.onMatch)
	}
	p.stage = StageAdd
	res.Watermark = p.Watermark()
	return res, p.takeErr()
}
