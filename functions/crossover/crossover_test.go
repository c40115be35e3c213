package crossover_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/functions/crossover"
)

// t0 is a minute boundary, so the sliding windows start on whole minutes from it.
var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

func defaults() crossover.Config {
	return crossover.Config{Key: "symbol", Time: "ts", TimeFormat: "unix_ms", Field: "price"}
}

// TestGoEqualsSpec: the Go constructor with the defaults and eddy.yaml describe the same function,
// and the file passes everything `eddy validate` checks (spec.Load validates; Compile builds).
func TestGoEqualsSpec(t *testing.T) {
	fromGo, err := crossover.New(defaults())
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := spec.Load("eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromGo, fromYAML) {
		t.Fatalf("Go:   %+v\nYAML: %+v", fromGo, fromYAML)
	}
	if _, err := fromYAML.Compile(spec.Options{}); err != nil {
		t.Fatal(err)
	}
}

type trade struct {
	sym   string
	at    time.Duration // from t0
	price float64
}

func records(trades []trade) []core.Record {
	recs := make([]core.Record, len(trades))
	for i, tr := range trades {
		id := fmt.Sprint(i + 1)
		recs[i] = core.Record{ID: id, Offset: id, Data: []byte(fmt.Sprintf(`{"symbol":%q,"ts":%d,"price":%v}`,
			tr.sym, t0.Add(tr.at).UnixMilli(), tr.price))}
	}
	return recs
}

