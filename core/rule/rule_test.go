package rule

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// win is window i of width w for key, with the given numeric values as name, value pairs.
func win(key string, i int, w time.Duration, rev int, kv ...any) *core.WindowResult {
	r := &core.WindowResult{Function: "fn", Key: key, Start: t0.Add(time.Duration(i) * w),
		End: t0.Add(time.Duration(i+1) * w), Revision: rev}
	for j := 0; j < len(kv); j += 2 {
		r.Values = append(r.Values, core.NamedValue{Name: kv[j].(string), Num: kv[j+1].(float64)})
	}
	return r
}

func mustCompile(t testing.TB, cfg Config) *Set {
	t.Helper()
	s, err := Compile(cfg)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

// feed runs results through e and returns each decision as "rule state @window-index/revision".
func feed(t testing.TB, e *Engine, w time.Duration, rs ...*core.WindowResult) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		err := e.Decide(context.Background(), r, func(d *core.Decision) {
			out = append(out, fmt.Sprintf("%s %s @%d/%d", d.Rule, d.State, d.Window.Start.Sub(t0)/w, r.Revision))
			checkDecision(t, d, r)
		})
		if err != nil {
			t.Fatalf("Decide(%s rev %d): %v", r.Start.Format(time.TimeOnly), r.Revision, err)
		}
	}
	return out
}

// checkDecision checks the fields every decision about r must have.
func checkDecision(t testing.TB, d *core.Decision, r *core.WindowResult) {
	t.Helper()
	w := core.Span{Start: r.Start, End: r.End}
	if d.Function != r.Function || d.Key != r.Key || d.Window != w || !d.Time.Equal(r.End) {
		t.Errorf("decision %+v does not refer to window %v of %s/%s", d, w, r.Function, r.Key)
	}
	transition := d.State
	if want := core.DecisionID(r.Function, d.Rule, r.Key, w, string(transition), r.Revision); d.ID != want {
		t.Errorf("decision %s %s: id %s, want %s", d.Rule, d.State, d.ID, want)
	}
	if len(d.Values) < len(r.Values) {
		t.Fatalf("decision values %v lack the window's %v", d.Values, r.Values)
	}
	for i, v := range r.Values {
		if d.Values[i].Name != v.Name || (d.Values[i].Num != v.Num && !math.IsNaN(v.Num)) {
			t.Errorf("decision value %d = %+v, want %+v", i, d.Values[i], v)
		}
	}
}

func series(key, name string, w time.Duration, vals ...float64) []*core.WindowResult {
	rs := make([]*core.WindowResult, len(vals))
	for i, v := range vals {
		rs[i] = win(key, i, w, 0, name, v)
	}
	return rs
}

func eq(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("decisions:\n got %q\nwant %q", got, want)
	}
}

// A player whose load stays above the limit for 3 consecutive one-minute windows is benched.
func TestUseCaseBenchPlayer(t *testing.T) {
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "load"}, {Name: "count"}},
		Thresholds: []Threshold{{Name: "bench", Severity: "warning", Condition: "load > 100.0 && count >= 10", ForWindows: 3}},
	})
	e := s.NewEngine()
	var rs []*core.WindowResult
	for i, load := range []float64{90, 120, 130, 95, 120, 130, 140, 150, 80, 120} {
		rs = append(rs, win("player-7", i, time.Minute, 0, "load", load, "count", 30.0))
	}
	// One window with too few samples breaks the streak like a low load does.
	rs = append(rs, win("player-7", 10, time.Minute, 0, "load", 130.0, "count", 3.0),
		win("player-7", 11, time.Minute, 0, "load", 130.0, "count", 30.0))
	got := feed(t, e, time.Minute, rs...)
	eq(t, got, []string{"bench firing @6/0", "bench resolved @8/0"})
}

// A temperature alarm fires above 80 and clears only below 70.
func TestUseCaseTemperatureHysteresis(t *testing.T) {
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "temp"}},
		Thresholds: []Threshold{{Name: "hot", Severity: "critical", Condition: "temp > 80", Clear: "temp < 70"}},
	})
	got := feed(t, s.NewEngine(), time.Minute, series("boiler", "temp", time.Minute, 75, 85, 78, 72, 81, 69, 75, 79, 81)...)
	eq(t, got, []string{"hot firing @1/0", "hot resolved @5/0", "hot firing @8/0"})
}

