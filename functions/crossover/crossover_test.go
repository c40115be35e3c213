package crossover_test

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/functions/crossover"
	"github.com/eddyhq/eddy/functions/internal/fntest"
)

// t0 is a minute boundary, so the bars start on whole minutes from it.
var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

func defaults() crossover.Config {
	return crossover.Config{Key: "symbol", Time: "ts", TimeFormat: "unix_ms", Field: "price"}
}

// TestGoEqualsSpec: the Go constructor with the defaults and eddy.yaml describe the same function,
// and the file passes everything `eddy validate` checks (spec.Load validates; Compile builds).
func TestGoEqualsSpec(t *testing.T) {
	f, err := crossover.New(defaults())
	fntest.SameAsSpec(t, f, err)
}

type trade struct {
	sym   string
	at    time.Duration // from t0
	price float64
}

func records(trades []trade) []core.Record {
	return fntest.Records(len(trades), func(i int) []byte {
		tr := trades[i]
		return fmt.Appendf(nil, `{"symbol":%q,"ts":%d,"price":%v}`, tr.sym, t0.Add(tr.at).UnixMilli(), tr.price)
	})
}

// run runs recs through f with fntest.Run in batches of n, returning every output as a JSON line,
// the decisions in a readable form and the number of late outputs, and checks that every decision
// id is the deterministic one for some revision of its bar.
func run(t *testing.T, f *spec.Function, recs []core.Record, n int) (lines []string, decisions []string, late int) {
	t.Helper()
	lines = fntest.Run(t, f, recs, n, t0, func(o core.Output) {
		switch o := o.(type) {
		case *core.Late:
			late++
		case *core.Decision:
			rev := -1
			for seq := range 4 {
				if o.ID == core.DecisionID(f.Name, o.Rule, o.Key, o.Window, string(o.State), seq) {
					rev = seq
				}
			}
			if rev < 0 {
				t.Errorf("decision %s %s: id %s is not the deterministic one", o.Rule, o.State, o.ID)
			}
			var vals []string
			for _, v := range o.Values {
				vals = append(vals, fmt.Sprintf("%s=%.4f", strings.TrimPrefix(v.Name, "crossover."), v.Num))
			}
			decisions = append(decisions, fmt.Sprintf("%s %s %s [%s,%s) rev %d: %s", o.Rule, o.State, o.Key,
				o.Window.Start.Sub(t0), o.Window.End.Sub(t0), rev, strings.Join(vals, " ")))
		}
	})
	return lines, decisions, late
}

