package zscore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/functions/internal/fntest"
	"github.com/eddyhq/eddy/functions/zscore"
)

// t0 is a minute boundary, so windows are whole minutes from it.
var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func defaults() zscore.Config {
	return zscore.Config{Key: "endpoint", Time: "ts", TimeFormat: "unix_ms", Field: "latency_ms"}
}

// TestGoEqualsSpec: the Go constructor with the defaults and eddy.yaml describe the same function,
// and the file passes everything `eddy validate` checks (spec.Load validates; Compile builds).
func TestGoEqualsSpec(t *testing.T) {
	f, err := zscore.New(defaults())
	fntest.SameAsSpec(t, f, err)
}

type reading struct {
	endpoint string
	at       time.Duration // from t0
	ms       float64
}

func records(rs []reading) []core.Record {
	return fntest.Records(len(rs), func(i int) []byte {
		r := rs[i]
		return fmt.Appendf(nil, `{"endpoint":%q,"ts":%d,"latency_ms":%v}`, r.endpoint, t0.Add(r.at).UnixMilli(), r.ms)
	})
}

// minutes makes six readings a minute per endpoint whose average is the minute's value, at :00,
// :10, ... :50, delivered in swapped pairs (:10 before :00), so half arrive out of order.
func minutes(values map[string][]float64) []reading {
	var rs []reading
	n := 0
	for _, vs := range values {
		n = max(n, len(vs))
	}
	for m := 0; m < n; m++ {
		for _, ep := range []string{"GET /a", "GET /b"} {
			vs := values[ep]
			if m >= len(vs) {
				continue
			}
			for i, d := range []float64{1, -1, 2, -2, 3, -3} {
				at := time.Duration(m)*time.Minute + time.Duration(i^1)*10*time.Second
				rs = append(rs, reading{ep, at, vs[m] + d})
			}
		}
	}
	return rs
}

// stream is 40 minutes of two endpoints: GET /a cycles 98..102 with a spike to 130 at minute 35;
// GET /b is a steady 50 with a drop to 40 at minute 38. A reading for minute 2 arrives at the end,
// long after its window closed.
func stream() []core.Record {
	a, b := make([]float64, 40), make([]float64, 40)
	for m := range a {
		a[m] = float64(100 + m%5 - 2)
		b[m] = 50
	}
	a[35], b[38] = 130, 40
	rs := minutes(map[string][]float64{"GET /a": a, "GET /b": b})
	rs = append(rs, reading{"GET /a", 2*time.Minute + 5*time.Second, 1000})
	return records(rs)
}

// run runs recs through f with fntest.Run in batches of n, returning every output as a JSON line,
// the decisions in a readable form and the number of late outputs, and checks that decision ids
// are the deterministic ones.
func run(t *testing.T, f *spec.Function, recs []core.Record, n int) (lines []string, decisions []string, late int) {
	t.Helper()
	lines = fntest.Run(t, f, recs, n, t0, func(o core.Output) {
		switch o := o.(type) {
		case *core.Late:
			late++
		case *core.Decision:
			if want := core.DecisionID(f.Name, o.Rule, o.Key, o.Window, string(o.State), 0); o.ID != want {
				t.Errorf("decision %s: id %s, want %s", o.Rule, o.ID, want)
			}
			var vals []string
			for _, v := range o.Values {
				vals = append(vals, fmt.Sprintf("%s=%.4f", v.Name, v.Num))
			}
			decisions = append(decisions, fmt.Sprintf("%s %s %s %s [%s,%s) %s", o.Rule, o.State, o.Severity, o.Key,
				o.Window.Start.Sub(t0), o.Window.End.Sub(t0), strings.Join(vals, " ")))
		}
	})
	return lines, decisions, late
}

