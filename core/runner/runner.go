// Package runner runs one function's processing over batches of one partition each, keeping the
// processing state in a state.Store so that every invocation of a stateless serverless function
// resumes exactly where the last one left off.
//
// For each batch the Runner loads the partition's envelope (state plus last applied offset) in one
// read, skips records already applied, processes the rest, commits the new envelope with a write
// conditional on the revision it loaded, and then emits the outputs. Commit first, emit second: only
// the attempt that won the partition ever emits, so an output id stands for one content whatever the
// interleaving of batches and processing-time ticks (a tick and a batch racing on one partition may
// close the same window with different contents; only the winner's close is ever seen). The commit
// carries its outputs in an outbox: a crash between commit and emit leaves them there, and the next
// invocation of the partition emits them first, so none is lost (sinks drop the repeats by their
// deterministic ids). When two invocations race on one partition, the loser's commit fails, and it
// reloads and processes again on top of the winner's state, so no record is applied twice.
package runner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/state"
)

// Processor is one function's processing state for one partition. The Runner creates a fresh one
// for every attempt, restores it from the stored snapshot, and drops it after committing or
// losing a race, so a Processor need not undo anything.
//
// Processing must be deterministic: the same snapshot and the same records (and batch time) must
// yield the same outputs with the same ids, which is what makes re-emitted outputs duplicates.
type Processor interface {
	// Restore loads a snapshot; nil or empty means fresh state.
	Restore(snapshot []byte) error
	// Process applies a batch whose already-applied records have been removed.
	Process(ctx context.Context, b core.Batch) (core.Result, error)
	// Tick advances processing time with no new records: idle timeouts and scheduled closes of the
	// windows of a quiet stream.
	Tick(ctx context.Context, now time.Time) (core.Result, error)
	// Snapshot encodes the state.
	Snapshot() ([]byte, error)
}

// TickFree is implemented by Processors that can tell their Tick never changes their state nor
// emits anything (no idle timeout, no processing-time timer, no expiry): no tick can then race a
// batch into another result, and the Runner emits the batch's outputs before committing, without
// storing them in the outbox (smaller state writes). Processors without it get the outbox.
type TickFree interface {
	TickFree() bool
}

// Heavier is implemented by Processors that can name what makes their state large; the Runner puts
// it in budget errors.
type Heavier interface {
	// Heaviest returns the key and the window holding the most state.
	Heaviest() (key, window string)
}

// Sink receives outputs. Emit must be idempotent in effect: the same outputs (same ids) may come
// again after a crash or a lost race.
type Sink interface {
	Emit(ctx context.Context, outs []core.Output) error
}

// FailureSink receives the records that could not be processed (the dead-letter output).
type FailureSink interface {
	EmitFailures(ctx context.Context, fs []*core.Failure) error
}

// Config configures a Runner.
type Config struct {
	// Function names the function; it prefixes the state keys and appears in errors.
	Function string
	// Store keeps the state.
	Store *state.Store
	// New makes an empty Processor for a partition.
	New func(partition string) (Processor, error)
	// Sink receives outputs (nil discards them; the Result still has them).
	Sink Sink
	// DeadLetter receives failed records (nil leaves them in the Result only, for the adapter to
	// report to the trigger).
	DeadLetter FailureSink
	// DedupeIDs bounds the set of recent record ids kept to drop redelivered records that have no
	// offset (Pub/Sub). Default 10,000; negative disables.
	DedupeIDs int
	// IdleTTL makes a partition's state expire when no batch has been committed for that long (0:
	// never). Ticks do not extend it.
	IdleTTL time.Duration
	// MaxAttempts bounds how often a batch is retried after losing a race (default 32).
	MaxAttempts int
	// Logger gets debug lines on lost races (default: slog.Default()).
	Logger *slog.Logger
	// Observer, if set, gets an Observation of every Run and Tick (metrics); nil costs nothing.
	Observer Observer
	// FailOnBudget makes a batch whose state would outgrow the store's budget fail with a
	// *BudgetError (the trigger then redelivers it, which fails again until the budget is raised).
	// By default the Runner dead-letters such a batch instead: see BudgetError.
	FailOnBudget bool
}