func TestForDuration(t *testing.T) {
	w := 30 * time.Second
	cfg := Config{
		Aggregates: []Aggregate{{Name: "x"}},
		Thresholds: []Threshold{{Name: "r", Condition: "x > 10", ForDuration: 2 * time.Minute}},
	}
	s := mustCompile(t, cfg)
	// From the start of window 1 to the end of window 4 is two minutes.
	got := feed(t, s.NewEngine(), w, series("k", "x", w, 0, 20, 20, 20, 20, 20, 0)...)
	eq(t, got, []string{"r firing @4/0", "r resolved @6/0"})

	// Event time counts, not windows: a gap (no results for a while) still covers the duration...
	rs := []*core.WindowResult{win("k", 0, w, 0, "x", 20.0), win("k", 5, w, 0, "x", 20.0)}
	eq(t, feed(t, s.NewEngine(), w, rs...), []string{"r firing @5/0"})
	// ...unless ResetOnGap says a gap breaks the streak.
	cfg.Thresholds[0].ResetOnGap = true
	s = mustCompile(t, cfg)
	rs = append(rs, win("k", 6, w, 0, "x", 20.0), win("k", 7, w, 0, "x", 20.0), win("k", 8, w, 0, "x", 20.0), win("k", 9, w, 0, "x", 20.0))
	eq(t, feed(t, s.NewEngine(), w, rs...), []string{"r firing @8/0"})
}

func TestForWindowsResetOnGap(t *testing.T) {
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "x"}},
		Thresholds: []Threshold{{Name: "r", Condition: "x > 10", ForWindows: 2, ResetOnGap: true}},
	})
	rs := []*core.WindowResult{win("k", 0, time.Minute, 0, "x", 20.0), win("k", 2, time.Minute, 0, "x", 20.0), win("k", 3, time.Minute, 0, "x", 20.0)}
	eq(t, feed(t, s.NewEngine(), time.Minute, rs...), []string{"r firing @3/0"})
}

func TestKeepFiringFor(t *testing.T) {
	vals := []float64{20, 5, 5, 20, 5, 5, 5, 5}
	want := []string{"r firing @0/0", "r resolved @6/0"}
	for _, th := range []Threshold{
		{Name: "r", Condition: "x > 10", KeepFiringForWindows: 2},
		{Name: "r", Condition: "x > 10", KeepFiringFor: 2 * time.Minute},
	} {
		s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{th}})
		eq(t, feed(t, s.NewEngine(), time.Minute, series("k", "x", time.Minute, vals...)...), want)
	}
	// Keep firing applies to the clear condition under hysteresis, and a window in the band
	// between the two thresholds restarts the count.
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{
		{Name: "r", Condition: "x > 80", Clear: "x < 70", KeepFiringForWindows: 1}}})
	eq(t, feed(t, s.NewEngine(), time.Minute, series("k", "x", time.Minute, 90, 60, 75, 60, 60, 90)...),
		[]string{"r firing @0/0", "r resolved @4/0", "r firing @5/0"})
}

func TestFlapping(t *testing.T) {
	flap := []float64{20, 5, 20, 5, 20, 5, 20, 5}
	cases := []struct {
		name string
		th   Threshold
		want []string
	}{
		{"no for", Threshold{Condition: "x > 10"}, []string{
			"r firing @0/0", "r resolved @1/0", "r firing @2/0", "r resolved @3/0",
			"r firing @4/0", "r resolved @5/0", "r firing @6/0", "r resolved @7/0"}},
		{"for 2", Threshold{Condition: "x > 10", ForWindows: 2}, nil},
		{"keep firing", Threshold{Condition: "x > 10", KeepFiringForWindows: 1}, []string{"r firing @0/0"}},
		{"pending emitted", Threshold{Condition: "x > 10", ForWindows: 2, EmitPending: true}, []string{
			"r pending @0/0", "r resolved @1/0", "r pending @2/0", "r resolved @3/0",
			"r pending @4/0", "r resolved @5/0", "r pending @6/0", "r resolved @7/0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.th.Name = "r"
			s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{c.th}})
			eq(t, feed(t, s.NewEngine(), time.Minute, series("k", "x", time.Minute, flap...)...), c.want)
		})
	}
}

func TestPendingThenFiring(t *testing.T) {
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{
		{Name: "r", Condition: "x > 10", ForWindows: 3, EmitPending: true}}})
	eq(t, feed(t, s.NewEngine(), time.Minute, series("k", "x", time.Minute, 20, 20, 20, 20, 5)...),
		[]string{"r pending @0/0", "r firing @2/0", "r resolved @4/0"})
}

