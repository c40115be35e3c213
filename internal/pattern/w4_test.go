package pattern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// w4Config is the standard workload W4 (see DESIGN.md).
func w4Config() Config {
	return Config{
		Name:       "w4",
		Function:   "w4",
		Within:     10 * time.Second,
		Contiguity: Strict,
		Steps: []Step{
			{Name: "high", Where: "value > 90.0", Times: 3},
			{Name: "low", Where: "value < 10.0"},
		},
	}
}

type genEvent struct {
	key   string
	t     time.Time
	value float64
	id    string
}

// genW4 makes a W4-like stream: time advancing step ms per event (on average), each event up to
// disorder behind it, values from pick. Times are rounded to round so that ties are common.
func genW4(rng *rand.Rand, n, keys int, step, disorder, round time.Duration, pick func() float64) []genEvent {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]genEvent, n)
	cur := base
	for i := range out {
		cur = cur.Add(time.Duration(rng.Int64N(int64(2*step) + 1)))
		d := time.Duration(0)
		if disorder > 0 {
			d = time.Duration(rng.Int64N(int64(disorder) + 1))
		}
		t := cur.Add(-d)
		if round > 0 {
			// Round the clock and the delay, so ties are common and no event is further behind
			// the running maximum than disorder.
			t = cur.Truncate(round).Add(-d.Truncate(round))
		}
		out[i] = genEvent{
			key:   fmt.Sprintf("sensor-%04d", rng.IntN(keys)),
			t:     t,
			value: pick(),
			id:    fmt.Sprintf("r%d", i),
		}
	}
	return out
}

type span struct {
	key        string
	start, end time.Time
	count      float64
}

// referenceW4 is the obviously correct W4 matcher: all events of a key, stably sorted by time
// (arrival breaks ties), scanned left to right; after a match the scan resumes after it.
func referenceW4(evs []genEvent) []span {
	byKey := map[string][]genEvent{}
	var keys []string
	for _, e := range evs {
		if _, ok := byKey[e.key]; !ok {
			keys = append(keys, e.key)
		}
		byKey[e.key] = append(byKey[e.key], e)
	}
	var out []span
	for _, k := range keys {
		s := byKey[k]
		sort.SliceStable(s, func(i, j int) bool { return s[i].t.Before(s[j].t) })
		for i := 0; i+3 < len(s); {
			if s[i].value > 90 && s[i+1].value > 90 && s[i+2].value > 90 && s[i+3].value < 10 &&
				s[i+3].t.Sub(s[i].t) <= 10*time.Second {
				out = append(out, span{key: k, start: s[i].t, end: s[i+3].t, count: 4})
				i += 4
				continue
			}
			i++
		}
	}
	sortSpans(out)
	return out
}

func sortSpans(s []span) {
	sort.Slice(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.key != b.key {
			return a.key < b.key
		}
		if !a.start.Equal(b.start) {
			return a.start.Before(b.start)
		}
		return a.end.Before(b.end)
	})
}

func spansOf(ds []*core.Decision) []span {
	out := make([]span, 0, len(ds))
	for _, d := range ds {
		out = append(out, span{key: d.Key, start: d.Window.Start, end: d.Window.End, count: d.Values[0].Num})
	}
	sortSpans(out)
	return out
}

