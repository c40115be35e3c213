package rule

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// crossValues returns a decision's crossover values (fast, slow, spread) and whether it has them.
func crossValues(d *core.Decision) (fast, slow, spread float64, ok bool) {
	n := len(d.Values)
	if n < 3 || d.Values[n-3].Name != ValueFast || d.Values[n-2].Name != ValueSlow || d.Values[n-1].Name != ValueSpread {
		return 0, 0, 0, false
	}
	return d.Values[n-3].Num, d.Values[n-2].Num, d.Values[n-1].Num, true
}

// feedValues runs results through e and returns each decision as "rule state @window/revision"
// followed by its crossover values when it has them.
func feedValues(t *testing.T, e *Engine, w time.Duration, rs ...*core.WindowResult) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		err := e.Decide(context.Background(), r, func(d *core.Decision) {
			checkDecision(t, d, r)
			s := fmt.Sprintf("%s %s @%d/%d", d.Rule, d.State, d.Window.Start.Sub(t0)/w, r.Revision)
			if f, sl, sp, ok := crossValues(d); ok {
				s += fmt.Sprintf(" fast=%g slow=%g spread=%.4f", f, sl, sp)
			}
			out = append(out, s)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func crossSet(t *testing.T, cs ...Crossover) *Set {
	t.Helper()
	return mustCompile(t, Config{Aggregates: []Aggregate{{Name: "price"}, {Name: "n"}}, Crossovers: cs})
}

func TestCrossoverSMA(t *testing.T) {
	m := time.Minute
	s := crossSet(t, Crossover{Name: "ma", Severity: "info", Of: "price", Fast: 2, Slow: 3})
	// Averages from window 2 on: (10,10) (11.5,11) (13,12) (10,11) (7,9) (8.5,8).
	got := feedValues(t, s.NewEngine(), m, series("AAPL", "price", m, 10, 10, 10, 13, 13, 7, 7, 10)...)
	eq(t, got, []string{
		"ma golden @3/0 fast=11.5 slow=11 spread=0.0455",
		"ma death @5/0 fast=10 slow=11 spread=-0.0909",
		"ma golden @7/0 fast=8.5 slow=8 spread=0.0625",
	})

	// A 10% band: only the move that leaves it counts, once.
	s = crossSet(t, Crossover{Name: "ma", Of: "price", Fast: 2, Slow: 3, MinSpread: 0.1})
	got = feedValues(t, s.NewEngine(), m, series("AAPL", "price", m, 10, 10, 10, 13, 13, 7, 7, 10)...)
	eq(t, got, []string{"ma death @6/0 fast=7 slow=9 spread=-0.2222"})

	// A trend already established when the averages first exist is not a crossing; the first
	// reversal is.
	s = crossSet(t, Crossover{Name: "ma", Of: "price", Fast: 2, Slow: 3})
	got = feedValues(t, s.NewEngine(), m, series("AAPL", "price", m, 1, 2, 3, 4, 5, 0, 1)...)
	eq(t, got, []string{"ma death @5/0 fast=2.5 slow=3 spread=-0.1667"})

	// Decisions carry the window's values, the severity and the deterministic id.
	var ds []*core.Decision
	s = crossSet(t, Crossover{Name: "ma", Severity: "info", Of: "price", Fast: 2, Slow: 3})
	e := s.NewEngine()
	for i, p := range []float64{10, 10, 10, 13} {
		r := win("AAPL", i, m, 0, "price", p, "n", 4.0)
		_ = e.Decide(context.Background(), r, func(d *core.Decision) { ds = append(ds, d) })
	}
	if len(ds) != 1 {
		t.Fatalf("%d decisions", len(ds))
	}
	d := ds[0]
	w := core.Span{Start: t0.Add(3 * m), End: t0.Add(4 * m)}
	want := []core.NamedValue{{Name: "price", Num: 13}, {Name: "n", Num: 4}, {Name: ValueFast, Num: 11.5},
		{Name: ValueSlow, Num: 11}, {Name: ValueSpread, Num: 0.5 / 11}}
	if d.State != core.StateGolden || d.Severity != "info" || d.Window != w || !d.Time.Equal(w.End) ||
		d.ID != core.DecisionID("fn", "ma", "AAPL", w, string(core.StateGolden), 0) || !slices.EqualFunc(d.Values, want, func(a, b core.NamedValue) bool { return a.Name == b.Name && a.Num == b.Num }) {
		t.Errorf("decision %+v", d)
	}
}

func TestCrossoverEMA(t *testing.T) {
	m := time.Minute
	// Fast 1 is the value itself; slow 3 has α = 0.5 and is seeded with the mean of the first 3.
	s := crossSet(t, Crossover{Name: "ema", Of: "price", Fast: 1, Slow: 3, Average: EMA})
	got := feedValues(t, s.NewEngine(), m, series("k", "price", m, 2, 4, 6, 8, 2, 4)...)
	// slow: seed (2+4+6)/3 = 4 (fast 6: above, silently), 6 (fast 8), 4 (fast 2: death), 4 (fast 4:
	// within the band of width 0, keeps its side).
	eq(t, got, []string{"ema death @4/0 fast=2 slow=4 spread=-0.5000"})

	// EMA 2 (α = 2/3) against EMA 4 (α = 0.4), worked by hand with exact binary fractions: the fast
	// seed at the 2nd value is (8+8)/2 = 8, the slow seed at the 4th (8+8+8+8)/4 = 8, so the
	// averages start equal; then 11: fast 8+2/3·3 = 10, slow 8+0.4·3 = 9.2: golden.
	s = crossSet(t, Crossover{Name: "ema", Of: "price", Fast: 2, Slow: 4, Average: EMA})
	e := s.NewEngine()
	got = feedValues(t, e, m, series("k", "price", m, 8, 8, 8, 8, 11)...)
	eq(t, got, []string{"ema golden @4/0 fast=10 slow=9.2 spread=0.0870"})
	if acc := e.keys["k"].cr[0].cur; acc.n != 5 || acc.sum != 0 {
		t.Errorf("accumulator %+v: want n 5 and the seed sum dropped", acc)
	}
}

// A flat price never crosses, with either average and without a band, whatever the price: the
// averages of a constant series are exactly that constant, although n·price is not representable.
func TestCrossoverFlat(t *testing.T) {
	for _, price := range []float64{100.3, 0.1, 1.0 / 3, 98765.4321, 3.3e-7, 1e15 + 0.7, -42.42} {
		for _, l := range [][2]int{{1, 2}, {3, 7}, {5, 20}, {12, 26}, {50, 200}} {
			for _, avg := range []Average{SMA, EMA} {
				s := crossSet(t, Crossover{Name: "c", Of: "price", Fast: l[0], Slow: l[1], Average: avg})
				e := s.NewEngine()
				vals := make([]float64, l[1]+30)
				for i := range vals {
					vals[i] = price
				}
				eq(t, feedValues(t, e, time.Minute, series("k", "price", time.Minute, vals...)...), nil)
				if ph := e.keys["k"].cr[0].pc; ph.side != sideBand {
					t.Errorf("%v %s %v: side %d, want within the band", price, avg, l, ph.side)
				}
			}
		}
	}
}

// The mean is exact for binary fractions (and then equals sum/n), and correctly rounded for
// decimals whose sum is not representable, where the naive sum/n is not.
func TestMean(t *testing.T) {
	if got := mean([]float64{0.25, 100.5, 3, -7.75}); got != (0.25+100.5+3-7.75)/4 {
		t.Errorf("mean of quarters %v", got)
	}
	vs := make([]float64, 10)
	for i := range vs {
		vs[i] = 0.1
	}
	var naive float64
	for _, v := range vs {
		naive += v
	}
	if naive/10 == 0.1 {
		t.Fatal("the naive mean of ten 0.1 is exact: pick another example")
	}
	if got := mean(vs); got != 0.1 {
		t.Errorf("mean of ten 0.1 = %v", got)
	}
}

func TestCrossoverRevisions(t *testing.T) {
	m := time.Minute
	s := crossSet(t, Crossover{Name: "c", Of: "price", Fast: 1, Slow: 2})
	e := s.NewEngine()
	steps := []struct {
		r    *core.WindowResult
		want []string
	}{
		{win("k", 0, m, 0, "price", 10.0), nil},
		{win("k", 1, m, 0, "price", 10.0), nil}, // warm: within the band
		{win("k", 2, m, 0, "price", 12.0), []string{"c golden @2/0 fast=12 slow=11 spread=0.0909"}},
		// The revision replaces 12 by 9: re-evaluated from before window 2, the key crossed
		// below instead, and the golden cross already announced is followed by a death cross.
		{win("k", 2, m, 1, "price", 9.0), []string{"c death @2/1 fast=9 slow=9.5 spread=-0.0526"}},
		// Back within the band: no crossing for window 2 any more, but nothing is taken back
		// silently and no side is left to announce: the death cross stands.
		{win("k", 2, m, 2, "price", 10.0), nil},
		{win("k", 2, m, 1, "price", 20.0), nil}, // an older revision is ignored
		{win("k", 1, m, 1, "price", 20.0), nil}, // so is an older window
		{win("k", 3, m, 0, "price", 11.0), []string{"c golden @3/0 fast=11 slow=10.5 spread=0.0476"}},
		{win("k", 3, m, 1, "price", 11.0), nil}, // the same value again: nothing new
		{win("k", 4, m, 0, "price", 8.0), []string{"c death @4/0 fast=8 slow=9.5 spread=-0.1579"}},
		// A revision without the value: window 4 no longer moves the averages, so the key is back
		// above, and says so (without averages: window 4 has none).
		{win("k", 4, m, 1), []string{"c golden @4/1"}},
		{win("k", 5, m, 0, "price", 11.0), nil}, // history 11 (window 3), 11: within the band
		{win("k", 6, m, 0, "price", 5.0), []string{"c death @6/0 fast=5 slow=8 spread=-0.3750"}},
	}
	for i, st := range steps {
		if got := feedValues(t, e, m, st.r); !slices.Equal(got, st.want) {
			t.Errorf("step %d: got %q, want %q", i, got, st.want)
		}
	}

	// A revision that removes the key's only crossing, with the averages then on the other side
	// of where they were announced, announces that side.
	e = crossSet(t, Crossover{Name: "c", Of: "price", Fast: 1, Slow: 2}).NewEngine()
	got := feedValues(t, e, m, win("k", 0, m, 0, "price", 10.0), win("k", 1, m, 0, "price", 12.0), // up, silently
		win("k", 2, m, 0, "price", 9.0),  // death
		win("k", 2, m, 1, "price", 13.0)) // no crossing after all: the key is above
	eq(t, got, []string{"c death @2/0 fast=9 slow=10.5 spread=-0.1429", "c golden @2/1 fast=13 slow=12.5 spread=0.0400"})
}

// Missing and non-finite values are skipped: they neither count towards the lengths nor move
// the averages.
func TestCrossoverMissing(t *testing.T) {
	m := time.Minute
	for _, avg := range []Average{SMA, EMA} {
		s := crossSet(t, Crossover{Name: "c", Of: "price", Fast: 1, Slow: 2, Average: avg})
		rs := []*core.WindowResult{win("k", 0, m, 0, "price", 10.0), win("k", 1, m, 0, "n", 1.0),
			win("k", 2, m, 0, "price", math.NaN()), win("k", 3, m, 0, "price", math.Inf(1)),
			win("k", 4, m, 0, "price", 10.0), win("k", 5, m, 0), win("k", 6, m, 0, "price", 4.0)}
		// SMA: 10,10 → 10,4 = 7. EMA: seed 10, then 10 + 2/3·(4−10) = 6.
		want := "c death @6/0 fast=4 slow=7 spread=-0.4286"
		if avg == EMA {
			want = "c death @6/0 fast=4 slow=6 spread=-0.3333"
		}
		eq(t, feedValues(t, s.NewEngine(), m, rs...), []string{want})
	}
}

// refCross is an independent, naive crossover: it keeps every window's final value, recomputes
// both averages from the whole history at every window, and tracks the sides in its own words.
type refCross struct {
	c    Crossover
	keys map[string]*refKey
}

type refKey struct {
	end    time.Time
	rev    int
	vals   []float64 // the values of the windows that had one, oldest first
	hasCur bool      // the latest window's value is vals[len-1]
	// sides before and after the latest window, and what was announced.
	sideBefore, toldBefore, side, told string
}

func refSMA(vs []float64, n int) float64 {
	var s float64
	for _, v := range vs[len(vs)-n:] {
		s += v
	}
	return s / float64(n)
}

func refEMA(vs []float64, n int) float64 {
	var s float64
	for _, v := range vs[:n] {
		s += v
	}
	e := s / float64(n)
	alpha := 2 / float64(n+1)
	for _, v := range vs[n:] {
		if n == 1 {
			e = v
		} else {
			e = e + alpha*(v-e)
		}
	}
	return e
}

// decide returns "state fast slow" for the decision the reference makes on r, or "".
func (ref *refCross) decide(r *core.WindowResult) string {
	k := ref.keys[r.Key]
	if k == nil {
		k = &refKey{}
		ref.keys[r.Key] = k
	}
	switch {
	case k.end.IsZero() || r.End.After(k.end):
		k.end, k.rev = r.End, r.Revision
		k.sideBefore, k.toldBefore = k.side, k.told
		k.hasCur = false
	case r.End.Equal(k.end) && r.Revision >= k.rev:
		k.rev = r.Revision
		if k.hasCur {
			k.vals = k.vals[:len(k.vals)-1]
			k.hasCur = false
		}
	default:
		return ""
	}
	told := k.told
	k.side, k.told = k.sideBefore, k.toldBefore
	v, ok := r.Value(ref.c.Of)
	var fast, slow float64
	if ok && !math.IsNaN(v.Num) && !math.IsInf(v.Num, 0) {
		k.vals = append(k.vals, v.Num)
		k.hasCur = true
		if len(k.vals) >= ref.c.Slow {
			if ref.c.Average == EMA {
				fast, slow = refEMA(k.vals, ref.c.Fast), refEMA(k.vals, ref.c.Slow)
			} else {
				fast, slow = refSMA(k.vals, ref.c.Fast), refSMA(k.vals, ref.c.Slow)
			}
			now := "band"
			if fast-slow > ref.c.MinSpread*math.Abs(slow) {
				now = "above"
			} else if slow-fast > ref.c.MinSpread*math.Abs(slow) {
				now = "below"
			}
			switch {
			case k.side == "":
				k.side = now
			case now != "band" && now != k.side:
				k.side, k.told = now, now
			}
		}
	}
	if k.told == "" && told != "" {
		k.told = told
		if k.side == "above" || k.side == "below" {
			k.told = k.side
		}
	}
	if k.told == told {
		return ""
	}
	state := core.StateGolden
	if k.told == "below" {
		state = core.StateDeath
	}
	if !k.hasCur {
		return string(state)
	}
	return fmt.Sprintf("%s %v %v", state, fast, slow)
}

// quarterStream is randomStream with prices that are multiples of 0.25 in [80, 105) and no expiry
// ticks, so that averages are exact.
func quarterStream(rng *rand.Rand, n int) []*core.WindowResult {
	var out []*core.WindowResult
	for _, r := range randomStream(rng, n) {
		if r == nil {
			continue
		}
		if len(r.Values) > 0 && r.Values[0].Name == "x" && !math.IsNaN(r.Values[0].Num) {
			r.Values[0].Num = 80 + r.Values[0].Num/4
		}
		out = append(out, r)
	}
	return out
}

// The engine's crossovers make exactly the naive reference's decisions, with bit-identical
// averages, on random streams with revisions, stale results, gaps and missing values.
func TestCrossoverMatchesReference(t *testing.T) {
	configs := []Crossover{
		{Fast: 1, Slow: 2},
		{Fast: 2, Slow: 5},
		{Fast: 3, Slow: 8, MinSpread: 0.01},
		{Fast: 1, Slow: 3, Average: EMA},
		{Fast: 3, Slow: 7, Average: EMA},
		{Fast: 2, Slow: 6, Average: EMA, MinSpread: 0.005},
	}
	decisions, revised := 0, 0
	for ci, c := range configs {
		c.Name, c.Of = "c", "x"
		s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}, {Name: "n"}, {Name: "top", List: true}}, Crossovers: []Crossover{c}})
		for seed := range uint64(150) {
			rng := rand.New(rand.NewPCG(seed, uint64(ci)))
			ref := &refCross{c: c, keys: map[string]*refKey{}}
			e := s.NewEngine()
			for i, r := range quarterStream(rng, 50+rng.IntN(150)) {
				want := ref.decide(r)
				var got []string
				err := e.Decide(context.Background(), r, func(d *core.Decision) {
					checkDecision(t, d, r)
					if f, sl, _, ok := crossValues(d); ok {
						got = append(got, fmt.Sprintf("%s %v %v", d.State, f, sl))
					} else {
						got = append(got, string(d.State))
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				if (want == "") != (len(got) == 0) || len(got) > 1 || len(got) == 1 && got[0] != want {
					t.Fatalf("config %+v seed %d result %d (%s window %s rev %d): got %q, want %q", c, seed, i, r.Key,
						r.Start.Format(time.TimeOnly), r.Revision, got, want)
				}
				if want != "" {
					decisions++
					if r.Revision > 0 {
						revised++
					}
				}
			}
		}
	}
	if decisions < 2000 || revised < 100 {
		t.Errorf("only %d decisions (%d from revisions): the property is nearly vacuous", decisions, revised)
	}
	t.Logf("%d decisions, %d from revisions", decisions, revised)
}

// Without revisions, the decisions are what the definition says, checked declaratively: a
// decision at a warm window whose class is above (below) exactly when the last class before it
// that was not within the band is not above (below), and the window is not the key's first warm
// one.
func TestCrossoverDefinition(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 99))
		fast := 1 + rng.IntN(4)
		c := Crossover{Name: "c", Of: "price", Fast: fast, Slow: fast + 1 + rng.IntN(6), MinSpread: float64(rng.IntN(3)) / 100}
		s := crossSet(t, c)
		e := s.NewEngine()
		var vals []float64
		var classes []string // of the warm windows
		for i := range 300 {
			// A random walk in quarters, so that the averages are exact.
			p := 100.0
			if len(vals) > 0 {
				p = vals[len(vals)-1] + float64(rng.IntN(9)-4)/4
			}
			vals = append(vals, p)
			var got []string
			_ = e.Decide(context.Background(), win("k", i, time.Minute, 0, "price", p), func(d *core.Decision) { got = append(got, string(d.State)) })
			var want []string
			if len(vals) >= c.Slow {
				f, sl := refSMA(vals, c.Fast), refSMA(vals, c.Slow)
				cls := "band"
				if f-sl > c.MinSpread*math.Abs(sl) {
					cls = string(core.StateGolden)
				} else if sl-f > c.MinSpread*math.Abs(sl) {
					cls = string(core.StateDeath)
				}
				if cls != "band" && len(classes) > 0 {
					last := "none"
					for _, x := range slices.Backward(classes) {
						if x != "band" {
							last = x
							break
						}
					}
					if last != cls {
						want = []string{cls}
					}
				}
				classes = append(classes, cls)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d %+v window %d: got %v, want %v", seed, c, i, got, want)
			}
		}
	}
}

