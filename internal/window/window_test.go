package window

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/axiomhq/hyperloglog"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// tev is a test event: key, event time in ms, value, tag, arrival sequence.
type tev struct {
	key string
	t   int64
	v   float64
	tag string
	seq int
}

var testSpecs = []aggregate.Spec{
	{Op: aggregate.Count},
	{Op: aggregate.Sum, Field: "value"},
	{Op: aggregate.Min, Field: "value"},
	{Op: aggregate.Max, Field: "value"},
	{Op: aggregate.Avg, Field: "value"},
	{Op: aggregate.Variance, Field: "value"},
	{Op: aggregate.First, Field: "value"},
	{Op: aggregate.Last, Field: "value"},
	{Name: "p90", Op: aggregate.Quantile, Field: "value", Q: 0.9},
	{Op: aggregate.Distinct, Field: "tag"},
	{Op: aggregate.TopK, Field: "tag", K: 3},
}

// genStream makes events with out-of-order times (up to disorder ms behind the newest), some much
// later than that (late), and duplicates. Values are multiples of 0.5, so float sums are exact in
// any order.
func genStream(r *rand.Rand, n, keys int, disorder, lateBy int64) []tev {
	var out []tev
	now := int64(1_700_000_000_000)
	for i := 0; i < n; i++ {
		now += r.Int64N(400)
		t := now - r.Int64N(disorder+1)
		if r.IntN(20) == 0 {
			t = now - disorder - r.Int64N(lateBy+1)
		}
		e := tev{key: fmt.Sprintf("k%d", r.IntN(keys)), t: t, v: float64(r.IntN(200)-50) / 2, tag: fmt.Sprintf("t%d", r.IntN(6))}
		out = append(out, e)
		if r.IntN(25) == 0 {
			out = append(out, e)
		}
	}
	for i := range out {
		out[i].seq = i
	}
	return out
}

type emission struct {
	key        string
	start, end int64
	rev        int
	values     string
	variance   float64
}

func (e emission) same(o emission) bool {
	v := e
	v.variance = o.variance
	return v == o && math.Abs(e.variance-o.variance) <= 1e-9*math.Max(1, math.Abs(o.variance))
}

func fmtValues(vs []core.NamedValue) string {
	var b strings.Builder
	for _, v := range vs {
		if v.Name == "variance" {
			// Welford merges and the two-pass formula differ in the last bits: compared apart.
			continue
		}
		b.Write(core.AppendValues(nil, []core.NamedValue{v}))
		b.WriteByte(' ')
	}
	return b.String()
}

func sortEmissions(es []emission) {
	slices.SortFunc(es, func(a, b emission) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.end, b.end), cmp.Compare(a.start, b.start), cmp.Compare(a.rev, b.rev))
	})
}

// runEngine drives an Operator the way the pipeline does, splitting the stream into batches at the
// given points, with a snapshot and a restore into a fresh operator between batches.
func runEngine(t testing.TB, spec Spec, tm Time, evs []tev, splits []int) (ems []emission, late int, snaps [][]byte) {
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
	emit := func(r *core.WindowResult) {
		v, _ := r.Value("variance")
		ems = append(ems, emission{r.Key, r.Start.UnixNano(), r.End.UnixNano(), r.Revision, fmtValues(r.Values), v.Num})
	}
	maxTs, seen := int64(0), false
	ooo := int64(tm.OutOfOrder)
	for i, e := range evs {
		if slices.Contains(splits, i) {
			snap := op.AppendBinary(append([]byte(nil), byte(0)))
			snaps = append(snaps, snap[1:])
			op = newOp()
			if err := op.Restore(snap[1:]); err != nil {
				t.Fatal(err)
			}
		}
		ev := core.Event{Key: e.key, Time: time.UnixMilli(e.t), Fields: make([]core.Value, table.Len())}
		ev.Fields[vi] = core.Value{Kind: core.Number, Num: e.v}
		ev.Fields[ti] = core.Value{Kind: core.String, Str: e.tag}
		if op.Late(ev.Time) {
			late++
		}
		if op.Add(&ev, emit) {
			continue
		}
		if ts := ev.Time.UnixNano(); !seen || ts > maxTs {
			maxTs, seen = ts, true
			op.Advance(time.Unix(0, maxTs-ooo), emit)
		}
	}
	op.Flush(emit)
	if op.Keys() != 0 && spec.Kind != Count && spec.Kind != Global {
		t.Errorf("%d keys hold state after a flush", op.Keys())
	}
	op.plan.FreeRow(op.row, &op.sk) // the scratch row keeps its sketches for reuse
	if n := op.sk.Len(); n != 0 && spec.Kind != Count && spec.Kind != Global {
		t.Errorf("%d sketch sets held after a flush: rows were dropped without FreeRow", n)
	}
	return ems, late, snaps
}