// runStream feeds evs to a matcher the way the pipeline does: Add, then Advance to the maximum time
// seen minus bound; a final Advance to +infinity. splits lists event indexes before which the
// matcher is snapshotted and restored into a fresh one.
func runStream(t testing.TB, p *Pattern, table *core.FieldTable, evs []genEvent, bound time.Duration, splits []int) []*core.Decision {
	t.Helper()
	m := p.NewMatcher()
	var out []*core.Decision
	emit := func(d *core.Decision) { out = append(out, d) }
	vi, _ := table.Lookup("value")
	var maxT time.Time
	for i, ge := range evs {
		if len(splits) > 0 && splits[0] == i {
			splits = splits[1:]
			b, err := m.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			m = p.NewMatcher()
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatalf("restore at event %d: %v", i, err)
			}
		}
		fields := make([]core.Value, table.Len())
		fields[vi] = core.Value{Kind: core.Number, Num: ge.value}
		late, err := m.Add(&core.Event{ID: ge.id, Key: ge.key, Time: ge.t, Fields: fields})
		if err != nil {
			t.Fatal(err)
		}
		if late != nil {
			t.Fatalf("event %d (%v) late at watermark %v", i, ge.t, late.Watermark)
		}
		if ge.t.After(maxT) {
			maxT = ge.t
		}
		m.Advance(maxT.Add(-bound), emit)
	}
	m.Advance(time.Unix(1<<62, 0), emit)
	if s := m.Stats(); s.Buffered != 0 || s.Events != uint64(len(evs)) {
		t.Fatalf("after the final advance: %+v, want nothing buffered and %d events", s, len(evs))
	}
	return out
}

func pickMatchy(rng *rand.Rand) func() float64 {
	return func() float64 {
		switch x := rng.IntN(100); {
		case x < 55:
			return 90 + rng.Float64()*10 + 0.001
		case x < 80:
			return rng.Float64() * 9.99
		case x < 90:
			return 90 // the boundary: not > 90
		default:
			return 10 + rng.Float64()*80
		}
	}
}

func TestW4MatchesReference(t *testing.T) {
	table := &core.FieldTable{}
	p, err := Compile(w4Config(), table)
	if err != nil {
		t.Fatal(err)
	}
	withMatches := 0
	defer func() {
		if withMatches < 30 {
			t.Errorf("only %d of 60 streams had matches; the property test proves little", withMatches)
		}
	}()
	for seed := uint64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 4))
		keys := 1 + rng.IntN(6)
		step := time.Duration(1+rng.IntN(3000)) * time.Millisecond // sometimes beyond within
		round := []time.Duration{0, time.Millisecond, 500 * time.Millisecond}[rng.IntN(3)]
		evs := genW4(rng, 400+rng.IntN(800), keys, step, 2*time.Second, round, pickMatchy(rng))
		want := referenceW4(evs)
		got := runStream(t, p, table, evs, 2*time.Second, nil)
		if !slices.Equal(spansOf(got), want) {
			t.Fatalf("seed %d: matcher found %d matches, reference %d\nmatcher:   %v\nreference: %v", seed, len(got), len(want), spansOf(got), want)
		}
		if len(want) > 0 {
			withMatches++
		}
		ids := map[string]bool{}
		for _, d := range got {
			if ids[d.ID] {
				t.Fatalf("seed %d: decision id %s twice", seed, d.ID)
			}
			ids[d.ID] = true
			if d.State != core.StateMatched || d.Rule != "w4" || d.Function != "w4" || !d.Time.Equal(d.Window.End) {
				t.Fatalf("seed %d: bad decision %+v", seed, d)
			}
		}
	}
}

func TestW4SnapshotRestoreIsTransparent(t *testing.T) {
	table := &core.FieldTable{}
	p, err := Compile(w4Config(), table)
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 44))
		evs := genW4(rng, 1500, 1+rng.IntN(8), time.Duration(1+rng.IntN(1500))*time.Millisecond, 2*time.Second, 100*time.Millisecond, pickMatchy(rng))
		whole := runStream(t, p, table, evs, 2*time.Second, nil)
		var splits []int
		for i := 0; i < 1+rng.IntN(20); i++ {
			splits = append(splits, rng.IntN(len(evs)))
		}
		slices.Sort(splits)
		splits = slices.Compact(splits)
		split := runStream(t, p, table, evs, 2*time.Second, splits)
		if len(whole) != len(split) {
			t.Fatalf("seed %d: %d decisions uninterrupted, %d with snapshots at %v", seed, len(whole), len(split), splits)
		}
		for i := range whole {
			a, b := whole[i].AppendJSON(nil), split[i].AppendJSON(nil)
			if string(a) != string(b) {
				t.Fatalf("seed %d decision %d:\n%s\n%s", seed, i, a, b)
			}
		}
		if !slices.Equal(spansOf(split), referenceW4(evs)) {
			t.Fatalf("seed %d: split run disagrees with the reference", seed)
		}
	}
}

