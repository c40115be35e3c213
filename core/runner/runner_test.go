package runner_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/driver"
	"github.com/eddyhq/eddy/core/state/memstate"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	store *state.Store
	sink  *recorder
	r     *runner.Runner
	procs atomic.Int64
	hook  func()
}

func newEnv(t *testing.T, store *state.Store, mod func(*runner.Config)) *env {
	t.Helper()
	e := &env{store: store, sink: &recorder{}}
	cfg := runner.Config{
		Function:   "count",
		Store:      store,
		Sink:       e.sink,
		DeadLetter: e.sink,
		New: func(p string) (runner.Processor, error) {
			e.procs.Add(1)
			c := newCounter(p)
			c.onProcess = e.hook
			return c, nil
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.r = r
	return e
}

// stored decodes the partition's committed counter state.
func stored(t *testing.T, s *state.Store, partition string) (runner.Envelope, map[string]int64) {
	t.Helper()
	e, err := s.Get(context.Background(), "count/"+partition)
	if err != nil {
		t.Fatal(err)
	}
	var env runner.Envelope
	if !e.Found {
		return env, nil
	}
	if err := env.Unmarshal(e.Value); err != nil {
		t.Fatal(err)
	}
	c := newCounter(partition)
	if err := c.Restore(env.Snapshot); err != nil {
		t.Fatal(err)
	}
	return env, c.counts
}

func TestSkipAppliedOffsets(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, memstate.New(nil), nil)
	res, err := e.r.Run(ctx, core.Batch{Partition: "shard-0", Records: recs("a", 1, 5), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checkpoint != "5" || res.Stats.Records != 5 || res.Stats.Skipped != 0 || len(res.Outputs) != 5 {
		t.Fatalf("first batch: checkpoint %q stats %+v outputs %d", res.Checkpoint, res.Stats, len(res.Outputs))
	}
	// A redelivery overlapping the applied prefix (Kinesis retries the whole batch, or a batch
	// starting before the checkpoint).
	res, err = e.r.Run(ctx, core.Batch{Partition: "shard-0", Records: recs("a", 3, 8), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checkpoint != "8" || res.Stats.Records != 6 || res.Stats.Skipped != 3 || len(res.Outputs) != 3 {
		t.Fatalf("overlapping batch: checkpoint %q stats %+v outputs %d; want checkpoint 8, 3 of 6 skipped", res.Checkpoint, res.Stats, len(res.Outputs))
	}
	// Offsets compare numerically even past 64 bits, as Kinesis sequence numbers do.
	big := []core.Record{{ID: "k1", Offset: "49590338271490256608559692538361571095921575989136588898", Key: "a"}}
	if _, err := e.r.Run(ctx, core.Batch{Partition: "shard-0", Records: big, Now: t0}); err != nil {
		t.Fatal(err)
	}
	res, err = e.r.Run(ctx, core.Batch{Partition: "shard-0", Records: append(recs("a", 9, 9), big...), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Skipped != 2 || len(res.Outputs) != 0 {
		t.Fatalf("records at or below a 56-digit checkpoint: stats %+v, want both skipped", res.Stats)
	}
	env, counts := stored(t, e.store, "shard-0")
	if counts["a"] != 9 || env.Offset != big[0].Offset {
		t.Fatalf("stored count %d offset %q; want 9 and the big offset", counts["a"], env.Offset)
	}
	if want := []string{"shard-0/1", "shard-0/2", "shard-0/3", "shard-0/4", "shard-0/5", "shard-0/6", "shard-0/7", "shard-0/8", "shard-0/" + big[0].Offset}; !reflect.DeepEqual(e.sink.ids(), want) {
		t.Fatalf("emitted ids %q, want %q", e.sink.ids(), want)
	}
}

func TestDedupeByID(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, memstate.New(nil), func(c *runner.Config) { c.DedupeIDs = 3 })
	msg := func(ids ...string) []core.Record {
		var rs []core.Record
		for _, id := range ids {
			rs = append(rs, core.Record{ID: id, Key: "k", Data: []byte("x")})
		}
		return rs
	}
	if _, err := e.r.Run(ctx, core.Batch{Partition: "sub", Records: msg("m1", "m2"), Now: t0}); err != nil {
		t.Fatal(err)
	}
	res, err := e.r.Run(ctx, core.Batch{Partition: "sub", Records: msg("m2", "m3", "m3", "m1"), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Skipped != 3 || len(res.Outputs) != 1 {
		t.Fatalf("redelivered ids: stats %+v outputs %d; want m2, m1 and the second m3 skipped", res.Stats, len(res.Outputs))
	}
	env, counts := stored(t, e.store, "sub")
	if counts["k"] != 3 {
		t.Fatalf("count %d, want 3", counts["k"])
	}
	// The set is bounded: four ids seen, three kept, the oldest forgotten.
	if _, err := e.r.Run(ctx, core.Batch{Partition: "sub", Records: msg("m4"), Now: t0}); err != nil {
		t.Fatal(err)
	}
	env, _ = stored(t, e.store, "sub")
	if want := []string{"m2", "m3", "m4"}; !reflect.DeepEqual(env.IDs, want) {
		t.Fatalf("recent ids %q, want %q", env.IDs, want)
	}
}

func TestConflictReloadsAndRetries(t *testing.T) {
	ctx := context.Background()
	store := memstate.New(nil)
	other := newEnv(t, store, nil)
	e := newEnv(t, store, nil)
	var once atomic.Bool
	// While this invocation processes 1..5, another one commits 1..3 on the same partition.
	e.hook = func() {
		if once.CompareAndSwap(false, true) {
			if _, err := other.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 1, 3), Now: t0}); err != nil {
				t.Error(err)
			}
		}
	}
	res, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 1, 5), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if e.procs.Load() != 2 {
		t.Fatalf("%d processors made, want 2 (one per attempt: the lost race reloads)", e.procs.Load())
	}
	// The retry emits (and returns) the winner's outbox first: this runner cannot know the
	// winner emitted it. Same ids, same content.
	if got := outIDs(t, res.Outputs); res.Stats.Skipped != 3 || !reflect.DeepEqual(got, []string{"p/1", "p/2", "p/3", "p/4", "p/5"}) || res.Checkpoint != "5" {
		t.Fatalf("retried batch: stats %+v outputs %q checkpoint %q; want 1..3 skipped as applied by the winner", res.Stats, got, res.Checkpoint)
	}
	if _, counts := stored(t, store, "p"); counts["a"] != 5 {
		t.Fatalf("count %d after racing invocations over records 1..5, want 5 (each applied once)", counts["a"])
	}
	// The loser's first attempt emitted 1..5 before losing; those duplicates carry the same ids
	// and the same content as the winner's, so a sink dropping duplicate ids sees each once.
	all := append(append([]*countOut{}, other.sink.outs...), e.sink.outs...)
	byID := map[string]countOut{}
	for _, o := range all {
		if prev, ok := byID[o.ID]; ok && prev != *o {
			t.Fatalf("output %s emitted as %+v and as %+v", o.ID, prev, *o)
		}
		byID[o.ID] = *o
	}
	if len(byID) != 5 {
		t.Fatalf("%d distinct output ids, want 5", len(byID))
	}
}

// tracer is a driver that logs writes, to check the order of emits and commits.
type tracer struct {
	driver.Store
	trace *[]string
}

func (d tracer) Put(ctx context.Context, key string, v []byte, rev string, exp time.Time) (string, error) {
	*d.trace = append(*d.trace, "commit")
	return d.Store.Put(ctx, key, v, rev, exp)
}

// TestCommitThenEmit: only a committed attempt emits, and a commit whose emit failed is emitted by
// the next invocation from the outbox.
func TestCommitThenEmit(t *testing.T) {
	ctx := context.Background()
	var trace []string
	store := state.NewStore(tracer{memstate.NewDriver(0), &trace}, nil)
	e := newEnv(t, store, nil)
	e.sink.trace = &trace
	if _, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 1, 3), Now: t0}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"commit", "emit"}; !reflect.DeepEqual(trace, want) {
		t.Fatalf("trace %q, want %q", trace, want)
	}
	// A failing sink fails the batch after its commit; the redelivered batch is applied already,
	// and its outputs come from the committed outbox.
	e.sink.fail = errors.New("sink down")
	_, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 4, 5), Now: t0})
	if err == nil || !strings.Contains(err.Error(), "sink down") || !strings.Contains(err.Error(), `partition "p"`) {
		t.Fatalf("Run with a failing sink: %v", err)
	}
	if env, counts := stored(t, store, "p"); env.Offset != "5" || counts["a"] != 5 {
		t.Fatalf("after a failed emit: offset %q count %d, want 5 and 5 (committed, outputs in the outbox)", env.Offset, counts["a"])
	}
	e.sink.fail = nil
	if res, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 4, 5), Now: t0}); err != nil || res.Stats.Skipped != 2 {
		t.Fatalf("redelivery: %v %+v, want both records skipped", err, res)
	}
	if want := []string{"p/1", "p/2", "p/3", "p/4", "p/5"}; !reflect.DeepEqual(e.sink.ids(), want) {
		t.Fatalf("ids %q, want %q", e.sink.ids(), want)
	}
	// A processor error fails the batch and commits nothing.
	bad := recs("a", 6, 6)
	bad[0].Data = []byte("boom")
	if _, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: bad, Now: t0}); err == nil || !strings.Contains(err.Error(), "exploded") {
		t.Fatalf("Run with a failing processor: %v", err)
	}
	if env, _ := stored(t, store, "p"); env.Offset != "5" {
		t.Fatalf("offset %q after a processor error, want 5", env.Offset)
	}
}