// crossConfig has both kinds of crossover, on a stream with every kind of result, and expiry.
func crossConfig() Config {
	return Config{
		Aggregates: []Aggregate{{Name: "x"}, {Name: "n"}, {Name: "top", List: true}},
		Crossovers: []Crossover{
			{Name: "sma", Of: "x", Fast: 2, Slow: 5},
			{Name: "ema", Of: "x", Fast: 3, Slow: 6, Average: EMA, MinSpread: 0.02},
			{Name: "wide", Of: "n", Fast: 4, Slow: 30},
		},
		IdleTTL: 8 * time.Minute,
	}
}

// Snapshot, restore and continue gives byte-identical decisions, and restored state encodes to
// the same bytes.
func TestCrossoverSnapshot(t *testing.T) {
	s := mustCompile(t, crossConfig())
	decisions := 0
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 11))
		stream := randomStream(rng, 40+rng.IntN(150))
		want := run(t, s, stream, nil)
		snaps := map[int]bool{}
		for range 1 + rng.IntN(6) {
			snaps[rng.IntN(len(stream))] = true
		}
		if got := run(t, s, stream, snaps); got != want {
			t.Fatalf("seed %d: with snapshots at %v:\n%s\nuninterrupted:\n%s", seed, snaps, got, want)
		}
		decisions += strings.Count(want, "\n")

		e := s.NewEngine()
		for _, r := range stream {
			if r != nil {
				_ = e.Decide(context.Background(), r, func(*core.Decision) {})
			}
		}
		b1, _ := e.MarshalBinary()
		e2 := s.NewEngine()
		if err := e2.UnmarshalBinary(b1); err != nil {
			t.Fatal(err)
		}
		if b2, _ := e2.MarshalBinary(); !bytes.Equal(b1, b2) {
			t.Fatalf("seed %d: restored state encodes differently", seed)
		}
	}
	if decisions < 500 {
		t.Errorf("only %d decisions", decisions)
	}

	// Every truncation of a snapshot is an error, and a bad crossover state version is named.
	e := s.NewEngine()
	for _, r := range randomStream(rand.New(rand.NewPCG(5, 5)), 100) {
		if r != nil {
			_ = e.Decide(context.Background(), r, func(*core.Decision) {})
		}
	}
	b, _ := e.MarshalBinary()
	for i := range len(b) {
		if err := s.NewEngine().UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	at := bytes.Index(b, []byte{crVersion, 0, 2, 5}) // the sma crossover's first state
	if at < 0 {
		t.Fatal("no sma state in the snapshot")
	}
	bad := slices.Clone(b)
	bad[at] = 7
	if err := s.NewEngine().UnmarshalBinary(bad); err == nil || !strings.Contains(err.Error(), `crossover "sma": unsupported state version 7`) {
		t.Errorf("bad state version: %v", err)
	}
}

