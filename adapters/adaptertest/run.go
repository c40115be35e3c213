package adaptertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ScenarioNames lists the suite's scenarios in the order Run runs them.
func ScenarioNames() []string {
	var names []string
	for _, sc := range scenarios(time.Unix(0, 0)) {
		names = append(names, sc.name)
	}
	return names
}

// Run runs every scenario of the suite on every function through harnesses made by newHarness,
// one fresh harness per function and scenario, as subtests named FUNCTION/SCENARIO. After every
// step it compares what the adapter's sinks hold with what the reference (the core pipeline run
// directly over the logical streams, its records located as the adapter locates them) produced up
// to that step, byte for byte: the same window results, decisions (ids included) and late events,
// the same dead letters (id, field, reason, data). Re-emitted duplicates are allowed only after a
// crash between emit and commit. At the end it checks the results against a portable reference
// (the scenario's own ids and partitions): only the record id, partition and offset of late
// events may depend on the transport.
func Run(t *testing.T, newHarness NewHarness, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	fns, err := Functions()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, fn := range fns {
		for _, name := range ScenarioNames() {
			run := func() {
				t.Run(fn.Name+"/"+name, func(t *testing.T) {
					runScenario(t, fn, name, func(s Setup) Harness { return newHarness(t, s) })
				})
			}
			if !o.parallel {
				run()
				continue
			}
			// Subtests started from goroutines run at once, unlike t.Parallel ones, which the
			// -parallel limit (GOMAXPROCS) holds back although these mostly wait.
			wg.Add(1)
			go func() {
				defer wg.Done()
				run()
			}()
		}
	}
	wg.Wait()
}

// Option configures Run.
type Option func(*options)

type options struct {
	parallel bool
}

// Parallel runs all the scenarios at once, for adapters whose latency, not CPU, sets the
// pace (the local broker polls its in-memory subscriptions). Harnesses must then be independent
// of each other and must not call t.Setenv.
func Parallel() Option { return func(o *options) { o.parallel = true } }

func findScenario(start time.Time, name string) *scenario {
	for _, sc := range scenarios(start) {
		if sc.name == name {
			return sc
		}
	}
	return nil
}

// tester is the part of *testing.T the suite uses, so that its own tests can watch it fail.
type tester interface {
	Helper()
	Context() context.Context
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
	FailNow()
}