func TestFailuresGoToDeadLetterAndCountAsApplied(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, memstate.New(nil), nil)
	rs := recs("a", 1, 4)
	rs[1].Data = []byte("bad")
	res, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: rs, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) != 1 || len(e.sink.failures) != 1 || e.sink.failures[0].Record.ID != "id-2" {
		t.Fatalf("failures %v, dead-lettered %v; want record id-2", res.Failures, e.sink.failures)
	}
	// The dead-letter envelope names the function and the partition (the wire contract).
	if f := e.sink.failures[0]; f.Function != "count" || f.Partition != "p" {
		t.Fatalf("dead letter function %q partition %q; want the runner's function and partition p", f.Function, f.Partition)
	}
	res, err = e.r.Run(ctx, core.Batch{Partition: "p", Records: rs, Now: t0})
	if err != nil || res.Stats.Skipped != 4 || len(e.sink.failures) != 1 {
		t.Fatalf("replay: %v stats %+v dead-lettered %d; the bad record is applied (dead-lettered once)", err, res.Stats, len(e.sink.failures))
	}
}

func TestTickFromStoredStateOnly(t *testing.T) {
	ctx := context.Background()
	d := memstate.NewDriver(0)
	e := newEnv(t, state.NewStore(d, nil), nil)
	if _, err := e.r.Run(ctx, core.Batch{Partition: "p0", Records: append(recs("a", 1, 2), recs("b", 3, 3)...), Now: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.Run(ctx, core.Batch{Partition: "p/1", Records: recs("c", 1, 1), Now: t0}); err != nil {
		t.Fatal(err)
	}
	// A scheduled invocation: a new process (new Runner, new Store) with no records at all.
	s2 := state.NewStore(d, nil)
	sched := newEnv(t, s2, nil)
	res, err := sched.r.Tick(ctx, "p0", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := outIDs(t, res.Outputs)
	// A new process cannot know whether the last commit's outputs reached the sink: it emits
	// them again (same ids, same content) before the tick's own, and returns them too.
	if want := []string{"p0/1", "p0/2", "p0/3", "closed/a/2", "closed/b/1"}; !reflect.DeepEqual(got, want) || !reflect.DeepEqual(sched.sink.ids(), want) {
		t.Fatalf("tick outputs %q, emitted %q; want %q", got, sched.sink.ids(), want)
	}
	// The close was committed: the next tick has nothing to do and writes nothing.
	w := s2.Stats().Writes
	res, err = sched.r.Tick(ctx, "p0", t0.Add(2*time.Hour))
	if err != nil || len(res.Outputs) != 0 || s2.Stats().Writes != w {
		t.Fatalf("second tick: %v, %d outputs, %d writes; want nothing", err, len(res.Outputs), s2.Stats().Writes-w)
	}
	if res.Checkpoint != "3" {
		t.Fatalf("tick checkpoint %q, want the stored 3", res.Checkpoint)
	}
	// A partition never seen has nothing to close.
	res, err = sched.r.Tick(ctx, "never", t0)
	if err != nil || len(res.Outputs) != 0 {
		t.Fatalf("tick of an unknown partition: %v, %d outputs", err, len(res.Outputs))
	}
	// TickAll finds the other partition (its id has a '/', escaped in the key) by listing.
	res, err = sched.r.TickAll(ctx, t0.Add(3*time.Hour))
	if got := outIDs(t, res.Outputs); err != nil || !reflect.DeepEqual(got, []string{"p/1/1", "closed/c/1"}) {
		t.Fatalf("TickAll: %v %v; want p/1/1 (the outbox of the last commit) and closed/c/1", err, got)
	}
}

func TestBudgetErrorNamesEverything(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, memstate.New(&state.Options{Budget: 64}), func(c *runner.Config) { c.FailOnBudget = true })
	rs := append(recs("small", 1, 1), recs("sensor-0042", 2, 30)...)
	_, err := e.r.Run(ctx, core.Batch{Partition: "shard-7", Records: append(rs, recs("zz-key-with-long-name-to-grow-the-state", 31, 31)...), Now: t0})
	var be *runner.BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("error %v, want *runner.BudgetError", err)
	}
	msg := err.Error()
	for _, want := range []string{`function "count"`, `partition "shard-7"`, `key "sensor-0042"`, `window "global"`, "budget of 64 bytes"} {
		if !strings.Contains(msg, want) {
			t.Errorf("budget error %q lacks %s", msg, want)
		}
	}
	if len(e.sink.outs) != 0 {
		t.Fatalf("%d outputs emitted for a batch whose state cannot be committed, want 0", len(e.sink.outs))
	}
	if env, _ := stored(t, e.store, "shard-7"); env.Offset != "" {
		t.Fatal("state committed despite the budget")
	}
}

// TestBudgetDeadLettersTheBatch: by default a batch that would outgrow the budget is dead-lettered
// whole, each record with the reason naming the heaviest key and window; the offsets move past it
// with the state unchanged, and the partition goes on (it used to fail the batch, redelivered
// forever).
func TestBudgetDeadLettersTheBatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, memstate.New(&state.Options{Budget: 40}), nil)
	if _, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 1, 2), Now: t0}); err != nil {
		t.Fatal(err)
	}
	big := recs("sensor-0042-with-a-long-name-that-grows-the-state", 3, 12)
	res, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: big, Now: t0})
	if err != nil {
		t.Fatalf("an over-budget batch failed: %v (redelivered forever)", err)
	}
	if len(res.Failures) != 10 || len(e.sink.failures) != 10 || res.Checkpoint != "12" {
		t.Fatalf("failures %d, dead-lettered %d, checkpoint %q; want all 10 records dead-lettered, checkpoint 12", len(res.Failures), len(e.sink.failures), res.Checkpoint)
	}
	for _, want := range []string{"state budget", `key "sensor-0042`, `window "global"`, "budget of 40 bytes"} {
		if !strings.Contains(e.sink.failures[0].Reason, want) {
			t.Errorf("dead-letter reason %q lacks %s", e.sink.failures[0].Reason, want)
		}
	}
	env, counts := stored(t, e.store, "p")
	if env.Offset != "12" || counts["a"] != 2 || len(counts) != 1 {
		t.Fatalf("after the dead-lettered batch: offset %q counts %v; want 12 and the state before it", env.Offset, counts)
	}
	if _, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 13, 13), Now: t0}); err != nil {
		t.Fatal(err)
	}
	if _, counts := stored(t, e.store, "p"); counts["a"] != 3 {
		t.Fatalf("the partition did not go on: %v", counts)
	}
}