// refAgg computes the test aggregates from raw events in arrival order: the obviously correct way.
func refAgg(evs []tev) (string, float64) {
	var vs []core.NamedValue
	n := float64(len(evs))
	sum, mn, mx := 0.0, math.Inf(1), math.Inf(-1)
	for _, e := range evs {
		sum += e.v
		mn, mx = min(mn, e.v), max(mx, e.v)
	}
	mean := sum / n
	m2 := 0.0
	for _, e := range evs {
		m2 += (e.v - mean) * (e.v - mean)
	}
	first, last := evs[0], evs[0]
	for _, e := range evs {
		if e.t < first.t {
			first = e
		}
		if e.t >= last.t {
			last = e
		}
	}
	sk, _ := ddsketch.NewDefaultDDSketch(0.01)
	hl, _ := hyperloglog.NewSketch(14, true)
	counts := map[string]uint64{}
	for _, e := range evs {
		_ = sk.Add(e.v)
		hl.Insert([]byte(e.tag))
		counts[e.tag]++
	}
	p90, _ := sk.GetValueAtQuantile(0.9)
	var items []core.Item
	for k, c := range counts {
		items = append(items, core.Item{Value: k, Count: c})
	}
	slices.SortFunc(items, func(a, b core.Item) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value)) })
	if len(items) > 3 {
		items = items[:3]
	}
	vs = append(vs,
		core.NamedValue{Name: "count", Num: n}, core.NamedValue{Name: "sum", Num: sum},
		core.NamedValue{Name: "min", Num: mn}, core.NamedValue{Name: "max", Num: mx},
		core.NamedValue{Name: "avg", Num: sum / n}, core.NamedValue{Name: "variance", Num: m2 / n},
		core.NamedValue{Name: "first", Num: first.v}, core.NamedValue{Name: "last", Num: last.v},
		core.NamedValue{Name: "p90", Num: p90}, core.NamedValue{Name: "distinct", Num: float64(hl.Estimate())},
		core.NamedValue{Name: "topk", IsList: true, Items: items})
	return fmtValues(vs), m2 / n
}

