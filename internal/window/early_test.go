package window

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// eem is an emission with what the early-firing tests check it against.
type eem struct {
	emission
	early bool
	// at is how many events had been added when it was emitted; inAdd is set when an event's Add
	// emitted it (before the watermark moved for that event).
	at    int
	inAdd bool
}

// runEarly drives an operator with early firings the way the pipeline does: batches end at the
// split points, each batch ends with FireEarly at now(batch), and with restore set a snapshot is
// restored into a fresh operator between batches.
func runEarly(t *testing.T, spec Spec, tm Time, evs []tev, splits []int, now func(b int) time.Time, restore bool) []eem {
	t.Helper()
	var table core.FieldTable
	plan, err := aggregate.Compile(testSpecs, &table)
	if err != nil {
		t.Fatal(err)
	}
	vi, _ := table.Lookup("value")
	ti, _ := table.Lookup("tag")
	newOp := func() *Operator {
		op, err := New("f", spec, tm, plan)
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	op := newOp()
	var ems []eem
	at, inAdd := 0, false
	emit := func(r *core.WindowResult) {
		v, _ := r.Value("variance")
		ems = append(ems, eem{emission{r.Key, r.Start.UnixNano(), r.End.UnixNano(), r.Revision, fmtValues(r.Values), v.Num}, r.Early, at, inAdd})
		if r.Early && r.Final {
			t.Fatalf("an early result marked final: %+v", r)
		}
	}
	maxTs, seen := int64(0), false
	ooo := int64(tm.OutOfOrder)
	batch := 0
	endBatch := func() {
		if now != nil {
			op.FireEarly(now(batch), emit)
		}
		batch++
		if restore {
			snap := op.AppendBinary(nil)
			op = newOp()
			if err := op.Restore(snap); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, e := range evs {
		if slices.Contains(splits, i) {
			endBatch()
		}
		ev := core.Event{Key: e.key, Time: time.UnixMilli(e.t), Fields: make([]core.Value, table.Len())}
		ev.Fields[vi] = core.Value{Kind: core.Number, Num: e.v}
		ev.Fields[ti] = core.Value{Kind: core.String, Str: e.tag}
		at, inAdd = i+1, true
		late := op.Add(&ev, emit)
		inAdd = false
		if late {
			continue
		}
		if ts := ev.Time.UnixNano(); !seen || ts > maxTs {
			maxTs, seen = ts, true
			op.Advance(time.Unix(0, maxTs-ooo), emit)
		}
	}
	endBatch()
	op.Flush(emit)
	return ems
}

var earlyKinds = []Spec{
	{Kind: Tumbling, Size: 10 * time.Second},
	{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second},
	{Kind: Sliding, Size: 9 * time.Second, Slide: 6 * time.Second},
	{Kind: Session, Gap: 3 * time.Second},
	{Kind: Count, Count: 5},
	{Kind: Count, Count: 6, CountSlide: 2},
	{Kind: Global},
}

// checkEarlyValues checks every early result against a naive recomputation from the events added
// before it (streams without late events: every event so far of the key in the window's span is in
// it), and that a sliced window's early result is the key's next window to close.
func checkEarlyValues(t *testing.T, name string, spec Spec, tm Time, evs []tev, got []eem) int {
	t.Helper()
	n := 0
	for _, g := range got {
		if !g.early {
			continue
		}
		n++
		sofar := evs[:g.at]
		var mine []tev
		switch spec.Kind {
		case Tumbling, Sliding:
			// The watermark the operator had: the newest time before this emission, less the
			// out-of-orderness (an Add emits before the watermark moves for its event).
			seen := sofar
			if g.inAdd {
				seen = sofar[:len(sofar)-1]
			}
			wm := int64(minTime)
			for _, e := range seen {
				wm = max(wm, e.t*1e6-int64(tm.OutOfOrder))
			}
			size, slide := int64(spec.Size), int64(spec.Slide)
			if spec.Kind == Tumbling {
				slide = size
			}
			next := int64(maxTime)
			for _, e := range sofar {
				if e.key != g.key {
					continue
				}
				ts := e.t * 1e6
				// The first window end after the watermark that holds ts.
				end := floorDiv(ts, slide)*slide + slide
				if end <= wm {
					end += (floorDiv(wm-end, slide) + 1) * slide
				}
				if end-size <= ts {
					next = min(next, end)
				}
			}
			if g.end != next {
				t.Fatalf("%s: early result of window ending %d, the key's next window to close ends %d: %+v", name, g.end, next, g)
			}
			for _, e := range sofar {
				if e.key == g.key && e.t*1e6 >= g.start && e.t*1e6 < g.end {
					mine = append(mine, e)
				}
			}
		case Session:
			for _, e := range sofar {
				if e.key == g.key && e.t*1e6 >= g.start && e.t*1e6 <= g.end-int64(spec.Gap) {
					mine = append(mine, e)
				}
			}
		case Count:
			var k []tev
			for _, e := range sofar {
				if e.key == g.key {
					k = append(k, e)
				}
			}
			slide := spec.CountSlide
			if slide == 0 {
				slide = spec.Count
			}
			next := len(k) + 1
			for next < spec.Count || next%slide != 0 {
				next++
			}
			mine = k[max(0, next-spec.Count):]
		case Global:
			for _, e := range sofar {
				if e.key == g.key {
					mine = append(mine, e)
				}
			}
		}
		if len(mine) == 0 {
			t.Fatalf("%s: early result of an empty window: %+v", name, g)
		}
		want, variance := refAgg(mine)
		if w := (emission{g.key, g.start, g.end, g.rev, want, variance}); !g.emission.same(w) {
			t.Fatalf("%s: early result after %d events\n got  %+v\n want %+v", name, g.at, g.emission, w)
		}
	}
	return n
}

// checkRevisions checks that early results come first in a window's revisions and the rest are
// today's: dropping the early results and renumbering leaves exactly the results without early
// firings, and no id (key, start, end, revision) repeats.
func checkRevisions(t *testing.T, name string, spec Spec, got []eem, today []emission) {
	t.Helper()
	type id struct {
		key        string
		start, end int64
		rev        int
	}
	ids := map[id]bool{}
	earlyBefore := map[string]int{} // per window (per key for count windows and sessions)
	var finals []emission
	for _, g := range got {
		i := id{g.key, g.start, g.end, g.rev}
		if ids[i] {
			t.Fatalf("%s: id %+v emitted twice", name, i)
		}
		ids[i] = true
		w := fmt.Sprint(g.key, g.start, g.end)
		if spec.Kind == Count || spec.Kind == Session || spec.Kind == Global {
			w = g.key
		}
		if g.early {
			earlyBefore[w]++
			continue
		}
		f := g.emission
		switch spec.Kind {
		case Tumbling, Sliding:
			f.rev -= earlyBefore[w]
		case Session, Global, Count:
			// Sessions carry their count across merges, global windows and (with early
			// firings) count windows count every emission of the key: checked for uniqueness
			// above, compared without revisions here.
			f.rev = 0
		}
		finals = append(finals, f)
	}
	if spec.Kind == Session || spec.Kind == Global || spec.Kind == Count {
		today = slices.Clone(today)
		for i := range today {
			today[i].rev = 0
		}
	}
	compare(t, name+" (final results)", finals, today)
}

// TestEarlyCountMatchesReference: early firings by count on every window kind agree with the naive
// reference, do not change the final results, and are the same bytes in the same order however
// the stream is split into batches with state restored in between.
func TestEarlyCountMatchesReference(t *testing.T) {
	times := []Time{{OutOfOrder: 3 * time.Second}, {OutOfOrder: 3 * time.Second, AllowedLateness: 4 * time.Second}}
	total := 0
	for seed := uint64(1); seed <= 6; seed++ {
		for _, base := range earlyKinds {
			for _, tm := range times {
				for _, c := range []int{1, 3, 7} {
					spec := base
					spec.Early = Early{Count: c}
					r := rand.New(rand.NewPCG(seed, 21))
					evs := genStream(r, 300, 4, 2500, 0) // nothing late: disorder within out_of_order
					name := fmt.Sprintf("seed %d %s %v/%v/%d late %v early count %d", seed, spec.Kind, spec.Size, spec.Slide, spec.Count, tm.AllowedLateness, c)
					one := runEarly(t, spec, tm, evs, nil, nil, false)
					many := runEarly(t, spec, tm, evs, randomSplits(r, len(evs)), nil, true)
					if !slices.Equal(one, many) {
						t.Fatalf("%s: %d outputs in one batch, %d split and restored: not the same", name, len(one), len(many))
					}
					total += checkEarlyValues(t, name, spec, tm, evs, one)
					today, _, _ := runEngine(t, base, tm, evs, nil)
					checkRevisions(t, name, spec, one, today)
				}
			}
		}
	}
	if total < 1000 {
		t.Fatalf("only %d early results checked", total)
	}
}

// TestEarlyEveryMatchesReference: early firings by processing time fire at the batches whose time
// reaches the next multiple of Every, once per key that received events since, with values that
// agree with the naive reference; restoring state between batches changes nothing.
func TestEarlyEveryMatchesReference(t *testing.T) {
	every := 10 * time.Second
	total := 0
	for seed := uint64(1); seed <= 6; seed++ {
		for _, base := range earlyKinds {
			tm := Time{OutOfOrder: 3 * time.Second, AllowedLateness: time.Duration(seed%2) * 4 * time.Second}
			spec := base
			spec.Early = Early{Every: every}
			r := rand.New(rand.NewPCG(seed, 23))
			evs := genStream(r, 300, 4, 2500, 0)
			var splits []int
			for i := 7; i < len(evs); i += 5 + r.IntN(20) {
				splits = append(splits, i)
			}
			// Processing time: 3 s per batch, with a stall now and then.
			nows := make([]time.Time, len(splits)+1)
			clock := time.Unix(1_800_000_000, 0)
			for i := range nows {
				clock = clock.Add(3*time.Second + time.Duration(r.IntN(3))*time.Duration(r.IntN(2))*9*time.Second)
				nows[i] = clock
			}
			now := func(b int) time.Time { return nows[b] }
			name := fmt.Sprintf("seed %d %s %v/%v/%d late %v early every %v", seed, spec.Kind, spec.Size, spec.Slide, spec.Count, tm.AllowedLateness, every)
			kept := runEarly(t, spec, tm, evs, splits, now, false)
			restored := runEarly(t, spec, tm, evs, splits, now, true)
			if !slices.Equal(kept, restored) {
				t.Fatalf("%s: restoring state between batches changed the outputs (%d vs %d)", name, len(kept), len(restored))
			}
			total += checkEarlyValues(t, name, spec, tm, evs, kept)
			today, _, _ := runEngine(t, base, tm, evs, nil)
			checkRevisions(t, name, spec, kept, today)
			// Which batches fire, and for which keys: the reference clock.
			next := time.Time{}
			var wantFirings []int // the event count at each firing
			for b, n := range nows {
				if next.IsZero() {
					next = n.Truncate(every).Add(every) // the first batch starts the clock
					continue
				}
				if !n.Before(next) {
					next = n.Truncate(every).Add(every)
					end := len(evs)
					if b < len(splits) {
						end = splits[b]
					}
					wantFirings = append(wantFirings, end)
				}
			}
			var gotFirings []int
			for _, g := range kept {
				if g.early && !g.inAdd && (len(gotFirings) == 0 || gotFirings[len(gotFirings)-1] != g.at) {
					gotFirings = append(gotFirings, g.at)
				}
			}
			for _, f := range gotFirings {
				if !slices.Contains(wantFirings, f) {
					t.Fatalf("%s: early results after event %d, where no batch reached the next firing time (firings at %v)", name, f, wantFirings)
				}
			}
			if len(gotFirings) < len(wantFirings)/2 {
				t.Fatalf("%s: early results at %d of %d firing times", name, len(gotFirings), len(wantFirings))
			}
		}
	}
	if total < 500 {
		t.Fatalf("only %d early results checked", total)
	}
}

// TestEarlySnapshotVersions: without early firings the snapshot is version 1, byte for byte as
// before (TestSnapshotsMatchGolden); with them version 2, and each restores into the other.
func TestEarlySnapshotVersions(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	evs := genStream(r, 200, 3, 2500, 0)
	tm := Time{OutOfOrder: 3 * time.Second}
	spec := Spec{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second}
	withEarly := spec
	withEarly.Early = Early{Count: 4, Every: time.Second}
	_, _, snaps := runEngine(t, withEarly, tm, evs, []int{100})
	if snaps[0][0] != snapshotVersionEarly {
		t.Fatalf("snapshot version %d with early firings, want %d", snaps[0][0], snapshotVersionEarly)
	}
	if err := newTestOperator(t, spec, tm).Restore(snaps[0]); err != nil {
		t.Fatalf("a version 2 snapshot into an operator without early firings: %v", err)
	}
	_, _, plain := runEngine(t, spec, tm, evs, []int{100})
	if plain[0][0] != snapshotVersion {
		t.Fatalf("snapshot version %d without early firings, want %d", plain[0][0], snapshotVersion)
	}
	if err := newTestOperator(t, withEarly, tm).Restore(plain[0]); err != nil {
		t.Fatalf("a version 1 snapshot into an operator with early firings: %v", err)
	}
	if err := newTestOperator(t, withEarly, tm).Restore(snaps[0][:len(snaps[0])-1]); err == nil {
		t.Fatal("a truncated version 2 snapshot restored")
	}
}

// TestEarlyValidate rejects negative triggers.
func TestEarlyValidate(t *testing.T) {
	for _, e := range []Early{{Every: -time.Second}, {Count: -1}} {
		if err := (Spec{Kind: Tumbling, Size: time.Minute, Early: e}).Validate(); err == nil {
			t.Errorf("%+v accepted", e)
		}
	}
}

// FuzzRestoreEarly feeds Restore version 2 snapshots (early firings' state), corrupt, truncated or
// made up, starting from real ones of every kind: it must return an error or a state that encodes,
// fires early and flushes without a panic.
func FuzzRestoreEarly(f *testing.F) {
	tm := Time{OutOfOrder: time.Second, AllowedLateness: 3 * time.Second}
	specs := slices.Clone(earlyKinds)
	for i := range specs {
		specs[i].Early = Early{Every: time.Second, Count: 3}
	}
	for i, spec := range specs {
		r := rand.New(rand.NewPCG(8, 8))
		evs := genStream(r, 200, 4, 2500, 20000)
		_, _, snaps := runEngine(f, spec, tm, evs, []int{50, 150})
		for _, s := range snaps {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, snap []byte) {
		op := newTestOperator(t, specs[int(kind)%len(specs)], tm)
		if err := op.Restore(snap); err != nil {
			return
		}
		op.AppendBinary(nil)
		op.FireEarly(time.Unix(1_800_000_000, 0), func(*core.WindowResult) {})
		op.Flush(func(*core.WindowResult) {})
	})
}
