package trading

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/spec"

	"github.com/eddyhq/eddy/examples/internal/exampletest"
)

// The crossover spec's parameters, restated here so that a change to the spec that the stories
// below do not expect fails loudly.
const (
	fastBars  = 5
	slowBars  = 20
	minSpread = 0.002
	crossRule = "sma-5-20"
)

// bar is one symbol's one-minute bar, built by the test from the trades.
type bar struct {
	start                  time.Time
	open, high, low, close float64
	volume                 float64
	trades                 int
	first, last            time.Time // event times of the open and close trades
}

// bars groups kept trades into one-minute bars per symbol, oldest first.
func bars(trades []trade) map[string][]bar {
	idx := map[string]map[time.Time]*bar{}
	for _, tr := range trades {
		start := tr.ts.Truncate(time.Minute)
		m := idx[tr.symbol]
		if m == nil {
			m = map[time.Time]*bar{}
			idx[tr.symbol] = m
		}
		b := m[start]
		if b == nil {
			b = &bar{start: start, open: tr.price, high: tr.price, low: tr.price, close: tr.price, first: tr.ts, last: tr.ts}
			m[start] = b
		}
		b.high, b.low = max(b.high, tr.price), min(b.low, tr.price)
		b.volume += tr.size
		b.trades++
		if tr.ts.Before(b.first) {
			b.first, b.open = tr.ts, tr.price
		}
		if tr.ts.After(b.last) {
			b.last, b.close = tr.ts, tr.price
		}
	}
	out := map[string][]bar{}
	for sym, m := range idx {
		for _, b := range m {
			out[sym] = append(out[sym], *b)
		}
		slices.SortFunc(out[sym], func(a, b bar) int { return a.start.Compare(b.start) })
	}
	return out
}

// averages are the two simple moving averages of the closes after the bar ending at end.
type averages struct {
	end        time.Time
	fast, slow float64
	bar        bar
}

func (a averages) spread() float64 { return (a.fast - a.slow) / math.Abs(a.slow) }

// smas computes the fast and slow simple moving averages of the closes of bs, from the bar where
// the slow one first exists.
func smas(bs []bar) []averages {
	var out []averages
	for i := slowBars - 1; i < len(bs); i++ {
		var f, s float64
		for j := i - slowBars + 1; j <= i; j++ {
			s += bs[j].close
			if j > i-fastBars {
				f += bs[j].close
			}
		}
		out = append(out, averages{end: bs[i].start.Add(time.Minute), fast: f / fastBars, slow: s / slowBars, bar: bs[i]})
	}
	return out
}

// crossing is a golden or death cross found by the test.
type crossing struct {
	state string
	averages
}