// State restores into changed crossovers: the side is kept, SMA history is trimmed to the new
// length, and an EMA with other lengths (or an SMA that became an EMA) warms up again.
func TestCrossoverSnapshotParamsChange(t *testing.T) {
	m := time.Minute
	old := crossSet(t, Crossover{Name: "c", Of: "price", Fast: 2, Slow: 4})
	e := old.NewEngine()
	// Averages from window 3: (10, 10) within the band, then (15, 12.5): golden.
	eq(t, feedValues(t, e, m, series("k", "price", m, 10, 10, 10, 10, 20)...), []string{"c golden @4/0 fast=15 slow=12.5 spread=0.2000"})
	b, _ := e.MarshalBinary()

	// A shorter slow SMA keeps the newest 3 values and the side (above): 4 gives (12, 34/3), still
	// above; the next 4 gives (4, 28/3): death.
	shorter := crossSet(t, Crossover{Name: "c", Of: "price", Fast: 2, Slow: 3})
	e = shorter.NewEngine()
	if err := e.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if h := e.keys["k"].cr[0].hist; !slices.Equal(h, []float64{10, 10, 20}) {
		t.Errorf("history %v", h)
	}
	eq(t, feedValues(t, e, m, win("k", 5, m, 0, "price", 4.0), win("k", 6, m, 0, "price", 4.0)),
		[]string{"c death @6/0 fast=4 slow=9.333333333333334 spread=-0.5714"})

	// As an EMA it warms up again over 4 values, keeping the side (above): the averages the warm-up
	// ends with are below, which is a crossing from that side (fast: 3.5, 2.5, 1.5; slow 2.5).
	ema := crossSet(t, Crossover{Name: "c", Of: "price", Fast: 2, Slow: 4, Average: EMA})
	e = ema.NewEngine()
	if err := e.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	eq(t, feedValues(t, e, m, win("k", 5, m, 0, "price", 4.0), win("k", 6, m, 0, "price", 3.0),
		win("k", 7, m, 0, "price", 2.0), win("k", 8, m, 0, "price", 1.0)),
		[]string{"c death @8/0 fast=1.5 slow=2.5 spread=-0.4000"})
	// A fresh key, by contrast, takes the side the warm-up ends with silently.
	eq(t, feedValues(t, e, m, series("fresh", "price", m, 4, 3, 2, 1)...), nil)
}