func TestIdleTTL(t *testing.T) {
	ctx := context.Background()
	now := t0
	store := memstate.New(&state.Options{Now: func() time.Time { return now }})
	e := newEnv(t, store, func(c *runner.Config) { c.IdleTTL = time.Hour })
	if _, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 1, 2), Now: t0}); err != nil {
		t.Fatal(err)
	}
	// A tick half an hour later closes the key but does not keep the partition alive.
	now = t0.Add(30 * time.Minute)
	if res, err := e.r.Tick(ctx, "p", now); err != nil || len(res.Outputs) != 1 {
		t.Fatalf("tick: %v %v", err, res.Outputs)
	}
	now = t0.Add(61 * time.Minute)
	if env, counts := stored(t, store, "p"); env.Offset != "" || counts != nil {
		t.Fatalf("state after the idle TTL: offset %q counts %v, want expired", env.Offset, counts)
	}
	// The partition starts afresh (the same offsets are new to it).
	res, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 1, 1), Now: now})
	if err != nil || res.Stats.Skipped != 0 {
		t.Fatalf("run after expiry: %v %+v", err, res.Stats)
	}
	if _, counts := stored(t, store, "p"); counts["a"] != 1 {
		t.Fatalf("count after expiry %d, want 1", counts["a"])
	}
}

