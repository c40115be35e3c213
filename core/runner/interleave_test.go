package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/driver"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// interleaveSpec closes a tumbling window either by the watermark of a batch (with the batch's
// events in it, so the rule fires) or by an idle tick (without them, so the batch's events come
// late): two different contents for the same window id, depending on who commits first.
const interleaveSpec = `
name: tw
input: {key: key, time: ts, time_format: unix_ms}
window: {tumbling: 10s, idle_timeout: 1m}
aggregates:
  - {name: n, count: true}
  - {name: sum, sum: value}
rules:
  - {name: big, when: sum > 15.0}
`

type procKey struct{}

// scheduler runs the steps of concurrent invocations one at a time, in an order given by a schedule:
// every store read, store write and sink emit of an invocation is a step.
type scheduler struct {
	arrive chan string
	run    map[string]chan struct{}
}

func newScheduler(names ...string) *scheduler {
	s := &scheduler{arrive: make(chan string), run: map[string]chan struct{}{}}
	for _, n := range names {
		s.run[n] = make(chan struct{})
	}
	return s
}

// step blocks the invocation named in ctx until the scheduler lets it go.
func (s *scheduler) step(ctx context.Context) {
	name, _ := ctx.Value(procKey{}).(string)
	if name == "" {
		return
	}
	s.arrive <- name
	<-s.run[name]
}

