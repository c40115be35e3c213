package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// recorder is a tester that keeps the suite's complaints instead of failing the test.
type recorder struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

type fatal struct{}

func (r *recorder) Helper()                  {}
func (r *recorder) Context() context.Context { return r.ctx }
func (r *recorder) Logf(string, ...any)      {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(fatal{})
}
func (r *recorder) FailNow() { panic(fatal{}) }
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errors) > 0
}

// complaints runs one scenario and returns what the suite said about the harness.
func complaints(t *testing.T, fn *Function, scenario string, nh func(Setup) Harness) string {
	t.Helper()
	r := &recorder{ctx: t.Context()}
	func() {
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(fatal); !ok {
					panic(v)
				}
			}
		}()
		runScenario(r, fn, scenario, nh)
	}()
	return strings.Join(r.errors, "\n")
}

// flawed is an adapter over a runner with one flaw switched on.
type flawed struct {
	s     Setup
	store *state.Store
	run   *runner.Runner
	mu    sync.Mutex
	outs  [][]byte
	dead  []DeadLetter

	forgetsState    bool // a restart opens an empty store
	noOffsets       bool // records go without offsets and the runner keeps no ids
	ignoresErrors   bool // a failed invocation is not delivered again
	dropsDeadLetter bool // no dead-letter output
	tickNever       bool // the scheduled entry point does nothing
	underReports    bool // failed records are not reported to the trigger
	overReports     bool // a good record is reported to the trigger as failed
	wireDrift       bool // its messages name the key "key", not "eddy_key" (AWS's old metadata)

	tap *WireTap
}

// WireMessages implements Wire: what the tap captured, with the drift applied.
func (f *flawed) WireMessages(ctx context.Context) (outs, dead []*driver.Message, err error) {
	outs, dead, err = f.tap.WireMessages(ctx)
	if !f.wireDrift {
		return outs, dead, err
	}
	for i, m := range outs {
		c := *m
		c.Metadata = maps.Clone(m.Metadata)
		if k, ok := c.Metadata[sink.MetaKey]; ok {
			delete(c.Metadata, sink.MetaKey)
			c.Metadata["key"] = k
		}
		outs[i] = &c
	}
	return outs, dead, err
}

func (f *flawed) Emit(_ context.Context, outs []core.Output) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range outs {
		f.outs = append(f.outs, o.AppendJSON(nil))
	}
	return nil
}

func (f *flawed) EmitFailures(_ context.Context, fs []*core.Failure) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fl := range fs {
		f.dead = append(f.dead, DeadLetter{ID: fl.Record.ID, Field: fl.Field, Reason: fl.Reason, Data: fl.Record.Data})
	}
	return nil
}

func (f *flawed) Restart(context.Context) error {
	if f.store == nil || f.forgetsState {
		f.store = memstate.New(nil)
	}
	if f.tap == nil {
		f.tap = NewWireTap()
	}
	cfg := runner.Config{Function: f.s.Function.Name, Store: f.store, New: f.s.Function.NewProcessor, Sink: f.s.Faults.Wrap(f.tap.Sink(f))}
	if !f.dropsDeadLetter {
		cfg.DeadLetter = f.tap.DeadLetter(f)
	}
	if f.noOffsets {
		cfg.DedupeIDs = -1
	}
	var err error
	f.run, err = runner.New(cfg)
	return err
}

func (f *flawed) Locate(partition string, r Record) (string, core.Pos) {
	return r.ID, core.Pos{Partition: partition, Offset: strconv.FormatInt(r.Seq, 10)}
}

func (f *flawed) Deliver(ctx context.Context, partition string, recs []Record, now time.Time) (Delivery, error) {
	b := core.Batch{Partition: partition, Now: now}
	for _, r := range recs {
		id, pos := f.Locate(partition, r)
		if f.noOffsets {
			pos.Offset = ""
		}
		b.Records = append(b.Records, core.Record{ID: id, Offset: pos.Offset, Key: r.Key, Time: r.Time, Data: r.Data})
	}
	var d Delivery
	for {
		d.Invocations++
		res, err := f.run.Run(ctx, b)
		if err == nil {
			for _, fl := range res.Failures {
				if !f.underReports {
					d.Reported = append(d.Reported, fl.Record.ID)
				}
			}
			if f.overReports {
				d.Reported = append(d.Reported, b.Records[0].ID)
			}
			return d, nil
		}
		if !errors.Is(err, ErrInjected) {
			return d, err
		}
		d.Failed++
		if f.ignoresErrors {
			return d, nil
		}
	}
}