func TestRevisions(t *testing.T) {
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{
		{Name: "r", Condition: "x > 10", ForWindows: 2}}})
	e := s.NewEngine()
	m := time.Minute
	steps := []struct {
		r    *core.WindowResult
		want []string
	}{
		{win("k", 0, m, 0, "x", 20.0), nil},                       // pending
		{win("k", 1, m, 0, "x", 5.0), nil},                        // inactive
		{win("k", 1, m, 1, "x", 15.0), []string{"r firing @1/1"}}, // re-evaluated from pending: fires
		{win("k", 1, m, 1, "x", 15.0), nil},                       // the same revision again: nothing new
		{win("k", 1, m, 2, "x", 3.0), []string{"r resolved @1/2"}},
		{win("k", 1, m, 1, "x", 15.0), nil}, // an older revision is ignored
		{win("k", 0, m, 1, "x", 1.0), nil},  // so is an older window
		{win("k", 2, m, 0, "x", 20.0), nil}, // the state after revision 2 was inactive: pending again
		{win("k", 3, m, 0, "x", 20.0), []string{"r firing @3/0"}},
		{win("k", 3, m, 1, "x", 25.0), nil}, // still firing: nothing to say
	}
	for i, st := range steps {
		got := feed(t, e, m, st.r)
		if !slices.Equal(got, st.want) {
			t.Errorf("step %d: got %q, want %q", i, got, st.want)
		}
	}

	// Decisions caused by different revisions of a window have different ids.
	var ids []string
	e = s.NewEngine()
	for _, r := range []*core.WindowResult{win("k", 0, m, 0, "x", 20.0), win("k", 1, m, 0, "x", 20.0),
		win("k", 1, m, 1, "x", 0.0), win("k", 1, m, 2, "x", 20.0)} {
		if err := e.Decide(context.Background(), r, func(d *core.Decision) { ids = append(ids, string(d.State)+" "+d.ID) }); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != 3 || ids[0][:6] != "firing" || ids[2][:6] != "firing" || ids[0] == ids[2] {
		t.Errorf("ids %q: want firing, resolved, firing with distinct ids", ids)
	}
}

func TestRevisionFiringToPending(t *testing.T) {
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{
		{Name: "r", Condition: "x > 10", ForWindows: 2, EmitPending: true}}})
	m := time.Minute
	got := feed(t, s.NewEngine(), m, win("k", 0, m, 0, "x", 20.0), win("k", 1, m, 0, "x", 20.0),
		win("k", 1, m, 1, "x", 5.0), win("k", 2, m, 0, "x", 20.0), win("k", 2, m, 1, "x", 5.0),
		win("k", 2, m, 2, "x", 20.0))
	eq(t, got, []string{"r pending @0/0", "r firing @1/0", "r resolved @1/1",
		"r pending @2/0", "r resolved @2/1", "r pending @2/2"})
}

func TestPrev(t *testing.T) {
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{
		{Name: "jump", Condition: "!first && x > 2.0 * prev.x"},
		{Name: "has", Condition: "has(prev.x) && prev.x == 1"},
	}})
	m := time.Minute
	got := feed(t, s.NewEngine(), m, series("k", "x", m, 1, 3, 4, 9)...)
	// Thresholds are evaluated in config order within a window.
	eq(t, got, []string{"jump firing @1/0", "has firing @1/0", "jump resolved @2/0", "has resolved @2/0", "jump firing @3/0"})

	// A revision of the latest window sees the window before it as prev, not its own first
	// revision.
	got = feed(t, s.NewEngine(), m, win("k", 0, m, 0, "x", 1.0), win("k", 1, m, 0, "x", 1.0), win("k", 1, m, 1, "x", 5.0))
	eq(t, got, []string{"has firing @1/0", "jump firing @1/1"})

	// Reading prev without a guard is an error on a key's first window, naming rule and key.
	s = mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{{Name: "raw", Condition: "x > prev.x"}}})
	e := s.NewEngine()
	err := e.Decide(context.Background(), win("k", 0, m, 0, "x", 1.0), func(*core.Decision) { t.Error("unexpected decision") })
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Rule != "raw" || ee.Key != "k" || !strings.Contains(err.Error(), "no such key") {
		t.Errorf("err = %v, want an EvalError for rule raw key k (no such key)", err)
	}
	eq(t, feed(t, e, m, win("k", 1, m, 0, "x", 2.0)), []string{"raw firing @1/0"})
}