func runScenario(t tester, fn *Function, name string, newHarness func(Setup) Harness) {
	ctx := t.Context()
	// Processing time starts at the wall clock: adapters that stamp batches with their own clock
	// (Pub/Sub push) then agree with the scenario's clock to within the run's duration, far below
	// the idle timeout the idle ticks test.
	start := time.Now().UTC().Truncate(time.Second)
	sc := findScenario(start, name)

	// The scenario must exercise what it is about: check on a reference run of its own.
	pre := newReference(fn, nil)
	for i := range sc.steps {
		if err := pre.step(ctx, &sc.steps[i]); err != nil {
			t.Fatalf("reference, step %d (%s): %v", i, &sc.steps[i], err)
		}
	}
	if err := sc.check(&pre.stats); err != nil {
		t.Fatalf("scenario %s tests nothing on function %s: %v", sc.name, fn.Name, err)
	}
	if dups := duplicates(lines(pre.outs)); len(dups) > 0 {
		t.Fatalf("the reference emitted duplicates: %q", dups)
	}

	faults := &Faults{}
	var parts []string
	for _, pd := range partitionDevices {
		parts = append(parts, pd.partition)
	}
	h := newHarness(Setup{Function: fn, Faults: faults, Partitions: parts})
	// ref sees the records as the adapter does (its ids and positions); port as the scenario
	// does, for the cross-platform comparison at the end.
	ref, port := newReference(fn, h.Locate), newReference(fn, nil)
	if k, ok := h.(TransportKeyer); ok {
		ref.keyOf = k.TransportKey
	}
	// The poison records by partition and id: ids like sequence numbers are unique only within
	// their partition.
	poison := map[[2]string]bool{}
	for _, st := range sc.steps {
		for _, r := range st.recs {
			if sc.poison[r.ID] {
				id, _ := h.Locate(st.partition, r)
				poison[[2]string{st.partition, id}] = true
			}
		}
	}
	crashed := false
	var armed FaultMode
	for i := range sc.steps {
		st := &sc.steps[i]
		// The poison records this step applies for the first time.
		var freshPoison []string
		for _, r := range st.recs {
			if id, _ := h.Locate(st.partition, r); poison[[2]string{st.partition, id}] && r.Seq > ref.applied[st.partition] {
				freshPoison = append(freshPoison, id)
			}
		}
		if err := ref.step(ctx, st); err != nil {
			t.Fatalf("reference, step %d (%s): %v", i, st, err)
		}
		if err := port.step(ctx, st); err != nil {
			t.Fatalf("portable reference, step %d (%s): %v", i, st, err)
		}
		switch st.kind {
		case stepArm:
			faults.Arm(st.mode, st.n)
			armed = st.mode
			continue
		case stepRestart:
			if err := h.Restart(ctx); err != nil {
				t.Fatalf("step %d (%s): %v", i, st, err)
			}
			// A new process cannot know whether the last commit of a partition reached the sinks
			// (the Runner commits, then emits): it emits that commit's outbox again.
			crashed = true
			continue
		case stepTick:
			if err := h.Tick(ctx, st.now); err != nil {
				t.Fatalf("step %d (%s): %v", i, st, err)
			}
		case stepDeliver:
			fired := faults.Fired()
			d, err := h.Deliver(ctx, st.partition, st.recs, st.now)
			if err != nil {
				t.Fatalf("step %d (%s): %v", i, st, err)
			}
			fired = faults.Fired() - fired
			if faults.Pending() > 0 {
				t.Fatalf("step %d (%s): the armed fault did not fire: the scenario's batch emits nothing", i, st)
			}
			if fired > 0 && armed == CrashAfterEmit {
				crashed = true
			}
			if d.Invocations < 1+fired || d.Failed != fired {
				t.Errorf("step %d (%s): %d invocations, %d failed, with %d injected faults: want every fault seen by the platform as a failed invocation, and retried", i, st, d.Invocations, d.Failed, fired)
			}
			for _, id := range d.Reported {
				if !poison[[2]string{st.partition, id}] {
					t.Errorf("step %d (%s): record %s reported to the trigger as failed, but it is not a poison record", i, st, id)
				}
			}
			if rp, ok := h.(Reporter); ok && rp.ReportsFailures() {
				for _, id := range freshPoison {
					if !slices.Contains(d.Reported, id) {
						t.Errorf("step %d (%s): poison record %s was not reported to the trigger (reported: %v)", i, st, id, d.Reported)
					}
				}
			}
		}
		compare(t, ctx, h, ref, crashed, fmt.Sprintf("after step %d (%s)", i, st))
		if t.Failed() {
			t.FailNow()
		}
	}

	// Across platforms: the same results as the portable reference, whatever the transport's
	// record ids and partition names.
	got, want := portableLines(t, ref.outs), portableLines(t, port.outs)
	sameLines(t, "outputs, against the portable reference", got, want)
	sameLines(t, "dead letters, against the portable reference", portableDead(ref.dead), portableDead(port.dead))
	c := portableLines(t, port.outs)
	slices.Sort(c)
	t.Logf("%s/%s: %d outputs (%d decisions, %d revisions, %d late), %d dead letters; portable digest %x",
		fn.Name, sc.name, len(c), port.stats.decisions, port.stats.revisions, port.stats.late, len(port.dead),
		sha256.Sum256([]byte(strings.Join(c, "\n"))))
}