func TestCrossoverCompileErrors(t *testing.T) {
	aggs := []Aggregate{{Name: "price"}, {Name: "top", List: true}}
	cases := []struct {
		c    Crossover
		want string
	}{
		{Crossover{Of: "price", Fast: 1, Slow: 2}, "field name"},
		{Crossover{Name: "c", Fast: 1, Slow: 2}, `rule "c": field of: must not be empty`},
		{Crossover{Name: "c", Of: "nope", Fast: 1, Slow: 2}, `rule "c": field of: no aggregate named "nope"`},
		{Crossover{Name: "c", Of: "top", Fast: 1, Slow: 2}, `rule "c": field of: "top" is a list`},
		{Crossover{Name: "c", Of: "price", Slow: 2}, `rule "c": field fast: must be at least 1 window, got 0`},
		{Crossover{Name: "c", Of: "price", Fast: 5, Slow: 5}, `rule "c": field slow: must be more than fast (5), got 5`},
		{Crossover{Name: "c", Of: "price", Fast: 5, Slow: MaxCrossoverSlow + 1}, `rule "c": field slow: must be at most 10000`},
		{Crossover{Name: "c", Of: "price", Fast: 1, Slow: 2, MinSpread: 1}, `rule "c": field min_spread: must be in [0, 1), got 1`},
		{Crossover{Name: "c", Of: "price", Fast: 1, Slow: 2, MinSpread: math.NaN()}, `field min_spread`},
		{Crossover{Name: "c", Of: "price", Fast: 1, Slow: 2, Average: "wma"}, `rule "c": field average: must be "sma" or "ema", got "wma"`},
	}
	for _, c := range cases {
		_, err := Compile(Config{Aggregates: aggs, Crossovers: []Crossover{c.c}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.c, err, c.want)
		}
	}
	_, err := Compile(Config{Aggregates: aggs, Thresholds: []Threshold{{Name: "c", Condition: "price > 1.0"}},
		Crossovers: []Crossover{{Name: "c", Of: "price", Fast: 1, Slow: 2}}})
	if err == nil || !strings.Contains(err.Error(), `rule "c": field name: used by another rule`) {
		t.Errorf("duplicate name: %v", err)
	}
}