func TestVariables(t *testing.T) {
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "n"}, {Name: "top", List: true}},
		Thresholds: []Threshold{
			{Name: "top", Condition: `top.exists(i, i.value == "a" && i.count >= 3)`},
			{Name: "vars", Condition: `key == "k" && revision == 0 && window.end - window.start == duration("1m") && window.start >= timestamp("2024-05-01T12:00:00Z")`},
			{Name: "attrs", Condition: `"zone" in attrs && attrs.zone == "eu"`},
			{Name: "int", Condition: `n >= 10 && n < 11 && n == 10.0 && n != 9.0`},
		},
	})
	r := win("k", 0, time.Minute, 0, "n", 10.0)
	r.Values = append(r.Values, core.NamedValue{Name: "top", IsList: true, Items: []core.Item{{Value: "b", Count: 9}, {Value: "a", Count: 3}}})
	var got []string
	err := s.NewEngine().DecideAttrs(context.Background(), r, map[string]string{"zone": "eu"}, func(d *core.Decision) {
		got = append(got, d.Rule)
		checkDecision(t, d, r)
		if d.Values[1].Items[0] != r.Values[1].Items[0] {
			t.Errorf("values not copied: %+v", d.Values[1])
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, got, []string{"top", "vars", "attrs", "int"})
	// Decisions own their values.
	var d0 *core.Decision
	e := s.NewEngine()
	_ = e.Decide(context.Background(), r, func(d *core.Decision) { d0 = d })
	r.Values[1].Items[0].Count = 999
	if d0.Values[1].Items[0].Count == 999 {
		t.Error("decision shares the result's items")
	}
}

func TestZScore(t *testing.T) {
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "x"}},
		Anomalies: []Anomaly{
			{Name: "z", Severity: "info", Aggregate: "x", Method: ZScore, Window: 5, Threshold: 3},
			{Name: "zdown", Aggregate: "x", Method: ZScore, Window: 5, Threshold: 3, Direction: Below},
		},
	})
	m := time.Minute
	// Warm-up: four previous values are not enough, however extreme the fifth.
	eq(t, feed(t, s.NewEngine(), m, series("k", "x", m, 10, 12, 10, 12, 1000)...), nil)

	var ds []*core.Decision
	e := s.NewEngine()
	for _, r := range series("k", "x", m, 10, 12, 10, 12, 10, 30, 10.8) {
		if err := e.Decide(context.Background(), r, func(d *core.Decision) { ds = append(ds, d); checkDecision(t, d, r) }); err != nil {
			t.Fatal(err)
		}
	}
	if len(ds) != 1 {
		t.Fatalf("got %d decisions, want 1 (the spike, not flagged by zdown)", len(ds))
	}
	d := ds[0]
	// Mean of 10,12,10,12,10 is 10.8, population stddev sqrt(0.96).
	wantZ := (30 - 10.8) / math.Sqrt(0.96)
	if d.Rule != "z" || d.State != core.StateAnomaly || d.Severity != "info" || d.Window.Start != t0.Add(5*m) {
		t.Errorf("decision %+v", d)
	}
	vals := d.Values[1:]
	if vals[0].Name != ValueScore || math.Abs(vals[0].Num-wantZ) > 1e-9 || vals[1].Name != ValueMean ||
		math.Abs(vals[1].Num-10.8) > 1e-12 || vals[2].Name != ValueStddev || math.Abs(vals[2].Num-math.Sqrt(0.96)) > 1e-12 {
		t.Errorf("values %+v, want score %v mean 10.8 stddev %v", vals, wantZ, math.Sqrt(0.96))
	}

	// The history is rolling: after the spike leaves the last 5 values a moderate value is
	// judged against quiet data again.
	e = s.NewEngine()
	got := feed(t, e, m, series("k", "x", m, 10, 12, 10, 12, 10, 12, 10, 12, 10, 12, 5)...)
	eq(t, got, []string{"z anomaly @10/0", "zdown anomaly @10/0"})
}

func TestZScoreRevisionsAndMissing(t *testing.T) {
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}},
		Anomalies: []Anomaly{{Name: "z", Aggregate: "x", Method: ZScore, Window: 3, Threshold: 3}}})
	m := time.Minute
	e := s.NewEngine()
	rs := series("k", "x", m, 10, 11, 12)
	rs = append(rs,
		win("k", 3, m, 0, "x", 11.0),  // normal
		win("k", 3, m, 1, "x", 100.0), // a revision replaces the value: anomaly with seq 1
		win("k", 3, m, 2, "x", 200.0), // still anomalous: a window is flagged once
		win("k", 3, m, 3, "x", 11.0),  // no longer: nothing is taken back
		win("k", 4, m, 0),             // missing value: skipped
		win("k", 5, m, 0, "x", math.NaN()),
		win("k", 6, m, 0, "x", 11.0)) // history is 11,12,11 (the revision's final value)
	eq(t, feed(t, e, m, rs...), []string{"z anomaly @3/1"})
	ks := e.keys["k"]
	if want := []float64{11, 12, 11, 11}; !slices.Equal(ks.an[0].hist, want) {
		t.Errorf("history %v, want %v", ks.an[0].hist, want)
	}
}