// bars is trades of ACME closing at the given prices, one bar a minute: two trades a minute, at
// :13 (the close) and at :10 (one below it), delivered newest first, so every other trade arrives
// 3 s out of order and the last to arrive is not the close.
func bars(closes ...float64) []trade {
	var ts []trade
	for m, c := range closes {
		at := time.Duration(m) * time.Minute
		ts = append(ts, trade{"ACME", at + 13*time.Second, c}, trade{"ACME", at + 10*time.Second, c - 1})
	}
	return ts
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// trend is 30 bars closing at 100, 15 at 110 and 15 at 90, then a trade 30 minutes late.
func trend() []core.Record {
	closes := append(append(repeat(100, 30), repeat(110, 15)...), repeat(90, 15)...)
	return records(append(bars(closes...), trade{"ACME", 29 * time.Minute, 1}))
}

// TestDecisions: on the default function (SMA 5 against SMA 20 of 1-minute closes), from Go and
// from eddy.yaml, in one batch and cut into invocations, the fast average crosses above the slow
// one once (bar 30) and below once (bar 45), each reported once with exact averages computed from
// the closes by event time (not by arrival), and the late trade goes to the late output.
func TestDecisions(t *testing.T) {
	f, err := crossover.New(defaults())
	if err != nil {
		t.Fatal(err)
	}
	lines, got, late := run(t, f, trend(), 0)
	fntest.SpecAgrees(t, lines, trend(), 7, t0)
	want := []string{
		// Bar 30: fast (4·100+110)/5 = 102, slow (19·100+110)/20 = 100.5.
		"ma-cross golden ACME [30m0s,31m0s) rev 0: trades=2.0000 price=110.0000 fast=102.0000 slow=100.5000 spread=0.0149",
		// Bar 45: fast (4·110+90)/5 = 106, slow (4·100+15·110+90)/20 = 107.
		"ma-cross death ACME [45m0s,46m0s) rev 0: trades=2.0000 price=90.0000 fast=106.0000 slow=107.0000 spread=-0.0093",
	}
	fntest.Equal(t, "decisions", got, want)
	if late != 1 {
		t.Errorf("%d late outputs, want 1", late)
	}
}

// TestEMA: EMA 12 against EMA 26 on the same stream crosses at bars 30 and 46 (the exponential
// averages lag differently from the simple ones).
func TestEMA(t *testing.T) {
	c := defaults()
	c.Fast, c.Slow, c.Average = 12, 26, rule.EMA
	f, err := crossover.New(c)
	if err != nil {
		t.Fatal(err)
	}
	_, got, _ := run(t, f, trend(), 5)
	// Bar 30: fast 100 + 2/13·10, slow 100 + 2/27·10, both seeded at 100.
	a, b := 100+2.0/13*10, 100+2.0/27*10
	want := []string{
		fmt.Sprintf("ma-cross golden ACME [30m0s,31m0s) rev 0: trades=2.0000 price=110.0000 fast=%.4f slow=%.4f spread=%.4f", a, b, (a-b)/b),
		"ma-cross death ACME [46m0s,47m0s) rev 0: trades=2.0000 price=90.0000 fast=103.7352 slow=104.4441 spread=-0.0068",
	}
	fntest.Equal(t, "decisions", got, want)
}

// TestLateTradeRevisesTheBar: with allowed lateness, a trade that arrives after its bar closed
// revises the bar's close, and the crossover re-evaluates the bar: here the revision turns a bar
// without a crossing into a golden cross, decided once, with the revision in its id.
func TestLateTradeRevisesTheBar(t *testing.T) {
	c := defaults()
	c.AllowedLateness = 2 * time.Minute
	f, err := crossover.New(c)
	if err != nil {
		t.Fatal(err)
	}
	ts := bars(repeat(100, 30)...)
	ts = append(ts,
		trade{"ACME", 30*time.Minute + 10*time.Second, 100}, // bar 30 closes at 100 at first
		trade{"ACME", 31*time.Minute + 10*time.Second, 110}, // the watermark passes 31m: bar 30 fires
		trade{"ACME", 30*time.Minute + 50*time.Second, 110}, // late, within the lateness: bar 30 now closes at 110
		trade{"ACME", 31*time.Minute + 40*time.Second, 110},
		trade{"ACME", 32*time.Minute + 10*time.Second, 110}) // bar 31 fires: still above, nothing new
	for _, n := range []int{0, 1, 3} {
		_, got, late := run(t, f, records(ts), n)
		want := []string{"ma-cross golden ACME [30m0s,31m0s) rev 1: trades=2.0000 price=110.0000 fast=102.0000 slow=100.5000 spread=0.0149"}
		if late != 0 {
			t.Errorf("batches of %d: %d late outputs, want 0", n, late)
		}
		fntest.Equal(t, fmt.Sprintf("batches of %d: decisions", n), got, want)
	}
}

// wobble is one trade a minute of WOBL at :30: 25 bars hovering within 0.3% of 100, then a
// breakout.
func wobble() []core.Record {
	var ts []trade
	for m := range 25 {
		p := 100 + 0.3*math.Sin(float64(m)*1.7)
		ts = append(ts, trade{"WOBL", time.Duration(m)*time.Minute + 30*time.Second, math.Round(p*100) / 100})
	}
	for m := 25; m < 30; m++ {
		ts = append(ts, trade{"WOBL", time.Duration(m)*time.Minute + 30*time.Second, 104})
	}
	return records(ts)
}

// TestMinSpreadStopsFlapping: with a negligible band the SMA 2 / SMA 4 of a price wobbling around
// 100 crosses again and again; with 1% only the breakout does.
func TestMinSpreadStopsFlapping(t *testing.T) {
	c := defaults()
	c.Fast, c.Slow, c.MinSpread = 2, 4, 1e-12
	f, err := crossover.New(c)
	if err != nil {
		t.Fatal(err)
	}
	_, flappy, _ := run(t, f, wobble(), 0)
	t.Logf("%d crossings with a negligible band", len(flappy))
	if len(flappy) < 8 {
		t.Fatalf("with a negligible band, %d crossings, want the wobble to cross at least 8 times: %v", len(flappy), flappy)
	}
	// Crossings alternate: a golden cross is followed by a death cross and the other way round.
	for i, d := range flappy {
		state := strings.Fields(d)[1]
		if state != "golden" && state != "death" {
			t.Errorf("crossing %d is neither golden nor death: %s", i, d)
		}
		if i > 0 && state == strings.Fields(flappy[i-1])[1] {
			t.Errorf("two %s crossings in a row: %s", state, d)
		}
	}
	c.MinSpread = 0.01
	if f, err = crossover.New(c); err != nil {
		t.Fatal(err)
	}
	_, got, _ := run(t, f, wobble(), 0)
	// The breakout's first bar (25) lifts the fast average by less than 1% above the slow one;
	// the second clears the band: (104 − 102.0775)/102.0775.
	want := []string{"ma-cross golden WOBL [26m0s,27m0s) rev 0: trades=1.0000 price=104.0000 fast=104.0000 slow=102.0775 spread=0.0188"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decisions with a 1%% band: %q, want %q", got, want)
	}
	if cs := f.Crossovers[0]; cs.MinSpread != 0.01 || cs.Fast != 2 || cs.Slow != 4 {
		t.Errorf("crossover %+v", cs)
	}
}

// TestFlatPriceNeverCrosses: a price that does not move (with a decimal that floating point cannot
// hold exactly, three trades a minute for an hour) is never reported as crossing, even with a
// negligible band, for either average.
func TestFlatPriceNeverCrosses(t *testing.T) {
	for _, avg := range []rule.Average{rule.SMA, rule.EMA} {
		c := defaults()
		c.Average, c.MinSpread = avg, 1e-15
		f, err := crossover.New(c)
		if err != nil {
			t.Fatal(err)
		}
		var ts []trade
		for s := 0; s < 3600; s += 20 {
			ts = append(ts, trade{"FLAT", time.Duration(s) * time.Second, 100.3})
		}
		if _, got, _ := run(t, f, records(ts), 0); len(got) > 0 {
			t.Fatalf("%s: decisions on a flat price: %v", avg, got)
		}
	}
}

func TestRejects(t *testing.T) {
	for name, c := range map[string]crossover.Config{
		"no field":      {Key: "symbol", Time: "ts"},
		"fast >= slow":  {Key: "s", Time: "ts", Field: "p", Fast: 20, Slow: 20},
		"slow too long": {Key: "s", Time: "ts", Field: "p", Slow: rule.MaxCrossoverSlow + 1},
		"fast < 0":      {Key: "s", Time: "ts", Field: "p", Fast: -1},
		"spread >= 1":   {Key: "s", Time: "ts", Field: "p", MinSpread: 1},
		"spread < 0":    {Key: "s", Time: "ts", Field: "p", MinSpread: -0.1},
		"spread NaN":    {Key: "s", Time: "ts", Field: "p", MinSpread: math.NaN()},
		"negative step": {Key: "s", Time: "ts", Field: "p", Step: -time.Minute},
		"bad average":   {Key: "s", Time: "ts", Field: "p", Average: "wma"},
		"bad name":      {Name: "no spaces allowed", Key: "s", Time: "ts", Field: "p"},
	} {
		if _, err := crossover.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkCrossover measures the function on the crafted stream, decoding included: a fresh pipeline
// per iteration from one compiled function, as a runtime makes one per partition.
func BenchmarkCrossover(b *testing.B) {
	f, err := crossover.New(defaults())
	if err != nil {
		b.Fatal(err)
	}
	fntest.Benchmark(b, f, trend(), t0)
}

func ExampleNew() {
	f, err := crossover.New(crossover.Config{Key: "symbol", Time: "ts", Field: "price",
		Step: 5 * time.Minute, Fast: 12, Slow: 26, Average: rule.EMA, MinSpread: 0.002})
	if err != nil {
		fmt.Println(err)
		return
	}
	cross := f.Crossovers[0]
	fmt.Println(f.Description)
	fmt.Println(f.Window.Tumbling, cross.Name, cross.Of, cross.Fast, cross.Slow, cross.Average, cross.MinSpread)
	// Output:
	// moving-average crossover of price on 5m bars: EMA 12 against EMA 26, min spread 0.002
	// 5m0s ma-cross price 12 26 ema 0.002
}