// Crossovers run after thresholds and anomaly detectors, and expiry drops their state without a
// decision: a key that comes back warms up again.
func TestCrossoverOrderAndExpiry(t *testing.T) {
	m := time.Minute
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "price"}},
		Thresholds: []Threshold{{Name: "high", Condition: "price > 11.0"}},
		Crossovers: []Crossover{{Name: "cross", Of: "price", Fast: 1, Slow: 2}},
		IdleTTL:    5 * m,
	})
	e := s.NewEngine()
	eq(t, feed(t, e, m, series("k", "price", m, 10, 10, 12)...), []string{"high firing @2/0", "cross golden @2/0"})
	var ds []string
	if n := e.Expire(t0.Add(20*m), func(d *core.Decision) { ds = append(ds, d.Rule+" "+string(d.State)) }); n != 1 {
		t.Fatalf("expired %d keys", n)
	}
	eq(t, ds, []string{"high resolved"})
	// Back after expiry: 12 then 10 is the warm-up (below, silently), then 9 stays below.
	eq(t, feed(t, e, m, win("k", 30, m, 0, "price", 12.0), win("k", 31, m, 0, "price", 10.0), win("k", 32, m, 0, "price", 9.0)),
		[]string{"high firing @30/0", "high resolved @31/0"})
}