func TestConfigErrors(t *testing.T) {
	s := memstate.New(nil)
	nw := func(string) (runner.Processor, error) { return newCounter(""), nil }
	for _, c := range []runner.Config{
		{Store: s, New: nw},
		{Function: "f", New: nw},
		{Function: "f", Store: s},
		{Function: "a/b", Store: s, New: nw},
		{Function: "a#b", Store: s, New: nw},
	} {
		if _, err := runner.New(c); err == nil {
			t.Errorf("New(%+v) succeeded", c)
		}
	}
}

func TestCorruptEnvelopeIsAnError(t *testing.T) {
	ctx := context.Background()
	s := memstate.New(nil)
	if _, err := s.Put(ctx, "count/p", []byte{9, 1, 2}, "", nil); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, s, nil)
	_, err := e.r.Run(ctx, core.Batch{Partition: "p", Records: recs("a", 1, 1), Now: t0})
	if !errors.Is(err, runner.ErrEnvelope) || !strings.Contains(err.Error(), "version 9") || !strings.Contains(err.Error(), `"count/p"`) {
		t.Fatalf("error %v, want a bad-envelope error naming the key and the version", err)
	}
}

// golden is an envelope written by format version 1; it must stay readable by every later release.
const golden = "01023432a09494caca3302026d31026d32613d350a"