// refSliced is the reference for tumbling and sliding windows, stated without slices or
// watermark machinery: an event is included in a window iff the window was open (end + lateness
// after the watermark) when the event arrived; a window emits once when the watermark passes its end
// with the events included before that, then once for every event included after.
func refSliced(spec Spec, tm Time, evs []tev) (ems []emission, late int) {
	size, slide := spec.Size.Milliseconds(), spec.Slide.Milliseconds()
	if spec.Kind == Tumbling {
		slide = size
	}
	L, ooo := tm.AllowedLateness.Milliseconds(), tm.OutOfOrder.Milliseconds()
	type wkey struct {
		key string
		end int64
	}
	type win struct {
		before, after []tev // included before / after the watermark passed the end
		passedAt      int   // arrival index when the watermark passed the end, -1 before
	}
	wins := map[wkey]*win{}
	wm := int64(math.MinInt64)
	var order []wkey
	for i, e := range evs {
		var mine []int64
		for end := floorDivMs(e.t, slide)*slide + slide; end-size <= e.t; end += slide {
			if end > e.t {
				mine = append(mine, end)
			}
		}
		open := false
		for _, end := range mine {
			if wm == math.MinInt64 || end+L > wm {
				open = true
			}
		}
		if !open {
			late++
			continue
		}
		for _, end := range mine {
			if wm != math.MinInt64 && end+L <= wm {
				continue
			}
			k := wkey{e.key, end}
			w := wins[k]
			if w == nil {
				w = &win{passedAt: -1}
				wins[k] = w
				order = append(order, k)
			}
			if wm != math.MinInt64 && end <= wm {
				w.after = append(w.after, e)
			} else {
				w.before = append(w.before, e)
			}
		}
		_ = i
		wm = max(wm, e.t-ooo)
	}
	for _, k := range order {
		w := wins[k]
		rev := 0
		var acc []tev
		if len(w.before) > 0 {
			acc = append(acc, w.before...)
			vals, variance := refAgg(acc)
			ems = append(ems, emission{k.key, (k.end - size) * 1e6, k.end * 1e6, rev, vals, variance})
			rev++
		}
		for _, e := range w.after {
			acc = append(acc, e)
			vals, variance := refAgg(acc)
			ems = append(ems, emission{k.key, (k.end - size) * 1e6, k.end * 1e6, rev, vals, variance})
			rev++
		}
	}
	return ems, late
}

func floorDivMs(a, b int64) int64 { return floorDiv(a, b) }

func compare(t *testing.T, name string, got, want []emission) {
	t.Helper()
	sortEmissions(got)
	sortEmissions(want)
	if len(got) != len(want) {
		t.Errorf("%s: %d emissions, reference has %d", name, len(got), len(want))
	}
	for i := 0; i < min(len(got), len(want)); i++ {
		if !got[i].same(want[i]) {
			t.Fatalf("%s: emission %d differs\n got  %+v\n want %+v", name, i, got[i], want[i])
		}
	}
}

func randomSplits(r *rand.Rand, n int) []int {
	var s []int
	for i := 0; i < r.IntN(6); i++ {
		s = append(s, r.IntN(n))
	}
	return s
}

func TestSlicedMatchesReference(t *testing.T) {
	specs := []Spec{
		{Kind: Tumbling, Size: 10 * time.Second},
		{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second},
		{Kind: Sliding, Size: 9 * time.Second, Slide: 6 * time.Second}, // slices of gcd 3 s
		{Kind: Sliding, Size: 30 * time.Second, Slide: time.Second},
	}
	times := []Time{
		{OutOfOrder: 2 * time.Second},
		{OutOfOrder: time.Second, AllowedLateness: 5 * time.Second},
		{OutOfOrder: 0, AllowedLateness: 20 * time.Second},
	}
	for seed := uint64(1); seed <= 12; seed++ {
		for _, spec := range specs {
			for _, tm := range times {
				r := rand.New(rand.NewPCG(seed, 7))
				evs := genStream(r, 400, 4, 2500, 20000)
				name := fmt.Sprintf("seed %d %s %v/%v ooo %v late %v", seed, spec.Kind, spec.Size, spec.Slide, tm.OutOfOrder, tm.AllowedLateness)
				got, late, _ := runEngine(t, spec, tm, evs, randomSplits(r, len(evs)))
				want, wantLate := refSliced(spec, tm, evs)
				if late != wantLate {
					t.Errorf("%s: %d late, reference %d", name, late, wantLate)
				}
				compare(t, name, got, want)
			}
		}
	}
}