// ReportsFailures implements Reporter: the flawed adapter reports failed records as Lambda does.
func (f *flawed) ReportsFailures() bool { return true }

func (f *flawed) Tick(ctx context.Context, now time.Time) error {
	if f.tickNever {
		return nil
	}
	_, err := f.run.TickAll(ctx, now)
	return err
}

func (f *flawed) Outputs(context.Context) ([][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.outs...), nil
}

func (f *flawed) DeadLetters(context.Context) ([]DeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]DeadLetter(nil), f.dead...), nil
}

// Each flaw an adapter could have makes the scenario about it fail, with a message that says
// what differs; without the flaw the same harness conforms.
func TestSuiteCatchesFlawedAdapters(t *testing.T) {
	fns, err := Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flaw     string
		scenario string
		set      func(*flawed)
		want     string
	}{
		{"state lost on restart", "restart", func(f *flawed) { f.forgetsState = true }, "outputs differ from the reference"},
		{"redelivered records applied again", "duplicates", func(f *flawed) { f.noOffsets = true }, "outputs differ from the reference"},
		{"failed batches not delivered again", "failure-redelivery", func(f *flawed) { f.ignoresErrors = true }, "want every fault seen by the platform as a failed invocation, and retried"},
		{"poison records not dead-lettered", "poison", func(f *flawed) { f.dropsDeadLetter = true }, "dead letters differ from the reference"},
		{"no scheduled ticks", "idle-tick", func(f *flawed) { f.tickNever = true }, "outputs differ from the reference"},
		{"poison records not reported", "poison", func(f *flawed) { f.underReports = true }, "was not reported to the trigger"},
		{"good records reported as failed", "in-order", func(f *flawed) { f.overReports = true }, "but it is not a poison record"},
		{"metadata drift on the wire", "in-order", func(f *flawed) { f.wireDrift = true }, "output messages differ from the reference"},
	} {
		for _, fn := range fns {
			t.Run(c.flaw+"/"+fn.Name, func(t *testing.T) {
				mk := func(flaw bool) func(Setup) Harness {
					return func(s Setup) Harness {
						f := &flawed{s: s}
						if flaw {
							c.set(f)
						}
						if err := f.Restart(t.Context()); err != nil {
							t.Fatal(err)
						}
						return f
					}
				}
				if got := complaints(t, fn, c.scenario, mk(false)); got != "" {
					t.Fatalf("the harness without the flaw does not conform:\n%s", got)
				}
				got := complaints(t, fn, c.scenario, mk(true))
				if !strings.Contains(got, c.want) {
					t.Fatalf("flaw %q: the suite said\n%s\nwant a complaint containing %q", c.flaw, got, c.want)
				}
			})
		}
	}
}

// Every scenario is self-consistent: its steps deliver each partition's records without gaps,
// and the functions compile.
func TestScenariosAreWellFormed(t *testing.T) {
	names := ScenarioNames()
	if len(names) != 8 {
		t.Fatalf("scenarios %v", names)
	}
	for _, sc := range scenarios(time.Unix(1_800_000_000, 0)) {
		seen := map[string]int64{}
		for _, st := range sc.steps {
			for _, r := range st.recs {
				if r.Seq > seen[st.partition]+1 {
					t.Errorf("%s: %s seq %d delivered after %d", sc.name, st.partition, r.Seq, seen[st.partition])
				}
				seen[st.partition] = max(seen[st.partition], r.Seq)
				if r.Time.IsZero() || len(r.Data) == 0 || r.ID == "" {
					t.Errorf("%s: record %+v incomplete", sc.name, r)
				}
			}
		}
		if len(seen) != 2 {
			t.Errorf("%s: partitions %v", sc.name, seen)
		}
	}
}