func TestEnvelopeGoldenV1(t *testing.T) {
	b, _ := hex.DecodeString(golden)
	var env runner.Envelope
	if err := env.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	want := runner.Envelope{Offset: "42", Updated: time.UnixMilli(1772366400032).UTC(), IDs: []string{"m1", "m2"}, Snapshot: []byte("a=5\n")}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("golden v1 decoded to %+v, want %+v", env, want)
	}
	// Version 2 adds the outbox: an empty one is one zero byte before the snapshot. Version 3
	// changes only the outbox's layout.
	const golden3 = "03023432a09494caca3302026d31026d3200613d350a"
	if got := hex.EncodeToString(want.Marshal()); got != golden3 {
		t.Fatalf("Marshal = %s, want %s (a format change needs a new version)", got, golden3)
	}
	var v3 runner.Envelope
	if err := v3.Unmarshal(want.Marshal()); err != nil || !reflect.DeepEqual(v3, want) {
		t.Fatalf("v3 round trip: %v %+v", err, v3)
	}
	var v2 runner.Envelope
	b2, _ := hex.DecodeString("02" + golden3[2:])
	if err := v2.Unmarshal(b2); err != nil || !reflect.DeepEqual(v2, want) {
		t.Fatalf("v2 decoded to %v %+v", err, v2)
	}
}

func FuzzEnvelope(f *testing.F) {
	b, _ := hex.DecodeString(golden)
	f.Add(b)
	f.Add([]byte{1, 0, 0, 0})
	f.Add([]byte{1, 0xff, 0xff, 0xff})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		var env runner.Envelope
		if err := env.Unmarshal(b); err != nil {
			if !errors.Is(err, runner.ErrEnvelope) {
				t.Fatalf("error %v does not match ErrEnvelope", err)
			}
			return
		}
		var again runner.Envelope
		if err := again.Unmarshal(env.Marshal()); err != nil {
			t.Fatalf("re-decoding a re-encoded envelope: %v", err)
		}
		if fmt.Sprint(again) != fmt.Sprint(env) {
			t.Fatalf("round trip changed %+v to %+v", env, again)
		}
	})
}

// outIDs returns the ids of counter outputs, decoding those re-emitted from an outbox.
func outIDs(t *testing.T, outs []core.Output) []string {
	t.Helper()
	ids := []string{}
	for _, o := range outs {
		if raw, ok := o.(*runner.RawOutput); ok {
			var c countOut
			if err := json.Unmarshal(raw.JSON, &c); err != nil {
				t.Fatal(err)
			}
			o = &c
		}
		ids = append(ids, o.(*countOut).ID)
	}
	return ids
}