func TestEWMA(t *testing.T) {
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}},
		Anomalies: []Anomaly{{Name: "ew", Aggregate: "x", Method: EWMA, Alpha: 0.5, Warmup: 3, Threshold: 3}}})
	var ds []*core.Decision
	e := s.NewEngine()
	// Worked by hand: m, d after each value: (10,0) (11,1) (10.5,1) (11.25,1.25); the jump at x=12
	// (score +Inf) is inside the warm-up, 20 scores (20-11.25)/1.25 = 7.
	for _, r := range series("k", "x", time.Minute, 10, 12, 10, 12, 20) {
		if err := e.Decide(context.Background(), r, func(d *core.Decision) { ds = append(ds, d); checkDecision(t, d, r) }); err != nil {
			t.Fatal(err)
		}
	}
	if len(ds) != 1 || ds[0].Window.Start != t0.Add(4*time.Minute) {
		t.Fatalf("got %d decisions %+v, want one for window 4", len(ds), ds)
	}
	want := []core.NamedValue{{Name: "x", Num: 20}, {Name: ValueScore, Num: 7}, {Name: ValueEWMA, Num: 11.25}, {Name: ValueEWMAD, Num: 1.25}}
	if !slices.EqualFunc(ds[0].Values, want, func(a, b core.NamedValue) bool { return a.Name == b.Name && a.Num == b.Num }) {
		t.Errorf("values %+v, want %+v", ds[0].Values, want)
	}
	// A revision of the latest window re-scores it from the state before it.
	eq(t, feed(t, e, time.Minute, win("k", 5, time.Minute, 0, "x", 15.0), win("k", 5, time.Minute, 1, "x", 15.0)), nil)
	st := e.keys["k"].an[0]
	// Before window 5: m = 11.25+0.5*8.75 = 15.625, d = 0.625+4.375 = 5; x=15 moves them to
	// m = 15.3125, d = 2.8125.
	if st.before != (ewmaState{m: 15.625, d: 5, n: 5}) || st.cur != (ewmaState{m: 15.3125, d: 2.8125, n: 6}) {
		t.Errorf("state before %+v cur %+v", st.before, st.cur)
	}
}

func TestCostLimit(t *testing.T) {
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "top", List: true}},
		Thresholds: []Threshold{
			{Name: "quadratic", Condition: "top.all(a, top.all(b, a.count + b.count >= 0))"},
			{Name: "literal", Condition: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))"},
		},
		CostLimit: 100_000,
	})
	r := win("k", 0, time.Minute, 0)
	items := make([]core.Item, 2000)
	for i := range items {
		items[i] = core.Item{Value: fmt.Sprint(i), Count: uint64(i)}
	}
	r.Values = []core.NamedValue{{Name: "top", IsList: true, Items: items}}
	err := s.NewEngine().Decide(context.Background(), r, func(*core.Decision) { t.Error("unexpected decision") })
	if !errors.Is(err, ErrCostLimit) {
		t.Fatalf("err = %v, want ErrCostLimit", err)
	}
	for _, name := range []string{`rule "quadratic"`, `rule "literal"`, "limit 100000"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not mention %s", err, name)
		}
	}
}

// Conditions whose worst case the checker can bound run unmetered; the others are metered.
func TestStaticCostBound(t *testing.T) {
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "avg"}, {Name: "count"}, {Name: "top", List: true}},
		Thresholds: []Threshold{
			{Name: "simple", Condition: "avg > 80.0 && count >= 10 || window.end - window.start > duration('1h')"},
			{Name: "list", Condition: "top.exists(i, i.count > 3)"},
			{Name: "string", Condition: "key.contains('x')"},
		},
	})
	for i, want := range []bool{true, false, false} {
		if got := s.thresholds[i].fire.bounded; got != want {
			t.Errorf("rule %s: bounded = %v, want %v", s.thresholds[i].Name, got, want)
		}
	}
	// A limit below the simple condition's worst case meters it too.
	s = mustCompile(t, Config{Aggregates: []Aggregate{{Name: "avg"}}, CostLimit: 1,
		Thresholds: []Threshold{{Name: "simple", Condition: "avg > 80.0 && avg < 90.0"}}})
	if s.thresholds[0].fire.bounded {
		t.Error("condition over the limit is not metered")
	}
	err := s.NewEngine().Decide(context.Background(), win("k", 0, time.Minute, 0, "avg", 85.0), func(*core.Decision) {})
	if !errors.Is(err, ErrCostLimit) {
		t.Errorf("err = %v, want ErrCostLimit", err)
	}
}