// TestSplitsAreByteIdentical checks determinism: one batch or many, the outputs are the same bytes
// in the same order.
func TestSplitsAreByteIdentical(t *testing.T) {
	for _, spec := range []Spec{
		{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second},
		{Kind: Session, Gap: 3 * time.Second},
		{Kind: Count, Count: 6, CountSlide: 2},
		{Kind: Global},
	} {
		r := rand.New(rand.NewPCG(99, 1))
		evs := genStream(r, 600, 5, 2500, 20000)
		tm := Time{OutOfOrder: time.Second, AllowedLateness: 3 * time.Second}
		one, _, _ := runEngine(t, spec, tm, evs, nil)
		many, _, _ := runEngine(t, spec, tm, evs, []int{1, 50, 51, 300, 599})
		if len(one) == 0 || !slices.Equal(one, many) {
			t.Errorf("%s: %d outputs in one batch, %d split; equal: %v", spec.Kind, len(one), len(many), slices.Equal(one, many))
		}
	}
}

// refSession is the reference for session windows: sessions are lists of raw events, merged when an
// event's [t, t+gap) overlaps them, fired when the watermark passes their end and dropped after the
// allowed lateness; aggregates are recomputed from the raw events.
func refSession(spec Spec, tm Time, evs []tev) (ems []emission, late int) {
	gap, L, ooo := spec.Gap.Milliseconds(), tm.AllowedLateness.Milliseconds(), tm.OutOfOrder.Milliseconds()
	type sess struct {
		key     string
		evs     []tev
		emitted int
		fired   bool
	}
	span := func(s *sess) (lo, hi int64) {
		lo, hi = s.evs[0].t, s.evs[0].t
		for _, e := range s.evs {
			lo, hi = min(lo, e.t), max(hi, e.t)
		}
		return lo, hi + gap
	}
	var all []*sess
	wm := int64(math.MinInt64)
	advance := func() {
		for {
			var best *sess
			var bestDue int64
			for _, s := range all {
				_, end := span(s)
				due := end
				if s.fired {
					due = end + L
				}
				if due <= wm && (best == nil || due < bestDue || due == bestDue && s.key < best.key) {
					best, bestDue = s, due
				}
			}
			if best == nil {
				return
			}
			lo, end := span(best)
			if !best.fired {
				acc := slices.Clone(best.evs)
				slices.SortFunc(acc, func(a, b tev) int { return cmp.Compare(a.seq, b.seq) })
				vals, variance := refAgg(acc)
				ems = append(ems, emission{best.key, lo * 1e6, end * 1e6, best.emitted, vals, variance})
				best.emitted++
				best.fired = true
				if end+L > wm {
					continue
				}
			}
			all = slices.DeleteFunc(all, func(s *sess) bool { return s == best })
		}
	}
	for _, e := range evs {
		if wm != math.MinInt64 && e.t+gap+L <= wm {
			late++
			continue
		}
		merged := &sess{key: e.key, evs: []tev{e}}
		var keep []*sess
		for _, s := range all {
			lo, hi := span(s)
			if s.key == e.key && lo < e.t+gap && e.t < hi {
				merged.evs = append(merged.evs, s.evs...)
				merged.emitted = max(merged.emitted, s.emitted)
				continue
			}
			keep = append(keep, s)
		}
		all = append(keep, merged)
		advance()
		wm = max(wm, e.t-ooo)
		advance()
	}
	wm = math.MaxInt64
	advance()
	return ems, late
}

// refCount is the reference for count windows: each key's events in arrival order, a window every
// slide events over the last count.
func refCount(spec Spec, evs []tev) (ems []emission) {
	slide := spec.CountSlide
	if slide == 0 {
		slide = spec.Count
	}
	byKey := map[string][]tev{}
	for _, e := range evs {
		byKey[e.key] = append(byKey[e.key], e)
		k := byKey[e.key]
		if len(k) >= spec.Count && len(k)%slide == 0 {
			w := k[len(k)-spec.Count:]
			lo, hi := w[0].t, w[0].t
			for _, x := range w {
				lo, hi = min(lo, x.t), max(hi, x.t)
			}
			vals, variance := refAgg(w)
			ems = append(ems, emission{e.key, lo * 1e6, hi * 1e6, 0, vals, variance})
		}
	}
	return ems
}