// Runner runs batches. It is safe for concurrent use, including on the same partition.
type Runner struct {
	cfg Config

	// emitted maps a state key to the revision whose outbox this Runner has emitted, so a warm
	// process does not emit each commit's outputs twice (once after its commit, once on the next
	// load). Losing it costs only duplicates.
	mu      sync.Mutex
	emitted map[string]string
}

// maxEmitted bounds the emitted map; past it the map starts over (a partition then sees its last
// outputs once more).
const maxEmitted = 4096

func (r *Runner) markEmitted(key, rev string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.emitted == nil || len(r.emitted) >= maxEmitted {
		r.emitted = make(map[string]string)
	}
	r.emitted[key] = rev
}

func (r *Runner) wasEmitted(key, rev string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.emitted[key] == rev
}

// flushOutbox emits the outputs of the loaded commit unless this Runner emitted them already: the
// writer may have crashed between its commit and its emit.
// It returns what it emitted: the Result of the invocation carries them too, for adapters that
// deliver outputs from the Result (an Azure output binding) rather than through a Sink, and to
// report the failures of the batch's own records.
func (r *Runner) flushOutbox(ctx context.Context, partition string, l *loaded) ([]core.Output, []*core.Failure, error) {
	if !l.entry.Found || len(l.env.Outbox) == 0 {
		return nil, nil, nil
	}
	key := r.Key(partition)
	if r.wasEmitted(key, l.entry.Rev) {
		return nil, nil, nil
	}
	outs, fs, err := readOutbox(l.env.Outbox)
	if err != nil {
		return nil, nil, fmt.Errorf("runner: function %q partition %q: state key %q: outbox: %w", r.cfg.Function, partition, key, err)
	}
	if err := r.emit(ctx, partition, &core.Result{Outputs: outs, Failures: fs}); err != nil {
		return nil, nil, fmt.Errorf("%w (re-emitting the outputs of the last commit)", err)
	}
	r.markEmitted(key, l.entry.Rev)
	return outs, fs, nil
}

// ownFailures keeps the failures of records of recs: a redelivered batch whose commit's emit
// failed reports its failed records again, as the trigger expects of every delivery.
func ownFailures(fs []*core.Failure, recs []core.Record) []*core.Failure {
	if len(fs) == 0 {
		return nil
	}
	ids := make(map[string]bool, len(recs))
	for i := range recs {
		ids[recs[i].ID] = true
	}
	var own []*core.Failure
	for _, f := range fs {
		if ids[f.Record.ID] {
			own = append(own, f)
		}
	}
	return own
}

// New checks cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	switch {
	case cfg.Function == "":
		return nil, errors.New("runner: Config.Function is empty")
	case cfg.Store == nil:
		return nil, fmt.Errorf("runner: function %q: Config.Store is nil", cfg.Function)
	case cfg.New == nil:
		return nil, fmt.Errorf("runner: function %q: Config.New is nil", cfg.Function)
	}
	if err := state.CheckKey(cfg.Function); err != nil {
		return nil, fmt.Errorf("runner: function name: %w", err)
	}
	if strings.ContainsRune(cfg.Function, '/') {
		// '/' separates the function from the partition in state keys.
		return nil, fmt.Errorf("runner: function name %q: contains '/'", cfg.Function)
	}
	if cfg.DedupeIDs == 0 {
		cfg.DedupeIDs = 10000
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 32
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Runner{cfg: cfg}, nil
}

// Key is the state key of a partition: the function name and the escaped partition id.
func (r *Runner) Key(partition string) string {
	return r.cfg.Function + "/" + url.PathEscape(partition)
}

// BudgetError says a partition's state would outgrow the store's budget, naming the heaviest key and
// window when the Processor can (Heavier).
//
// The policy: by default the batch that would push the state past the budget is dead-lettered whole
// (every record a failure whose reason is this error), and the partition's offsets move past it with
// its state unchanged, so the stream goes on and no record is lost: the dead letters can be replayed
// once the budget is raised or the windows shortened. With Config.FailOnBudget, Run returns this
// error instead and commits nothing.
type BudgetError struct {
	Function  string
	Partition string
	// Key and Window name the processor's heaviest key and window, when it implements Heavier.
	Key, Window string
	Size        int
	Budget      int
}