// crossings applies the textbook rule to the averages: the first averages set the side (a trend
// already under way is not a crossing); afterwards the fast line is above when it exceeds the slow
// one by more than band × |slow|, below when it is under it by more, and otherwise keeps its side;
// every change of side is a crossing.
func crossings(as []averages, band float64) []crossing {
	var out []crossing
	side := ""
	for i, a := range as {
		cur := ""
		switch d := a.fast - a.slow; {
		case d > band*math.Abs(a.slow):
			cur = "golden"
		case d < -band*math.Abs(a.slow):
			cur = "death"
		}
		if i == 0 {
			side = cur
			continue
		}
		if cur != "" && cur != side {
			out = append(out, crossing{state: cur, averages: a})
			side = cur
		}
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// independent returns the crossings the test computes on its own, per symbol.
func independent(t *testing.T, data []byte, band float64) (map[string][]crossing, map[string][]averages) {
	t.Helper()
	kept, _, _ := parseTrades(t, data, time.Minute)
	cs, as := map[string][]crossing{}, map[string][]averages{}
	for sym, bs := range bars(kept) {
		as[sym] = smas(bs)
		cs[sym] = crossings(as[sym], band)
	}
	return cs, as
}

// checkCrossovers compares the engine's crossover decisions with the test's own crossings: the
// same symbols, times and states, the same bars, the same averages.
func checkCrossovers(t *testing.T, r *exampletest.View, want map[string][]crossing) {
	t.Helper()
	got := map[string][]decision{}
	for _, d := range r.Decisions {
		if d.Rule != crossRule {
			t.Errorf("unexpected decision %s", d.Line)
			continue
		}
		got[d.Key] = append(got[d.Key], d)
	}
	for _, sym := range []string{Trend, Crash, Choppy, Calm, Drift} {
		var g, w []string
		for _, d := range got[sym] {
			g = append(g, d.Time.Format("15:04")+" "+d.State)
		}
		for _, c := range want[sym] {
			w = append(w, c.end.Format("15:04")+" "+c.state)
		}
		if !slices.Equal(g, w) {
			t.Errorf("%s: engine crossings [%s], the test's own SMAs give [%s]", sym, strings.Join(g, ", "), strings.Join(w, ", "))
			continue
		}
		for i, d := range got[sym] {
			c := want[sym][i]
			if !d.Window.Start.Equal(c.bar.start) || !d.Window.End.Equal(c.end) {
				t.Errorf("%s %s at %s: window %s..%s, want the bar %s..%s", sym, d.State, d.Time, d.Window.Start, d.Window.End, c.bar.start, c.end)
			}
			for _, v := range []struct {
				name string
				want float64
			}{
				{"crossover.fast", c.fast}, {"crossover.slow", c.slow}, {"crossover.spread", c.spread()},
				{"open", c.bar.open}, {"high", c.bar.high}, {"low", c.bar.low}, {"close", c.bar.close},
				{"volume", c.bar.volume}, {"trades", float64(c.bar.trades)},
			} {
				if g := num(t, d, v.name); !near(g, v.want) {
					t.Errorf("%s %s at %s: %s = %v, the test computes %v", sym, d.State, d.Time.Format("15:04"), v.name, g, v.want)
				}
			}
		}
	}
}

// TestCrossoverMatchesIndependentSMAs: every crossover decision, for every symbol, is what the
// test finds with its own one-minute bars and simple moving averages, with the spec's band and
// without it.
func TestCrossoverMatchesIndependentSMAs(t *testing.T) {
	data := dataset(t, crossoverDir)
	want, _ := independent(t, data, minSpread)
	checkCrossovers(t, run(t, crossoverDir, nil, data, 4, 7), want)

	want0, _ := independent(t, data, 0)
	noBand := func(f *spec.Function) { f.Crossovers[0].MinSpread = 0 }
	checkCrossovers(t, run(t, crossoverDir, noBand, data, 4, 7), want0)
}

// TestCrossoverScenarios checks the stories Generate plants, with their times and values,
// independently of expected.ndjson, so that a regenerated golden file cannot silently lose them.
func TestCrossoverScenarios(t *testing.T) {
	f, _ := loadSpec(t, crossoverDir, nil)
	if len(f.Crossovers) != 1 || f.Crossovers[0].Name != crossRule || f.Crossovers[0].Fast != fastBars ||
		f.Crossovers[0].Slow != slowBars || f.Crossovers[0].MinSpread != minSpread || f.Window.Tumbling != time.Minute {
		t.Fatalf("crossover/eddy.yaml: window %+v, crossovers %+v; the stories below assume 1m bars and %s", f.Window, f.Crossovers, crossRule)
	}
	data := dataset(t, crossoverDir)
	r := run(t, crossoverDir, nil, data, 4, 7)
	_, avgs := independent(t, data, minSpread)
	avgAt := func(sym, hhmm string) averages {
		t.Helper()
		for _, a := range avgs[sym] {
			if a.end.Equal(at(hhmm)) {
				return a
			}
		}
		t.Fatalf("%s: no averages after the bar ending %s", sym, hhmm)
		return averages{}
	}

	// AAPL: the averages first exist after the bar ending 09:50, with the downtrend well
	// established (the fast line more than 0.2% under the slow one: a side, not a crossing). The
	// rally from 10:20 lifts the 5-bar SMA above the 20-bar one by more than 0.2% at 10:30 (the
	// golden cross); the sell-off from 11:20 takes it 0.2% under at 11:32 (the death cross).
	if got, want := story(r.Decisions, Trend), "10:30 sma-5-20 golden, 11:32 sma-5-20 death"; got != want {
		t.Errorf("%s: %s, want %s", Trend, got, want)
	}
	if a := avgs[Trend][0]; !a.end.Equal(at("09:50")) || a.spread() >= -minSpread {
		t.Errorf("%s: first averages after %s with spread %.4f%%, want after 09:50 below -0.2%%", Trend, a.end.Format("15:04"), 100*a.spread())
	}
	if a := avgAt(Trend, "10:29"); a.spread() > minSpread {
		t.Errorf("%s at 10:29: spread %.4f%%, already above the band", Trend, 100*a.spread())
	}
	if a := avgAt(Trend, "11:31"); a.spread() < -minSpread {
		t.Errorf("%s at 11:31: spread %.4f%%, already below the band", Trend, 100*a.spread())
	}
	// The averages at the crossings, computed by hand from the bars' closes (SMA 5 and SMA 20).
	for _, c := range []struct {
		hhmm, state string
		fast, slow  float64
	}{
		{"10:30", "golden", 187.114, 186.7045},
		{"11:32", "death", 192.116, 192.5265},
	} {
		a := avgAt(Trend, c.hhmm)
		if math.Abs(a.fast-c.fast) > 1e-9 || math.Abs(a.slow-c.slow) > 1e-9 {
			t.Errorf("%s at %s: the test's SMAs are %v/%v, want %v/%v", Trend, c.hhmm, a.fast, a.slow, c.fast, c.slow)
		}
		for _, d := range r.Decisions {
			if d.Key == Trend && d.Time.Equal(at(c.hhmm)) {
				if d.State != c.state || math.Abs(num(t, d, "crossover.fast")-c.fast) > 1e-9 || math.Abs(num(t, d, "crossover.slow")-c.slow) > 1e-9 {
					t.Errorf("%s at %s: %s with fast %v, slow %v; want %s with %v/%v", Trend, c.hhmm, d.State, d.Values["crossover.fast"], d.Values["crossover.slow"], c.state, c.fast, c.slow)
				}
			}
		}
	}

	// NVDA: the flash crash at 11:10 is a death cross at 11:12, the recovery a golden cross at
	// 11:28.
	if got, want := story(r.Decisions, Crash), "11:12 sma-5-20 death, 11:28 sma-5-20 golden"; got != want {
		t.Errorf("%s: %s, want %s", Crash, got, want)
	}

	// TSLA: from 10:00 to 11:00 the 5-bar SMA swings around the 20-bar one, by more than 0.1% but
	// less than the band of 0.2% each way: without the band it crosses every five minutes or so,
	// with it never.
	if s := story(r.Decisions, Choppy); s != "" {
		t.Errorf("%s: %s, want no crossing", Choppy, s)
	}
	var hi, lo float64
	for _, a := range avgs[Choppy] {
		if !a.end.Before(at("10:00")) && !a.end.After(at("11:10")) {
			hi, lo = max(hi, a.spread()), min(lo, a.spread())
		}
	}
	if hi < 0.001 || hi >= minSpread || lo > -0.001 || lo <= -minSpread {
		t.Errorf("%s: spread between %.4f%% and %.4f%% from 10:00 to 11:10, want swings of 0.1%% to 0.2%% each way", Choppy, 100*lo, 100*hi)
	}
	t.Logf("%s: spread between %.4f%% and %.4f%% from 10:00 to 11:10", Choppy, 100*lo, 100*hi)
	noBand := run(t, crossoverDir, func(f *spec.Function) { f.Crossovers[0].MinSpread = 0 }, data, 4, 7)
	whipsaws := 0
	for _, d := range noBand.Decisions {
		if d.Key == Choppy && !d.Time.Before(at("10:00")) && !d.Time.After(at("11:10")) {
			whipsaws++
		}
	}
	t.Logf("%s without min_spread: %d crossings from 10:00 to 11:10, %d in all symbols over the session", Choppy, whipsaws, len(noBand.Decisions))
	if whipsaws < 10 {
		t.Errorf("%s without min_spread: %d crossings from 10:00 to 11:10, want a whipsaw every five minutes or so", Choppy, whipsaws)
	}

	// MSFT and AMZN trade quietly.
	for _, k := range []string{Calm, Drift} {
		if s := story(r.Decisions, k); s != "" {
			t.Errorf("%s: %s, want no decision", k, s)
		}
	}

	checkDelivery(t, r, time.Minute)
}

// checkDelivery checks the stories of the feed that do not depend on the function: the NVDA trade
// 100 s late revises the windows that closed without it (the newest only: the window ending 11:06,
// of width size), the AAPL correction 45 minutes late goes to the late output, the two bad lines
// to the dead letters.
func checkDelivery(t *testing.T, r *exampletest.View, size time.Duration) {
	t.Helper()
	revised := 0
	for _, l := range r.Windows {
		var w struct {
			Key      string
			Start    time.Time
			End      time.Time
			Revision int
		}
		if err := json.Unmarshal([]byte(l), &w); err != nil {
			t.Fatal(err)
		}
		if w.Revision > 0 {
			if w.Key != Crash || !w.End.Equal(at("11:06")) || w.End.Sub(w.Start) != size {
				t.Errorf("unexpected revision %d of %s's window %s..%s", w.Revision, w.Key, w.Start, w.End)
			}
			revised++
		}
	}
	if revised != 1 {
		t.Errorf("%d revised windows, want 1 (NVDA's window ending 11:06)", revised)
	}
	if len(r.Late) != 1 || r.Late[0].Key != Trend || !r.Late[0].Time.Equal(at("10:45")) {
		t.Errorf("late: %v, want AAPL's 10:45 correction", r.Late)
	}
	if len(r.Dead) != 2 || !strings.Contains(r.Dead[0], `field "ts"`) || !strings.Contains(r.Dead[1], "invalid JSON") {
		t.Errorf("dead letters: %q", r.Dead)
	}
}

// TestParseTrades: the test's own decoding agrees with the feed's planted defects.
func TestParseTrades(t *testing.T) {
	kept, late, bad := parseTrades(t, dataset(t, crossoverDir), time.Minute)
	if len(kept) != 2735 || len(bad) != 2 || len(late) != 1 || late[0].symbol != Trend || !late[0].ts.Equal(at("10:45")) {
		t.Errorf("%d kept, late %v, bad lines %v; want 2735 kept, AAPL's 10:45 correction late, 2 bad", len(kept), late, bad)
	}
	if got := fmt.Sprint(bad); got != "[685 1370]" {
		t.Errorf("bad lines %s, want [685 1370]", got)
	}
}