// drive starts each invocation and releases their steps: at the i-th choice, the invocation named
// by schedule[i] if it is waiting, else another one.
func (s *scheduler) drive(schedule []string, procs map[string]func(ctx context.Context) error) error {
	errs := make(chan error, len(procs))
	for name, f := range procs {
		go func() {
			err := f(context.WithValue(context.Background(), procKey{}, name))
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			s.arrive <- name + "!done"
			errs <- err
		}()
	}
	waiting := map[string]bool{}
	live := len(procs)
	for i := 0; live > 0; {
		// Wait until every live invocation is at a step (or done).
		for len(waiting) < live {
			a := <-s.arrive
			if n, ok := cutDone(a); ok {
				delete(waiting, n)
				live--
				continue
			}
			waiting[a] = true
		}
		if live == 0 {
			break
		}
		pick := ""
		if i < len(schedule) && waiting[schedule[i]] {
			pick = schedule[i]
		} else {
			for n := range waiting {
				if pick == "" || n < pick {
					pick = n
				}
			}
		}
		i++
		delete(waiting, pick)
		s.run[pick] <- struct{}{}
	}
	for range procs {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

func cutDone(a string) (string, bool) {
	if len(a) > 5 && a[len(a)-5:] == "!done" {
		return a[:len(a)-5], true
	}
	return "", false
}

// stepDriver makes every read and write of the store a scheduler step.
type stepDriver struct {
	driver.Store
	s *scheduler
}

func (d stepDriver) Get(ctx context.Context, key string) ([]byte, string, error) {
	d.s.step(ctx)
	return d.Store.Get(ctx, key)
}

func (d stepDriver) Put(ctx context.Context, key string, v []byte, rev string, exp time.Time) (string, error) {
	d.s.step(ctx)
	return d.Store.Put(ctx, key, v, rev, exp)
}

// lineSink keeps the JSON of every output it receives; each emit is a scheduler step.
type lineSink struct {
	s     *scheduler
	mu    sync.Mutex
	lines []string
}

func (k *lineSink) Emit(ctx context.Context, outs []core.Output) error {
	k.s.step(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, o := range outs {
		k.lines = append(k.lines, string(o.AppendJSON(nil)))
	}
	return nil
}

// outputID is what identifies an output in eddy's contract: a window by function, key, bounds and
// revision; a decision by its id; a late event by its record id.
func outputID(t *testing.T, line string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("output %s: %v", line, err)
	}
	switch m["type"] {
	case "window":
		return fmt.Sprint("window/", m["function"], "/", m["key"], "/", m["start"], "/", m["end"], "/", m["revision"])
	case "decision":
		return fmt.Sprint("decision/", m["id"])
	case "late":
		return fmt.Sprint("late/", m["id"])
	}
	return line
}

func ev(off int, key string, ts int64, v float64) core.Record {
	o := strconv.Itoa(off)
	return core.Record{ID: o, Offset: o, Data: fmt.Appendf(nil, `{"key":%q,"ts":%d,"value":%g}`, key, ts, v)}
}

// TestTickRacingBatchEveryInterleaving runs a batch and an idle tick on one partition at once, under
// every order of their store reads, store writes and emits, and checks that no output id is ever
// emitted with two contents. The tick closes window [0s,10s) without the batch's events; the batch
// closes it with them (and a decision fires): whichever commits first decides what the window was,
// and the loser must not have said otherwise under the same id.
func TestTickRacingBatchEveryInterleaving(t *testing.T) {
	f, err := spec.Parse("tw.yaml", []byte(interleaveSpec))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const base = int64(1_800_000_000_000) // a multiple of 10 s: window starts line up
	now := time.UnixMilli(base)
	first := []core.Record{ev(1, "a", base+1000, 5), ev(2, "a", base+2000, 5)}
	second := []core.Record{ev(3, "a", base+3000, 10), ev(4, "a", base+12000, 1)}

	outcomes := map[string]int{}
	schedules := 0
	for bits := 0; bits < 1<<10; bits++ {
		schedule := make([]string, 10)
		for i := range schedule {
			schedule[i] = "batch"
			if bits&(1<<i) != 0 {
				schedule[i] = "tick"
			}
		}
		sch := newScheduler("batch", "tick")
		store := state.NewStore(stepDriver{memstate.NewDriver(0), sch}, nil)
		sink := &lineSink{s: sch}
		newRunner := func() *runner.Runner {
			r, err := runner.New(runner.Config{Function: "tw", Store: store, Sink: sink, MaxAttempts: 100,
				New: func(string) (runner.Processor, error) { return c.NewPipeline() }})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		// The committed start: two events in window [0s,10s), not yet closed.
		if _, err := newRunner().Run(context.Background(), core.Batch{Partition: "p", Records: first, Now: now}); err != nil {
			t.Fatal(err)
		}
		err := sch.drive(schedule, map[string]func(context.Context) error{
			"batch": func(ctx context.Context) error {
				_, err := newRunner().Run(ctx, core.Batch{Partition: "p", Records: append(first, second...), Now: now.Add(5 * time.Second)})
				return err
			},
			"tick": func(ctx context.Context) error {
				_, err := newRunner().Tick(ctx, "p", now.Add(2*time.Minute))
				return err
			},
		})
		if err != nil {
			t.Fatalf("schedule %v: %v", schedule, err)
		}
		schedules++
		contents := map[string]string{}
		for _, l := range sink.lines {
			id := outputID(t, l)
			if prev, ok := contents[id]; ok && prev != l {
				t.Fatalf("schedule %v: output %s emitted as\n%s\nand as\n%s", schedule, id, prev, l)
			}
			contents[id] = l
		}
		// Every record was applied once, whoever won.
		e, err := memstateGet(store)
		if err != nil {
			t.Fatal(err)
		}
		if e.Offset != "4" {
			t.Fatalf("schedule %v: checkpoint %q, want 4", schedule, e.Offset)
		}
		w := contents["window/tw/a/2027-01-15T08:00:00.000Z/2027-01-15T08:00:10.000Z/0"]
		outcomes[w]++
	}
	// Both orders happen: the window closed by the batch and the window closed by the tick.
	if len(outcomes) < 2 {
		t.Fatalf("over %d schedules the window was always %v: the race was never exercised", schedules, outcomes)
	}
	t.Logf("%d schedules; window [0s,10s) outcomes: %v", schedules, outcomes)
}

func memstateGet(s *state.Store) (runner.Envelope, error) {
	var env runner.Envelope
	e, err := s.Get(context.Background(), "tw/p")
	if err != nil {
		return env, err
	}
	return env, env.Unmarshal(e.Value)
}