func TestCompileErrors(t *testing.T) {
	aggs := []Aggregate{{Name: "avg"}, {Name: "top", List: true}}
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"undeclared", Config{Thresholds: []Threshold{{Name: "hot", Condition: "avg > 1 && nope"}}},
			[]string{`rule "hot"`, "field condition", "condition:1:12", "undeclared reference to 'nope'"}},
		{"not bool", Config{Thresholds: []Threshold{{Name: "hot", Condition: "avg + 1.0"}}},
			[]string{`rule "hot"`, "must be of type bool, got double"}},
		{"dyn", Config{Thresholds: []Threshold{{Name: "hot", Condition: "prev.avg"}}},
			[]string{`rule "hot"`, "must be of type bool, got dyn"}},
		{"type error in clear", Config{Thresholds: []Threshold{{Name: "hot", Condition: "avg > 1", Clear: "top > 1"}}},
			[]string{`rule "hot"`, "field clear", "clear:1:5", "no matching overload"}},
		{"int equality", Config{Thresholds: []Threshold{{Name: "eq", Condition: "avg == 10"}}},
			[]string{`rule "eq"`, "condition:1:5", "no matching overload for '_==_' applied to '(double, int)'"}},
		{"syntax", Config{Thresholds: []Threshold{{Name: "s", Condition: "avg >"}}},
			[]string{`rule "s"`, "condition:1:6", "Syntax error"}},
		{"empty", Config{Thresholds: []Threshold{{Name: "e"}}}, []string{`rule "e"`, "field condition", "must not be empty"}},
		{"no name", Config{Thresholds: []Threshold{{Condition: "true"}}}, []string{"field name"}},
		{"dup", Config{Thresholds: []Threshold{{Name: "d", Condition: "true"}}, Anomalies: []Anomaly{{Name: "d", Aggregate: "avg", Method: EWMA, Alpha: 0.1, Threshold: 3}}},
			[]string{`rule "d"`, "used by another rule"}},
		{"for both", Config{Thresholds: []Threshold{{Name: "f", Condition: "true", ForWindows: 2, ForDuration: time.Minute}}},
			[]string{`rule "f"`, "field for", "not both"}},
		{"keep negative", Config{Thresholds: []Threshold{{Name: "f", Condition: "true", KeepFiringFor: -time.Second}}},
			[]string{`rule "f"`, "field keep_firing_for"}},
		{"anomaly aggregate", Config{Anomalies: []Anomaly{{Name: "a", Aggregate: "nope", Method: ZScore, Window: 5, Threshold: 3}}},
			[]string{`rule "a"`, "field aggregate", `no aggregate named "nope"`}},
		{"anomaly list", Config{Anomalies: []Anomaly{{Name: "a", Aggregate: "top", Method: ZScore, Window: 5, Threshold: 3}}},
			[]string{`rule "a"`, "field aggregate", "is a list"}},
		{"anomaly method", Config{Anomalies: []Anomaly{{Name: "a", Aggregate: "avg", Method: "mad", Threshold: 3}}},
			[]string{`rule "a"`, "field method"}},
		{"anomaly alpha", Config{Anomalies: []Anomaly{{Name: "a", Aggregate: "avg", Method: EWMA, Alpha: 1.5, Threshold: 3}}},
			[]string{`rule "a"`, "field alpha"}},
		{"anomaly window", Config{Anomalies: []Anomaly{{Name: "a", Aggregate: "avg", Method: ZScore, Window: 1, Threshold: 3}}},
			[]string{`rule "a"`, "field window"}},
		{"anomaly warmup", Config{Anomalies: []Anomaly{{Name: "a", Aggregate: "avg", Method: ZScore, Window: 5, Warmup: 6, Threshold: 3}}},
			[]string{`rule "a"`, "field warmup"}},
		{"anomaly threshold", Config{Anomalies: []Anomaly{{Name: "a", Aggregate: "avg", Method: ZScore, Window: 5}}},
			[]string{`rule "a"`, "field threshold"}},
		{"anomaly direction", Config{Anomalies: []Anomaly{{Name: "a", Aggregate: "avg", Method: ZScore, Window: 5, Threshold: 1, Direction: "up"}}},
			[]string{`rule "a"`, "field direction"}},
		{"aggregate name", Config{Aggregates: []Aggregate{{Name: "p99.9"}}}, []string{`aggregate "p99.9"`, "not a CEL identifier"}},
		{"aggregate reserved", Config{Aggregates: []Aggregate{{Name: "key"}}}, []string{`aggregate "key"`, "taken"}},
		{"aggregate keyword", Config{Aggregates: []Aggregate{{Name: "in"}}}, []string{`aggregate "in"`, "reserved"}},
		{"nil handler", Config{Handlers: []Handler{nil}}, []string{"handler 0 is nil"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.cfg.Aggregates == nil {
				c.cfg.Aggregates = aggs
			}
			err := c.cfg.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestHandlers(t *testing.T) {
	big := HandlerFunc(func(_ context.Context, r *core.WindowResult, emit Emit) error {
		if v, ok := r.Value("x"); ok && v.Num > 100 {
			emit(NewDecision(r, "big", "matched", "info"))
		}
		return nil
	})
	failing := HandlerFunc(func(context.Context, *core.WindowResult, Emit) error { return errors.New("boom") })
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "x"}},
		Thresholds: []Threshold{{Name: "r", Condition: "x > 10"}},
		Handlers:   []Handler{big},
	})
	m := time.Minute
	eq(t, feed(t, s.NewEngine(), m, series("k", "x", m, 5, 200, 50, 500)...),
		[]string{"r firing @1/0", "big matched @1/0", "big matched @3/0"})
	// Handlers see stale results the state machines ignore.
	eq(t, feed(t, s.NewEngine(), m, win("k", 3, m, 0, "x", 1.0), win("k", 1, m, 0, "x", 200.0)), []string{"big matched @1/0"})

	// An engine composes as a Handler, and handler errors are returned after the other rules ran.
	outer := mustCompile(t, Config{Handlers: []Handler{s.NewEngine(), failing}}).NewEngine()
	var got []string
	err := outer.Decide(context.Background(), win("k", 0, m, 0, "x", 200.0), func(d *core.Decision) { got = append(got, d.Rule) })
	eq(t, got, []string{"r", "big"})
	if err == nil || err.Error() != "boom" {
		t.Errorf("err = %v, want boom", err)
	}
}