func TestSessionMatchesReference(t *testing.T) {
	times := []Time{
		{OutOfOrder: 2 * time.Second},
		{OutOfOrder: time.Second, AllowedLateness: 5 * time.Second},
		{AllowedLateness: 20 * time.Second},
	}
	for seed := uint64(1); seed <= 15; seed++ {
		for _, gap := range []time.Duration{800 * time.Millisecond, 3 * time.Second} {
			for _, tm := range times {
				r := rand.New(rand.NewPCG(seed, 11))
				evs := genStream(r, 300, 4, 2500, 20000)
				spec := Spec{Kind: Session, Gap: gap}
				name := fmt.Sprintf("seed %d gap %v ooo %v late %v", seed, gap, tm.OutOfOrder, tm.AllowedLateness)
				got, late, _ := runEngine(t, spec, tm, evs, randomSplits(r, len(evs)))
				want, wantLate := refSession(spec, tm, evs)
				if late != wantLate {
					t.Errorf("%s: %d late, reference %d", name, late, wantLate)
				}
				compare(t, name, got, want)
			}
		}
	}
}

func TestCountMatchesReference(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		for _, spec := range []Spec{{Kind: Count, Count: 5}, {Kind: Count, Count: 6, CountSlide: 2}, {Kind: Count, Count: 1}} {
			r := rand.New(rand.NewPCG(seed, 13))
			evs := genStream(r, 300, 3, 2500, 20000)
			got, late, _ := runEngine(t, spec, Time{}, evs, randomSplits(r, len(evs)))
			if late != 0 {
				t.Errorf("count windows reported %d late events", late)
			}
			compare(t, fmt.Sprintf("seed %d count %d/%d", seed, spec.Count, spec.CountSlide), got, refCount(spec, evs))
		}
	}
}

func TestGlobalEmitsOnFlush(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	evs := genStream(r, 200, 3, 2500, 20000)
	got, _, _ := runEngine(t, Spec{Kind: Global}, Time{}, evs, []int{10, 100})
	byKey := map[string][]tev{}
	for _, e := range evs {
		byKey[e.key] = append(byKey[e.key], e)
	}
	if len(got) != len(byKey) {
		t.Fatalf("%d global results for %d keys", len(got), len(byKey))
	}
	for _, g := range got {
		want, _ := refAgg(byKey[g.key])
		if g.values != want || g.rev != 0 {
			t.Errorf("key %s: got %s rev %d, want %s", g.key, g.values, g.rev, want)
		}
	}
}

func TestSessionMaxDuration(t *testing.T) {
	var table core.FieldTable
	plan, _ := aggregate.Compile([]aggregate.Spec{{Op: aggregate.Count}}, &table)
	op, err := New("f", Spec{Kind: Session, Gap: 10 * time.Second, MaxDuration: 30 * time.Second}, Time{}, plan)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	emit := func(r *core.WindowResult) {
		got = append(got, fmt.Sprintf("%s-%s:%v", r.Start.Format("04:05"), r.End.Format("04:05"), r.Values[0].Num))
	}
	// Events every 5 s for a minute: one endless session without a cap, two 30 s sessions with it.
	for s := 0; s <= 55; s += 5 {
		ev := core.Event{Key: "k", Time: time.Unix(int64(s), 0)}
		op.Add(&ev, emit)
		op.Advance(ev.Time, emit)
	}
	op.Flush(emit)
	want := []string{"00:00-00:35:6", "00:30-01:05:6"}
	if !slices.Equal(got, want) {
		t.Errorf("sessions %v, want %v", got, want)
	}
}

func TestValidateRejects(t *testing.T) {
	bad := []Spec{
		{},
		{Kind: "hopping"},
		{Kind: Tumbling},
		{Kind: Sliding, Size: time.Second, Slide: 2 * time.Second},
		{Kind: Session},
		{Kind: Count, Count: 5, CountSlide: 2},
	}
	for _, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
	if err := (Time{OutOfOrder: -1}).Validate(); err == nil {
		t.Error("negative out-of-orderness accepted")
	}
}