// Error implements error.
func (e *BudgetError) Error() string {
	s := fmt.Sprintf("function %q partition %q: state of %d bytes exceeds the budget of %d bytes", e.Function, e.Partition, e.Size, e.Budget)
	if e.Key != "" || e.Window != "" {
		s += fmt.Sprintf(" (heaviest: key %q window %q)", e.Key, e.Window)
	}
	return s + "; raise the budget, shorten windows or lateness, or expire idle keys sooner"
}

type loaded struct {
	entry state.Entry
	env   Envelope
	proc  Processor
}

func (r *Runner) load(ctx context.Context, partition string) (*loaded, error) {
	key := r.Key(partition)
	o := probeFrom(ctx)
	t0 := o.start()
	e, err := r.cfg.Store.Get(ctx, key)
	o.loaded(t0, len(e.Value))
	if err != nil {
		return nil, fmt.Errorf("runner: function %q partition %q: load state: %w", r.cfg.Function, partition, err)
	}
	l := &loaded{entry: e}
	if e.Found {
		if err := l.env.Unmarshal(e.Value); err != nil {
			return nil, fmt.Errorf("runner: function %q partition %q: state key %q: %w", r.cfg.Function, partition, key, err)
		}
	}
	p, err := r.cfg.New(partition)
	if err != nil {
		return nil, fmt.Errorf("runner: function %q partition %q: new processor: %w", r.cfg.Function, partition, err)
	}
	if err := p.Restore(l.env.Snapshot); err != nil {
		return nil, fmt.Errorf("runner: function %q partition %q: restore state: %w", r.cfg.Function, partition, err)
	}
	l.proc = p
	return l, nil
}

// filter returns the records not yet applied: those past the stored offset, and those without an
// offset whose id is not among the recent ids (nor earlier in the batch).
func (r *Runner) filter(env *Envelope, recs []core.Record) []core.Record {
	var seen map[string]struct{}
	out := make([]core.Record, 0, len(recs))
	for _, rec := range recs {
		if rec.Offset != "" {
			if core.CompareOffsets(rec.Offset, env.Offset) > 0 {
				out = append(out, rec)
			}
			continue
		}
		if r.cfg.DedupeIDs < 0 || rec.ID == "" {
			out = append(out, rec)
			continue
		}
		if seen == nil {
			seen = make(map[string]struct{}, len(env.IDs)+len(recs))
			for _, id := range env.IDs {
				seen[id] = struct{}{}
			}
		}
		if _, dup := seen[rec.ID]; dup {
			continue
		}
		seen[rec.ID] = struct{}{}
		out = append(out, rec)
	}
	return out
}

// advance records recs as applied in env.
func (r *Runner) advance(env *Envelope, recs []core.Record) {
	for _, rec := range recs {
		if rec.Offset != "" {
			if core.CompareOffsets(rec.Offset, env.Offset) > 0 {
				env.Offset = rec.Offset
			}
		} else if r.cfg.DedupeIDs > 0 && rec.ID != "" {
			env.IDs = append(env.IDs, rec.ID)
		}
	}
	if n := len(env.IDs) - r.cfg.DedupeIDs; r.cfg.DedupeIDs > 0 && n > 0 {
		env.IDs = append([]string(nil), env.IDs[n:]...)
	}
}

// Run processes one batch of one partition: load, skip applied records, process, emit, commit. On
// a lost race it reloads and tries again. The Result's Stats count the whole batch (Records) and
// the records skipped as already applied (Skipped); its Checkpoint is the partition's last applied
// offset after the batch.
//
// Records with offsets must come in partition order from the checkpoint on, as Kinesis and Event
// Hubs deliver them: offsets need not be contiguous (Kinesis sequence numbers are not), so a batch
// that skips ahead of the checkpoint leaves a gap the Runner cannot see.
func (r *Runner) Run(ctx context.Context, b core.Batch) (core.Result, error) {
	if b.Now.IsZero() {
		b.Now = time.Now()
	}
	if r.cfg.Observer != nil {
		return r.observeRun(ctx, b)
	}
	return r.runBatch(ctx, b)
}