func (r *reference) step(ctx context.Context, st *step) error {
	switch st.kind {
	case stepDeliver:
		return r.deliver(ctx, st.partition, st.recs, st.now)
	case stepTick:
		return r.tick(ctx, st.now)
	}
	return nil
}

// compare checks the harness's sinks against the reference's outputs and dead letters so far,
// byte for byte.
func compare(t tester, ctx context.Context, h Harness, ref *reference, crashed bool, when string) {
	t.Helper()
	outs, err := h.Outputs(ctx)
	if err != nil {
		t.Fatalf("%s: read the outputs: %v", when, err)
	}
	got, want := lines(outs), lines(ref.outs)
	if crashed {
		// A crash between emit and commit re-emits; consumers drop the copies by id.
		got = slices.Compact(slices.Sorted(slices.Values(got)))
	} else if dups := duplicates(got); len(dups) > 0 {
		t.Errorf("%s: outputs emitted twice with no crash between emit and commit:\n%s", when, strings.Join(dups, "\n"))
	}
	sameLines(t, when+": outputs", got, want)

	dls, err := h.DeadLetters(ctx)
	if err != nil {
		t.Fatalf("%s: read the dead letters: %v", when, err)
	}
	sameLines(t, when+": dead letters", deadLines(dls), deadLines(ref.dead))
	if w, ok := h.(Wire); ok {
		compareWire(t, ctx, w, ref, crashed, when)
	}
}

func lines(outs [][]byte) []string {
	c := make([]string, len(outs))
	for i, o := range outs {
		c[i] = string(bytes.TrimSpace(o))
	}
	return c
}

// portableLines renders outputs without what names the transport: the record id, partition and
// offset of late events, and their output id, which is derived from them. Everything else, decision ids included (pattern decisions fold in the
// matched events' content, not their record ids), must be the same on every platform.
func portableLines(t tester, outs [][]byte) []string {
	t.Helper()
	c := make([]string, 0, len(outs))
	for _, o := range outs {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(o, &m); err != nil {
			t.Fatalf("the reference wrote an output that is not JSON: %s: %v", o, err)
		}
		if string(m["type"]) != `"late"` {
			c = append(c, string(bytes.TrimSpace(o)))
			continue
		}
		delete(m, "id")
		delete(m, "record")
		delete(m, "partition")
		delete(m, "offset")
		b, _ := json.Marshal(m)
		c = append(c, string(b))
	}
	return c
}

func deadLines(ds []DeadLetter) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("record %s field %q reason %q data %q", d.ID, d.Field, d.Reason, d.Data)
	}
	return out
}

// portableDead renders dead letters without the record id, which names the transport's record.
func portableDead(ds []DeadLetter) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("field %q reason %q data %q", d.Field, d.Reason, d.Data)
	}
	return out
}

func duplicates(lines []string) []string {
	s := slices.Sorted(slices.Values(lines))
	var dups []string
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			dups = append(dups, s[i])
		}
	}
	return dups
}

// sameLines compares two multisets of lines and reports what is missing and what is extra.
func sameLines(t tester, what string, got, want []string) {
	t.Helper()
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if slices.Equal(g, w) {
		return
	}
	var missing, extra []string
	i, j := 0, 0
	for i < len(g) || j < len(w) {
		switch {
		case j == len(w) || (i < len(g) && g[i] < w[j]):
			extra = append(extra, g[i])
			i++
		case i == len(g) || g[i] > w[j]:
			missing = append(missing, w[j])
			j++
		default:
			i++
			j++
		}
	}
	t.Errorf("%s differ from the reference: got %d, want %d\nmissing (%d):\n%s\nextra (%d):\n%s", what, len(g), len(w),
		len(missing), head(missing, 10), len(extra), head(extra, 10))
}

func head(lines []string, n int) string {
	if len(lines) > n {
		return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n… and %d more", len(lines)-n)
	}
	return strings.Join(lines, "\n")
}