func TestW4DecisionValues(t *testing.T) {
	table := &core.FieldTable{}
	p, err := Compile(w4Config(), table)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []genEvent
	for i, v := range []float64{95, 91, 99, 97, 3, 50} {
		evs = append(evs, genEvent{key: "k", t: base.Add(time.Duration(i) * time.Second), value: v, id: fmt.Sprint(i)})
	}
	got := runStream(t, p, table, evs, 0, nil)
	if len(got) != 1 {
		t.Fatalf("got %d decisions, want 1", len(got))
	}
	d := got[0]
	want := `{"type":"decision","id":"` + d.ID + `","function":"w4","rule":"w4","key":"k","state":"matched",` +
		`"time":"2025-01-01T00:00:04.000Z","window":{"start":"2025-01-01T00:00:01.000Z","end":"2025-01-01T00:00:04.000Z"},` +
		`"values":{"count":4,"high.count":3,"high.first.value":91,"high.last.value":97,"low.count":1,"low.value":3}}`
	if s := string(d.AppendJSON(nil)); s != want {
		t.Fatalf("decision\n%s\nwant\n%s", s, want)
	}
	if d.ID != core.DecisionID("w4", "w4", "k", d.Window, "matched/"+fmt.Sprintf("%x", foldIDs(t, []int{1, 2, 3}, 3, base)), 0) {
		t.Fatalf("decision id %s does not fold the matched events", d.ID)
	}
}

// foldIDs recomputes the run hash for events 1..3 (step 0) and event 4 (step 1), spaced a second
// apart from base, with ids equal to their index.
func foldIDs(t *testing.T, high []int, low int, base time.Time) uint64 {
	t.Helper()
	h := newHash()
	for _, i := range high {
		h.int(0)
		h.int(base.Add(time.Duration(i) * time.Second).UnixNano())
		h.int(int64(payloadHash([]byte(fmt.Sprint(i)))))
	}
	_ = low
	h.int(1)
	h.int(base.Add(4 * time.Second).UnixNano())
	h.int(int64(payloadHash([]byte("4"))))
	return h.sum
}

// BenchmarkW4 measures the matcher's share of W4 per event: Add plus an Advance to the maximum
// time minus 2 s, over 1,000 keys, values uniform in [0,100), ~1 ms per event with up to 2 s of
// disorder (fixed seed). The stream is replayed with shifted times when b.N exceeds it.
func BenchmarkW4(b *testing.B) {
	table := &core.FieldTable{}
	p, err := Compile(w4Config(), table)
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(42, 42))
	gen := genW4(rng, n, 1000, time.Millisecond, 2*time.Second, time.Millisecond, func() float64 { return rng.Float64() * 100 })
	vi, _ := table.Lookup("value")
	evs := make([]core.Event, n)
	vals := make([]core.Value, n*table.Len())
	for i, g := range gen {
		f := vals[i*table.Len() : (i+1)*table.Len()]
		f[vi] = core.Value{Kind: core.Number, Num: g.value}
		evs[i] = core.Event{ID: g.id, Key: g.key, Time: g.t, Fields: f}
	}
	cycle := gen[n-1].t.Sub(gen[0].t) + time.Hour
	m := p.NewMatcher()
	matches := 0
	emit := func(*core.Decision) { matches++ }
	var maxT time.Time
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := evs[i%n]
		if r := i / n; r > 0 {
			e.Time = e.Time.Add(time.Duration(r) * cycle)
		}
		if late, err := m.Add(&e); late != nil || err != nil {
			b.Fatalf("event %d: late %v err %v", i, late, err)
		}
		if e.Time.After(maxT) {
			maxT = e.Time
		}
		m.Advance(maxT.Add(-2*time.Second), emit)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if b.N >= n && matches == 0 {
		b.Fatal("no matches: the workload is not exercising the pattern")
	}
	_ = math.Inf
}