func (r *Runner) runBatch(ctx context.Context, b core.Batch) (core.Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := r.runOnce(ctx, b)
		if err == nil || !errors.Is(err, state.ErrConflict) {
			return res, err
		}
		if attempt >= r.cfg.MaxAttempts {
			return core.Result{}, fmt.Errorf("runner: function %q partition %q: still losing races after %d attempts: %w", r.cfg.Function, b.Partition, attempt, err)
		}
		r.cfg.Logger.DebugContext(ctx, "lost a race on the partition state; reloading", "function", r.cfg.Function, "partition", b.Partition, "attempt", attempt)
		if err := backoff(ctx, attempt); err != nil {
			return core.Result{}, err
		}
	}
}

func (r *Runner) runOnce(ctx context.Context, b core.Batch) (core.Result, error) {
	l, err := r.load(ctx, b.Partition)
	if err != nil {
		return core.Result{}, err
	}
	againOuts, again, err := r.flushOutbox(ctx, b.Partition, l)
	if err != nil {
		return core.Result{}, err
	}
	again = ownFailures(again, b.Records)
	fresh := r.filter(&l.env, b.Records)
	stats := core.Stats{Records: len(b.Records), Skipped: len(b.Records) - len(fresh)}
	if len(fresh) == 0 {
		return core.Result{Stats: stats, Checkpoint: l.env.Offset, Outputs: againOuts, Failures: again}, nil
	}
	in := b
	in.Records = fresh
	old := l.env.Snapshot
	res, err := l.proc.Process(ctx, in)
	if err != nil {
		return core.Result{}, fmt.Errorf("runner: function %q partition %q: process: %w", r.cfg.Function, b.Partition, err)
	}
	r.advance(&l.env, fresh)
	l.env.Updated = b.Now
	var exp time.Time
	if r.cfg.IdleTTL > 0 {
		exp = b.Now.Add(r.cfg.IdleTTL)
	}
	tf, ok := l.proc.(TickFree)
	err = r.commitAndEmit(ctx, b.Partition, l, &res, exp, ok && tf.TickFree())
	var be *BudgetError
	if errors.As(err, &be) && !r.cfg.FailOnBudget {
		res, err = r.deadLetterBatch(ctx, b.Partition, l, old, fresh, be, exp)
	}
	if err != nil {
		return core.Result{}, err
	}
	res.Stats.Records, res.Stats.Skipped = stats.Records, stats.Skipped
	res.Checkpoint = l.env.Offset
	res.Failures = append(again, res.Failures...)
	if len(againOuts) > 0 {
		res.Outputs = append(againOuts, res.Outputs...)
	}
	return res, nil
}