// TestDecisions: the default detector, from Go and from eddy.yaml, flags exactly the spike and the
// drop; the ordinary cycle never scores beyond √2, and nothing is scored in the 30-minute warm-up.
func TestDecisions(t *testing.T) {
	f, err := zscore.New(defaults())
	if err != nil {
		t.Fatal(err)
	}
	lines, got, late := run(t, f, stream(), 0)
	fntest.SpecAgrees(t, lines, stream(), 13, t0)
	want := []string{
		// Minutes 5..34 are six cycles of 98..102: mean 100, population stddev √2; (130-100)/√2.
		"zscore anomaly warning GET /a [35m0s,36m0s) readings=6.0000 value=130.0000 anomaly.score=21.2132 anomaly.mean=100.0000 anomaly.stddev=1.4142",
		// A steady series has no spread: any move is infinitely unusual.
		"zscore anomaly warning GET /b [38m0s,39m0s) readings=6.0000 value=40.0000 anomaly.score=-Inf anomaly.mean=50.0000 anomaly.stddev=0.0000",
	}
	fntest.Equal(t, "decisions", got, want)
	if late != 1 {
		t.Errorf("%d late outputs, want 1", late)
	}
}

// TestWarmupAndDirection: a short history with a short warm-up flags early; above only ignores the
// drop.
func TestWarmupAndDirection(t *testing.T) {
	c := defaults()
	c.History, c.Warmup, c.Direction, c.Severity = 5, 3, rule.Above, "critical"
	f, err := zscore.New(c)
	if err != nil {
		t.Fatal(err)
	}
	a := []float64{100, 102, 98, 130, 100, 100, 60}
	b := []float64{50, 50, 50, 40, 50, 50, 90}
	_, got, _ := run(t, f, records(minutes(map[string][]float64{"GET /a": a, "GET /b": b})), 0)
	want := []string{
		// After three values (100, 102, 98): mean 100, stddev √(8/3).
		"zscore anomaly critical GET /a [3m0s,4m0s) readings=6.0000 value=130.0000 anomaly.score=18.3712 anomaly.mean=100.0000 anomaly.stddev=1.6330",
		// GET /b's drop at minute 3 is below, ignored; its jump at minute 6 over 50,40,50,50,50
		// (mean 48, stddev 4) is (90-48)/4.
		"zscore anomaly critical GET /b [6m0s,7m0s) readings=6.0000 value=90.0000 anomaly.score=10.5000 anomaly.mean=48.0000 anomaly.stddev=4.0000",
	}
	fntest.Equal(t, "decisions", got, want)
}

func TestRejects(t *testing.T) {
	for name, c := range map[string]zscore.Config{
		"no key":          {Time: "ts", Field: "x"},
		"history 1":       {Key: "k", Time: "ts", Field: "x", History: 1},
		"warmup > hist":   {Key: "k", Time: "ts", Field: "x", History: 5, Warmup: 6},
		"warmup 1":        {Key: "k", Time: "ts", Field: "x", Warmup: 1},
		"threshold < 0":   {Key: "k", Time: "ts", Field: "x", Threshold: -1},
		"unknown stat":    {Key: "k", Time: "ts", Field: "x", Stat: "median"},
		"quantile no q":   {Key: "k", Time: "ts", Field: "x", Stat: "quantile"},
		"q without qtl":   {Key: "k", Time: "ts", Field: "x", Q: 0.9},
		"bad direction":   {Key: "k", Time: "ts", Field: "x", Direction: "sideways"},
		"negative window": {Key: "k", Time: "ts", Field: "x", Window: -time.Second},
	} {
		if _, err := zscore.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkZScore measures the function on the crafted stream, decoding included: a fresh pipeline
// per iteration from one compiled function, as a runtime makes one per partition.
func BenchmarkZScore(b *testing.B) {
	f, err := zscore.New(defaults())
	if err != nil {
		b.Fatal(err)
	}
	fntest.Benchmark(b, f, stream(), t0)
}

func ExampleNew() {
	f, err := zscore.New(zscore.Config{Key: "endpoint", Time: "ts", Field: "latency_ms",
		Stat: "quantile", Q: 0.99, History: 60, Warmup: 10, Threshold: 4, Direction: "above"})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := f.Anomalies[0]
	fmt.Println(f.Description)
	fmt.Println(a.Method, a.Aggregate, a.Window, a.Warmup, a.Threshold, a.Direction)
	// Output:
	// anomaly when the 1m quantile 0.99 of latency_ms is 4 or more standard deviations from its last 60 windows (direction above)
	// zscore value 60 10 4 above
}