// run processes recs in batches of n (one batch for n <= 0), saving the state and restoring it
// into a fresh pipeline between batches as a serverless runtime does, then flushes. It returns
// every output as a JSON line, the decisions in a readable form and the number of late outputs,
// and checks that every decision id is the deterministic one.
func run(t *testing.T, f *spec.Function, recs []core.Record, n int) (lines []string, decisions []string, late int) {
	t.Helper()
	if n <= 0 {
		n = len(recs)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.NewPipeline()
	if err != nil {
		t.Fatal(err)
	}
	emit := func(o core.Output) {
		lines = append(lines, string(o.AppendJSON(nil)))
		switch o := o.(type) {
		case *core.Late:
			late++
		case *core.Decision:
			if want := core.DecisionID(f.Name, o.Rule, o.Key, o.Window, o.State, 0); o.ID != want {
				t.Errorf("decision %s: id %s, want %s", o.Rule, o.ID, want)
			}
			var vals []string
			for _, v := range o.Values {
				vals = append(vals, fmt.Sprintf("%s=%.4f", v.Name, v.Num))
			}
			decisions = append(decisions, fmt.Sprintf("%s %s %s [%s,%s) %s", o.Rule, o.State, o.Key,
				o.Window.Start.Sub(t0), o.Window.End.Sub(t0), strings.Join(vals, " ")))
		}
	}
	ctx := context.Background()
	for len(recs) > 0 {
		k := min(n, len(recs))
		res, err := p.Run(ctx, core.Batch{Partition: "0", Records: recs[:k], Now: t0}, emit)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failures) > 0 {
			t.Fatalf("failures: %v", res.Failures[0])
		}
		recs = recs[k:]
		// The next invocation: state saved and restored into a fresh pipeline.
		state, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if p, err = c.NewPipeline(); err != nil {
			t.Fatal(err)
		}
		if err := p.Restore(state); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Flush(ctx, emit); err != nil {
		t.Fatal(err)
	}
	return lines, decisions, late
}

// trend is 60 minutes of ACME trades, two a minute (at :10 and :13) delivered newest first, so
// every other event arrives 3 s out of order: 20 minutes at 100, 20 minutes at 110/112, 20 minutes
// at 90/88; then one trade 30 minutes late.
func trend() []core.Record {
	var ts []trade
	for m := 0; m < 60; m++ {
		a, b := 100.0, 100.0
		switch {
		case m >= 40:
			a, b = 90, 88
		case m >= 20:
			a, b = 110, 112
		}
		at := time.Duration(m) * time.Minute
		ts = append(ts, trade{"ACME", at + 13*time.Second, b}, trade{"ACME", at + 10*time.Second, a})
	}
	ts = append(ts, trade{"ACME", 29 * time.Minute, 1})
	return records(ts)
}

// TestDecisions: on the default function, from Go and from eddy.yaml, the price crosses above its
// 15-minute average once (minute 20) and below it once (minute 40), each reported once, with the
// latest price by event time (not arrival), and the late trade goes to the late output.
func TestDecisions(t *testing.T) {
	fromGo, err := crossover.New(defaults())
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := spec.Load("eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	goLines, got, late := run(t, fromGo, trend(), 0)
	yamlLines, _, _ := run(t, fromYAML, trend(), 0)
	splitLines, _, _ := run(t, fromYAML, trend(), 7)
	if !reflect.DeepEqual(goLines, splitLines) {
		t.Fatalf("one batch and batches of 7 with the state restored in between differ:\n%s\n---\n%s", strings.Join(goLines, "\n"), strings.Join(splitLines, "\n"))
	}
	if !reflect.DeepEqual(goLines, yamlLines) {
		t.Fatalf("Go and YAML outputs differ:\n%s\n---\n%s", strings.Join(goLines, "\n"), strings.Join(yamlLines, "\n"))
	}
	want := []string{
		// Minutes 6..20: 28 trades at 100, then 110 at :10 and 112 at :13 (arrived first).
		"golden-cross firing ACME [6m0s,21m0s) trades=30.0000 price=112.0000 long_ma=100.7333",
		// Minutes 26..40: 28 trades at 110/112, then 90 and 88.
		"golden-cross resolved ACME [26m0s,41m0s) trades=30.0000 price=88.0000 long_ma=109.5333",
		"death-cross firing ACME [26m0s,41m0s) trades=30.0000 price=88.0000 long_ma=109.5333",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decisions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if late != 1 {
		t.Errorf("%d late outputs, want 1", late)
	}
}

// wobble is one trade a minute of WOBL at :30 hovering within 0.5% of 100, then a breakout.
func wobble() []core.Record {
	var ts []trade
	for m, p := range []float64{100, 100.4, 99.7, 100.3, 99.8, 100.5, 99.6, 106, 107, 108} {
		ts = append(ts, trade{"WOBL", time.Duration(m)*time.Minute + 30*time.Second, p})
	}
	return records(ts)
}

// TestMinSpreadStopsFlapping: with a negligible spread every wobble around the 4-minute average is a
// crossing; with 1% only the breakout is.
func TestMinSpreadStopsFlapping(t *testing.T) {
	c := defaults()
	c.Long, c.Step, c.MinSpread = 4*time.Minute, time.Minute, 1e-9
	f, err := crossover.New(c)
	if err != nil {
		t.Fatal(err)
	}
	_, flappy, _ := run(t, f, wobble(), 0)
	firings := 0
	for _, d := range flappy {
		if strings.Contains(d, " firing ") {
			firings++
		}
	}
	// Minutes 1 to 7 each cross the average: 7 crossings.
	if firings != 7 {
		t.Fatalf("with a negligible spread, %d crossings, want 7: %v", firings, flappy)
	}
	// Minute 1: 100.4 against (100+100.4)/2 is above the average, having been equal to it at minute 0.
	if !strings.HasPrefix(flappy[0], "golden-cross firing WOBL [-2m0s,2m0s)") {
		t.Errorf("first decision with a negligible spread: %s", flappy[0])
	}
	c.MinSpread = 0.01
	if f, err = crossover.New(c); err != nil {
		t.Fatal(err)
	}
	_, got, _ := run(t, f, wobble(), 0)
	want := []string{"golden-cross firing WOBL [4m0s,8m0s) trades=4.0000 price=106.0000 long_ma=101.4750"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decisions with a 1%% spread:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if w := f.Rules[0].When; !strings.Contains(w, "price > long_ma * 1.01") {
		t.Errorf("golden-cross condition %q does not use the upper band", w)
	}
}

// TestFlatPriceNeverCrosses: a price that does not move (with a decimal that floating point cannot
// hold exactly, three trades a minute for an hour) is never reported as crossing its own average.
func TestFlatPriceNeverCrosses(t *testing.T) {
	f, err := crossover.New(defaults())
	if err != nil {
		t.Fatal(err)
	}
	var ts []trade
	for s := 0; s < 3600; s += 20 {
		ts = append(ts, trade{"FLAT", time.Duration(s) * time.Second, 100.3})
	}
	if _, got, _ := run(t, f, records(ts), 0); len(got) > 0 {
		t.Fatalf("decisions on a flat price: %v", got)
	}
}

func TestRejects(t *testing.T) {
	for name, c := range map[string]crossover.Config{
		"no field":      {Key: "symbol", Time: "ts"},
		"step >= long":  {Key: "s", Time: "ts", Field: "p", Long: time.Minute, Step: time.Minute},
		"not multiple":  {Key: "s", Time: "ts", Field: "p", Long: 10 * time.Minute, Step: 3 * time.Minute},
		"spread >= 1":   {Key: "s", Time: "ts", Field: "p", MinSpread: 1},
		"spread < 0":    {Key: "s", Time: "ts", Field: "p", MinSpread: -0.1},
		"negative long": {Key: "s", Time: "ts", Field: "p", Long: -time.Minute},
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
	c, err := f.Compile(spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	recs := trend()
	ctx := context.Background()
	emit := func(core.Output) {}
	b.ReportAllocs()
	for b.Loop() {
		p, err := c.NewPipeline()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Run(ctx, core.Batch{Partition: "0", Records: recs, Now: t0}, emit); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Flush(ctx, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func ExampleNew() {
	f, err := crossover.New(crossover.Config{Key: "symbol", Time: "ts", Field: "price",
		Long: 30 * time.Minute, Step: 5 * time.Minute, MinSpread: 0.005})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Window.Sliding.Size, f.Window.Sliding.Slide)
	fmt.Println(f.Rules[0].Name, "|", f.Rules[0].When, "|", f.Rules[0].Clear)
	fmt.Println(f.Rules[1].Name, "|", f.Rules[1].When, "|", f.Rules[1].Clear)
	// Output:
	// 30m0s 5m0s
	// golden-cross | !first && trades >= 1 && price > long_ma * 1.005 && prev.price <= prev.long_ma * 1.005 | price < long_ma * 0.995
	// death-cross | !first && trades >= 1 && price < long_ma * 0.995 && prev.price >= prev.long_ma * 0.995 | price > long_ma * 1.005
}