// commitAndEmit snapshots, checks the budget, commits conditionally with the outputs in the outbox,
// and emits them only once the commit has won. When the outputs do not fit in the budget beside the
// state, or with early set, it emits them before committing, without an outbox: a crash or a lost
// race then recomputes them on the retry (the protocol of eddy before the outbox; only a tick
// racing the batch can then change what the retry computes).
func (r *Runner) commitAndEmit(ctx context.Context, partition string, l *loaded, res *core.Result, exp time.Time, early ...bool) error {
	snap, err := l.proc.Snapshot()
	if err != nil {
		return fmt.Errorf("runner: function %q partition %q: snapshot: %w", r.cfg.Function, partition, err)
	}
	l.env.Snapshot = snap
	l.env.Outbox = nil
	pre := len(early) > 0 && early[0]
	if !pre && (len(res.Outputs) > 0 || len(res.Failures) > 0) {
		buf := getOutboxBuf()
		*buf = appendOutbox((*buf)[:0], res.Outputs, res.Failures)
		l.env.Outbox = *buf
		defer func() {
			// Marshal copied it into the value.
			l.env.Outbox = nil
			putOutboxBuf(buf)
		}()
	}
	val := l.env.Marshal()
	if bud := r.cfg.Store.Budget(); bud > 0 && len(val) > bud {
		if n := len(l.env.Outbox); n > 0 && len(val)-n-varintLen(n)+1 <= bud {
			l.env.Outbox, pre = nil, true
			val = l.env.Marshal()
		} else {
			return r.budgetError(partition, l.proc, len(val)-n-varintLen(n)+1, bud)
		}
	}
	if pre {
		if err := r.emit(ctx, partition, res); err != nil {
			return err
		}
	}
	o := probeFrom(ctx)
	t0 := o.start()
	rev, err := r.cfg.Store.Put(ctx, r.Key(partition), val, l.entry.Rev, &state.PutOptions{Expires: exp})
	o.committed(t0, len(val), err)
	var be *state.BudgetError
	if errors.As(err, &be) {
		return r.budgetError(partition, l.proc, be.Size, be.Budget)
	}
	if err != nil {
		return fmt.Errorf("runner: function %q partition %q: commit: %w", r.cfg.Function, partition, err)
	}
	if !pre {
		if err := r.emit(ctx, partition, res); err != nil {
			return fmt.Errorf("%w (committed: the next invocation of the partition emits them again)", err)
		}
	}
	r.markEmitted(r.Key(partition), rev)
	return nil
}

func varintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// deadLetterBatch commits the loaded state unchanged (old snapshot) with the offsets past recs, and
// dead-letters every record of recs with the budget error as the reason.
func (r *Runner) deadLetterBatch(ctx context.Context, partition string, l *loaded, old []byte, recs []core.Record, be *BudgetError, exp time.Time) (core.Result, error) {
	r.cfg.Logger.WarnContext(ctx, "state budget exceeded; the batch is dead-lettered and the partition goes on", "function", r.cfg.Function, "partition", partition,
		"key", be.Key, "window", be.Window, "size", be.Size, "budget", be.Budget, "records", len(recs))
	res := core.Result{Failures: make([]*core.Failure, len(recs))}
	reason := "state budget: " + be.Error()
	for i := range recs {
		res.Failures[i] = &core.Failure{Record: recs[i], Reason: reason, Err: be}
	}
	res.Stats.Failed = len(recs)
	l.proc = keep(old)
	// The failures go out before the commit: a retry recomputes them, and they may not fit in the
	// budget beside the state.
	if err := r.commitAndEmit(ctx, partition, l, &res, exp, true); err != nil {
		var again *BudgetError
		if errors.As(err, &again) {
			return core.Result{}, be // the state was over the budget before this batch
		}
		return core.Result{}, err
	}
	return res, nil
}

// keep is a Processor whose snapshot is a given one: the state a dead-lettered batch leaves.
type keep []byte

func (keep) Restore([]byte) error { return nil }
func (keep) Process(context.Context, core.Batch) (core.Result, error) {
	return core.Result{}, nil
}
func (keep) Tick(context.Context, time.Time) (core.Result, error) { return core.Result{}, nil }
func (k keep) Snapshot() ([]byte, error)                          { return k, nil }

func (r *Runner) budgetError(partition string, p Processor, size, budget int) error {
	e := &BudgetError{Function: r.cfg.Function, Partition: partition, Size: size, Budget: budget}
	if h, ok := p.(Heavier); ok {
		e.Key, e.Window = h.Heaviest()
	}
	return e
}

func (r *Runner) emit(ctx context.Context, partition string, res *core.Result) error {
	// The dead-letter envelope names where a record failed; the processor knows neither.
	for _, f := range res.Failures {
		f.Function, f.Partition = r.cfg.Function, partition
	}
	if r.cfg.Sink != nil && len(res.Outputs) > 0 {
		if err := r.cfg.Sink.Emit(ctx, res.Outputs); err != nil {
			return fmt.Errorf("runner: function %q partition %q: emit %d outputs: %w", r.cfg.Function, partition, len(res.Outputs), err)
		}
	}
	for _, f := range res.Failures {
		if f.Function == "" {
			f.Function = r.cfg.Function
		}
		if f.Partition == "" {
			f.Partition = partition
		}
	}
	if r.cfg.DeadLetter != nil && len(res.Failures) > 0 {
		if err := r.cfg.DeadLetter.EmitFailures(ctx, res.Failures); err != nil {
			return fmt.Errorf("runner: function %q partition %q: dead-letter %d records: %w", r.cfg.Function, partition, len(res.Failures), err)
		}
	}
	return nil
}