func TestExpire(t *testing.T) {
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, IdleTTL: 10 * time.Minute,
		Thresholds: []Threshold{{Name: "r", Severity: "page", Condition: "x > 10"}, {Name: "first", Condition: "first"}}})
	e := s.NewEngine()
	m := time.Minute
	feed(t, e, m, win("a", 0, m, 0, "x", 20.0), win("b", 0, m, 0, "x", 1.0), win("c", 5, m, 0, "x", 20.0))
	var ds []*core.Decision
	now := t0.Add(11*m + time.Second) // a and b ended at 12:01, more than 10m ago; c at 12:06
	if n := e.Expire(now, func(d *core.Decision) { ds = append(ds, d) }); n != 2 || e.Len() != 1 {
		t.Fatalf("Expire = %d, Len = %d; want 2, 1", n, e.Len())
	}
	// Only a's open alarms resolve (b's "first" fired too): in key order.
	var got []string
	for _, d := range ds {
		got = append(got, d.Key+" "+d.Rule+" "+string(d.State))
		if !d.Time.Equal(now) || d.Window.End != t0.Add(m) || d.Function != "fn" {
			t.Errorf("expiry decision %+v", d)
		}
	}
	eq(t, got, []string{"a r resolved", "a first resolved", "b first resolved"})
	if want := core.DecisionID("fn", "r", "a", core.Span{Start: t0, End: t0.Add(m)}, "resolved/expired", 0); ds[0].ID != want {
		t.Errorf("id %s, want %s", ds[0].ID, want)
	}
	// An expired key starts over: first holds again.
	eq(t, feed(t, e, m, win("a", 20, m, 0, "x", 1.0)), []string{"first firing @20/0"})
	if n := s.NewEngine().Expire(now, nil); n != 0 {
		t.Errorf("Expire on empty engine = %d", n)
	}
}