// Tick advances processing time for one partition from its stored state alone, so a scheduled
// invocation can close the windows of a stream that has gone quiet. A partition with no stored state
// has nothing to close. The state is committed only if the tick changed it, and the tick's outputs
// are emitted only after that commit won: a tick that loses to a batch emits nothing and retries on
// the batch's state.
func (r *Runner) Tick(ctx context.Context, partition string, now time.Time) (core.Result, error) {
	if r.cfg.Observer != nil {
		return r.observeTick(ctx, partition, now)
	}
	return r.tickPartition(ctx, partition, now)
}

func (r *Runner) tickPartition(ctx context.Context, partition string, now time.Time) (core.Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := r.tickOnce(ctx, partition, now)
		if err == nil || !errors.Is(err, state.ErrConflict) {
			return res, err
		}
		if attempt >= r.cfg.MaxAttempts {
			return core.Result{}, fmt.Errorf("runner: function %q partition %q: tick still losing races after %d attempts: %w", r.cfg.Function, partition, attempt, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return core.Result{}, err
		}
	}
}

func (r *Runner) tickOnce(ctx context.Context, partition string, now time.Time) (core.Result, error) {
	l, err := r.load(ctx, partition)
	if err != nil {
		return core.Result{}, err
	}
	if !l.entry.Found {
		return core.Result{Checkpoint: l.env.Offset}, nil
	}
	againOuts, _, err := r.flushOutbox(ctx, partition, l)
	if err != nil {
		return core.Result{}, err
	}
	old := l.env.Snapshot
	res, err := l.proc.Tick(ctx, now)
	if err != nil {
		return core.Result{}, fmt.Errorf("runner: function %q partition %q: tick: %w", r.cfg.Function, partition, err)
	}
	res.Checkpoint = l.env.Offset
	if len(res.Outputs) == 0 && len(res.Failures) == 0 {
		snap, err := l.proc.Snapshot()
		if err != nil {
			return core.Result{}, fmt.Errorf("runner: function %q partition %q: snapshot: %w", r.cfg.Function, partition, err)
		}
		if bytes.Equal(snap, old) {
			res.Outputs = againOuts
			return res, nil
		}
	}
	// The tick keeps the partition's expiry: only records count as activity.
	if err := r.commitAndEmit(ctx, partition, l, &res, l.entry.Expires); err != nil {
		return core.Result{}, err
	}
	if len(againOuts) > 0 {
		res.Outputs = append(againOuts, res.Outputs...)
	}
	return res, nil
}

// TickAll ticks every partition of the function that has stored state, and returns the combined
// result. It stops at the first error.
func (r *Runner) TickAll(ctx context.Context, now time.Time) (core.Result, error) {
	prefix := r.cfg.Function + "/"
	var parts []string
	err := r.cfg.Store.List(ctx, prefix, func(k string) error {
		p, err := url.PathUnescape(k[len(prefix):])
		if err == nil {
			parts = append(parts, p)
		}
		return nil
	})
	if err != nil {
		return core.Result{}, fmt.Errorf("runner: function %q: list partitions: %w", r.cfg.Function, err)
	}
	var all core.Result
	for _, p := range parts {
		res, err := r.Tick(ctx, p, now)
		if err != nil {
			return all, err
		}
		all.Outputs = append(all.Outputs, res.Outputs...)
		all.Failures = append(all.Failures, res.Failures...)
		all.Stats.Add(res.Stats)
	}
	return all, nil
}

// backoff waits a little, with jitter, before the next attempt so racing invocations spread out.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(attempt, 10))*int64(2*time.Millisecond)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