// Engines from one Set run concurrently (run with -race).
func TestConcurrentEngines(t *testing.T) {
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{{Name: "r", Condition: "x > 10 && (first || prev.x <= 10)", ForWindows: 2}},
		Anomalies: []Anomaly{{Name: "z", Aggregate: "x", Method: ZScore, Window: 4, Threshold: 2}}})
	var wg sync.WaitGroup
	results := make([][]string, 4)
	for g := range results {
		wg.Go(func() {
			results[g] = feed(t, s.NewEngine(), time.Minute, series("k", "x", time.Minute, 1, 20, 30, 2, 1, 2, 1, 50, 1)...)
		})
	}
	wg.Wait()
	for _, r := range results[1:] {
		eq(t, r, results[0])
	}
	if len(results[0]) == 0 {
		t.Error("no decisions")
	}
}

// An each_window rule judges every window alone: two abandoned carts in a row are two decisions, a
// window that no longer qualifies after a revision is resolved, and state does not leak across
// windows (a snapshot in between changes nothing).
func TestEachWindow(t *testing.T) {
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "carts"}, {Name: "orders"}}, Thresholds: []Threshold{
		{Name: "recommend", Condition: "carts > 0.0 && orders == 0.0", EachWindow: true}}})
	m := 30 * time.Minute
	steps := []struct {
		r    *core.WindowResult
		want []string
	}{
		{win("u", 0, m, 0, "carts", 1.0, "orders", 0.0), []string{"recommend firing @0/0"}},
		{win("u", 1, m, 0, "carts", 2.0, "orders", 0.0), []string{"recommend firing @1/0"}}, // again: a new visit
		{win("u", 1, m, 1, "carts", 3.0, "orders", 0.0), nil},                               // still qualifies
		{win("u", 1, m, 2, "carts", 3.0, "orders", 1.0), []string{"recommend resolved @1/2"}},
		{win("u", 1, m, 3, "carts", 3.0, "orders", 0.0), []string{"recommend firing @1/3"}},
		{win("u", 2, m, 0, "carts", 0.0, "orders", 0.0), nil},
		{win("u", 3, m, 0, "carts", 1.0, "orders", 0.0), []string{"recommend firing @3/0"}},
		{win("u", 3, m, 1, "carts", 0.0, "orders", 0.0), []string{"recommend resolved @3/1"}},
		{win("u", 4, m, 0, "carts", 1.0, "orders", 1.0), nil},
	}
	whole := s.NewEngine()
	var split *Engine
	for i, st := range steps {
		if got := feed(t, whole, m, st.r); !slices.Equal(got, st.want) {
			t.Errorf("step %d: got %q, want %q", i, got, st.want)
		}
		// The same stream with a snapshot and restore before every window.
		if split != nil {
			b, err := split.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			split = s.NewEngine()
			if err := split.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
		} else {
			split = s.NewEngine()
		}
		if got := feed(t, split, m, st.r); !slices.Equal(got, st.want) {
			t.Errorf("step %d after restore: got %q, want %q", i, got, st.want)
		}
	}
	// Expiring an idle key whose last window fired says nothing: no state was open.
	ttl := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "carts"}, {Name: "orders"}}, IdleTTL: time.Hour, Thresholds: []Threshold{
		{Name: "recommend", Condition: "carts > 0.0 && orders == 0.0", EachWindow: true}}})
	e := ttl.NewEngine()
	if got := feed(t, e, m, win("u", 0, m, 0, "carts", 1.0, "orders", 0.0)); len(got) != 1 {
		t.Fatalf("got %q, want one firing", got)
	}
	var expired []string
	if n := e.Expire(t0.Add(10*time.Hour), func(d *core.Decision) { expired = append(expired, string(d.State)) }); n != 1 || len(expired) != 0 {
		t.Errorf("Expire dropped %d keys and emitted %q, want 1 key and nothing", n, expired)
	}
	for _, bad := range []Threshold{
		{Name: "b", Condition: "carts > 0.0", EachWindow: true, ForWindows: 2},
		{Name: "b", Condition: "carts > 0.0", EachWindow: true, Clear: "carts == 0.0"},
		{Name: "b", Condition: "carts > 0.0", EachWindow: true, KeepFiringFor: time.Minute},
		{Name: "b", Condition: "carts > 0.0", EachWindow: true, EmitPending: true},
	} {
		if _, err := Compile(Config{Aggregates: []Aggregate{{Name: "carts"}}, Thresholds: []Threshold{bad}}); err == nil ||
			!strings.Contains(err.Error(), "each_window") {
			t.Errorf("%+v: error %v, want one naming each_window", bad, err)
		}
	}
}
