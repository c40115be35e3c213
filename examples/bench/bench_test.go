package bench

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/pipeline"
)

// run processes records in Lambda-sized batches and then flushes, collecting every output's JSON.
func run(t testing.TB, cfg pipeline.Config, recs []core.Record) (outs []string, stats core.Stats) {
	t.Helper()
	p, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	emit := func(o core.Output) { outs = append(outs, string(o.AppendJSON(nil))) }
	for i := 0; i < len(recs); i += 10000 {
		res, err := p.Run(ctx, core.Batch{Partition: "p0", Records: recs[i:min(i+10000, len(recs))], Now: time.Now()}, emit)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failures) > 0 {
			t.Fatalf("failure: %v", res.Failures[0])
		}
		stats.Add(res.Stats)
	}
	res, err := p.Flush(ctx, emit)
	if err != nil {
		t.Fatal(err)
	}
	stats.Add(res.Stats)
	return outs, stats
}

func windowLine(key string, start, end int64, vals ...core.NamedValue) string {
	r := core.WindowResult{Function: "", Key: key, Start: time.UnixMilli(start), End: time.UnixMilli(end), Values: vals}
	s, _ := stripWindow(string(r.AppendJSON(nil)), "")
	return s
}

func byKey(evs []Event) map[string][]Event {
	m := map[string][]Event{}
	for _, e := range evs {
		m[e.Key] = append(m[e.Key], e)
	}
	return m
}

// refW1 groups events by key and minute, adding values in arrival order.
func refW1(evs []Event) []string {
	type acc struct{ n, sum, lo, hi float64 }
	wins := map[[2]any]*acc{}
	for _, e := range evs {
		k := [2]any{e.Key, e.TS / 60000}
		a := wins[k]
		if a == nil {
			a = &acc{lo: math.Inf(1), hi: math.Inf(-1)}
			wins[k] = a
		}
		a.n++
		a.sum += e.Value
		a.lo, a.hi = min(a.lo, e.Value), max(a.hi, e.Value)
	}
	var out []string
	for k, a := range wins {
		m := k[1].(int64) * 60000
		out = append(out, windowLine(k[0].(string), m, m+60000,
			core.NamedValue{Name: "count", Num: a.n}, core.NamedValue{Name: "sum", Num: a.sum},
			core.NamedValue{Name: "avg", Num: a.sum / a.n}, core.NamedValue{Name: "min", Num: a.lo},
			core.NamedValue{Name: "max", Num: a.hi}))
	}
	return out
}

// refW2 averages, for every key and every 1 s window end holding an event, the events of the 5
// minutes before it.
func refW2(evs []Event) []string {
	var out []string
	for key, kevs := range byKey(evs) {
		ends := map[int64]bool{}
		for _, e := range kevs {
			for end := e.TS/1000*1000 + 1000; end-300000 <= e.TS; end += 1000 {
				ends[end] = true
			}
		}
		for end := range ends {
			n, sum := 0.0, 0.0
			for _, e := range kevs {
				if e.TS >= end-300000 && e.TS < end {
					n++
					sum += e.Value
				}
			}
			out = append(out, windowLine(key, end-300000, end, core.NamedValue{Name: "avg", Num: sum / n}))
		}
	}
	return out
}

// refW3 sorts each key's events and cuts sessions where two events are 30 s or more apart.
func refW3(evs []Event) []string {
	var out []string
	for key, kevs := range byKey(evs) {
		slices.SortStableFunc(kevs, func(a, b Event) int { return cmp.Compare(a.TS, b.TS) })
		start, n := kevs[0].TS, 0.0
		for i, e := range kevs {
			if i > 0 && e.TS-kevs[i-1].TS >= 30000 {
				out = append(out, windowLine(key, start, kevs[i-1].TS+30000, core.NamedValue{Name: "count", Num: n}))
				start, n = e.TS, 0
			}
			n++
		}
		out = append(out, windowLine(key, start, kevs[len(kevs)-1].TS+30000, core.NamedValue{Name: "count", Num: n}))
	}
	return out
}

// refW4 scans each key's events in time order (ties by arrival) for three values above 90 followed
// at once by one below 10 within 10 s of the first, restarting after each match.
func refW4(evs []Event) []string {
	var out []string
	for key, kevs := range byKey(evs) {
		slices.SortStableFunc(kevs, func(a, b Event) int { return cmp.Compare(a.TS, b.TS) })
		for i := 0; i+3 < len(kevs); {
			w := kevs[i : i+4]
			if w[0].Value > 90 && w[1].Value > 90 && w[2].Value > 90 && w[3].Value < 10 && w[3].TS-w[0].TS <= 10000 {
				out = append(out, fmt.Sprintf("%s %d %d", key, w[0].TS, w[3].TS))
				i += 4
				continue
			}
			i++
		}
	}
	return out
}

// windowsOnly keeps fn's window results, without their "id" and "function" members (the id folds
// in the function's name), so engine and reference lines compare.
func windowsOnly(t *testing.T, outs []string, fn string) []string {
	t.Helper()
	var ws []string
	for _, o := range outs {
		if s, ok := stripWindow(o, fn); ok {
			ws = append(ws, s)
		}
	}
	return ws
}

// stripWindow drops a window result line's "id" (32 hex digits) and its "function" member, which
// must be fn.
func stripWindow(line, fn string) (string, bool) {
	const head = `{"type":"window","id":"`
	if !strings.HasPrefix(line, head) || len(line) < len(head)+32 {
		return "", false
	}
	rest, ok := strings.CutPrefix(line[len(head)+32:], `","function":`+strconv.Quote(fn)+`,`)
	if !ok {
		return "", false
	}
	return `{"type":"window",` + rest, true
}

func sameSet(t *testing.T, name string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 {
		t.Fatalf("%s: the reference has no results: the test proves nothing", name)
	}
	if !slices.Equal(got, want) {
		for i := 0; i < min(len(got), len(want)); i++ {
			if got[i] != want[i] {
				t.Fatalf("%s: %d results, reference %d; first difference:\n got  %s\n want %s", name, len(got), len(want), got[i], want[i])
			}
		}
		t.Fatalf("%s: %d results, reference %d", name, len(got), len(want))
	}
}

func TestWorkloadsMatchReference(t *testing.T) {
	evs := Generate(1, 200_000, 1000)
	recs := Records(evs)
	for _, w := range []struct {
		cfg pipeline.Config
		ref func([]Event) []string
	}{{W1, refW1}, {W2, refW2}, {W3, refW3}} {
		outs, stats := run(t, w.cfg, recs)
		if stats.Late != 0 || stats.Failed != 0 || stats.Events != len(evs) {
			t.Errorf("%s: stats %+v", w.cfg.Function, stats)
		}
		sameSet(t, w.cfg.Function, windowsOnly(t, outs, w.cfg.Function), w.ref(evs))
	}
}

func TestW4MatchesReference(t *testing.T) {
	evs := Generate(4, 1_000_000, 1000)
	outs, stats := run(t, W4Config, Records(evs))
	if stats.Late != 0 {
		t.Errorf("%d late events", stats.Late)
	}
	var got []string
	for _, o := range outs {
		var d struct {
			Key    string
			Window struct{ Start, End time.Time }
		}
		if err := jsonUnmarshal(o, &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %d", d.Key, d.Window.Start.UnixMilli(), d.Window.End.UnixMilli()))
	}
	sameSet(t, "w4", got, refW4(evs))
}

// benchWorkload reports events/s for a workload over n generated events, decoding included.
func benchWorkload(b *testing.B, cfg pipeline.Config, n, keys int) {
	recs := Records(Generate(1, n, keys))
	var outs int
	emit := func(core.Output) { outs++ }
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		runOnce(b, cfg, recs, emit)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(outs)/float64(b.N), "outputs/op")
}

// runOnce runs a fresh pipeline of cfg over recs in batches of 10,000 and flushes it.
func runOnce(b *testing.B, cfg pipeline.Config, recs []core.Record, emit func(core.Output)) {
	ctx := context.Background()
	p, err := Build(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(recs); i += 10000 {
		if _, err := p.Run(ctx, core.Batch{Partition: "p0", Records: recs[i:min(i+10000, len(recs))]}, emit); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := p.Flush(ctx, emit); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkW2OverW1 measures the target "W2 within 1.5x of W1" as one figure: each op runs W1 and
// W2 over the same 1 M events (in turns, each first every other op), and w2/w1 is the median of
// the ops' time ratios. Runs that alternate are robust to a machine whose speed drifts (a VM
// sharing its caches), where separate runs of W1 and W2 minutes apart are not: run it with
// -benchtime 10x or more.
func BenchmarkW2OverW1(b *testing.B) {
	recs := Records(Generate(1, 1_000_000, 1000))
	emit := func(core.Output) {}
	var ratios, w1s, w2s []float64
	timed := func(cfg pipeline.Config) float64 {
		t0 := time.Now()
		runOnce(b, cfg, recs, emit)
		return time.Since(t0).Seconds()
	}
	for i := range b.N {
		var d1, d2 float64
		if i%2 == 0 { // either order, so that neither pays for what the other leaves behind
			d1, d2 = timed(W1), timed(W2)
		} else {
			d2, d1 = timed(W2), timed(W1)
		}
		ratios, w1s, w2s = append(ratios, d2/d1), append(w1s, d1), append(w2s, d2)
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(median(ratios), "w2/w1")
	b.ReportMetric(float64(len(recs))/median(w1s), "w1-events/s")
	b.ReportMetric(float64(len(recs))/median(w2s), "w2-events/s")
}

// BenchmarkW1 to W4 process 1 M standard events (1,000 keys) from JSON lines per op, with decoding,
// windowing, aggregation (or matching) and the final flush; events/s is the figure to read.
func BenchmarkW1(b *testing.B) { benchWorkload(b, W1, 1_000_000, 1000) }

// BenchmarkW2 is the sliding workload: 300 windows per event.
func BenchmarkW2(b *testing.B) { benchWorkload(b, W2, 1_000_000, 1000) }

// BenchmarkW3 is the session workload.
func BenchmarkW3(b *testing.B) { benchWorkload(b, W3, 1_000_000, 1000) }

// BenchmarkW4 is the pattern workload.
func BenchmarkW4(b *testing.B) { benchWorkload(b, W4Config, 1_000_000, 1000) }

// BenchmarkW2Memory10k runs W2 over 10,000 keys and reports, at the end of the stream before the
// flush, the partials held per non-empty slice and the heap per key.
func BenchmarkW2Memory10k(b *testing.B) {
	recs := Records(Generate(2, 2_000_000, 10000))
	ctx := context.Background()
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p, err := Build(W2)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(recs); i += 10000 {
			if _, err := p.Run(ctx, core.Batch{Partition: "p0", Records: recs[i:min(i+10000, len(recs))]}, func(core.Output) {}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		keys, sl, partials := p.Operator().Memory()
		if partials > sl+keys {
			b.Fatalf("%d partials for %d slices of %d keys: more than one per slice plus one per key", partials, sl, keys)
		}
		b.ReportMetric(float64(partials)/float64(sl), "partials/slice")
		b.ReportMetric(float64(sl)/float64(keys), "slices/key")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(keys), "heap-bytes/key")
		runtime.KeepAlive(p)
	}
}

// BenchmarkStateBytesPerKey reports the snapshot size per key of each workload's pipeline in the
// middle of a stream (200,000 events, 1,000 keys): what a state store holds between invocations.
func BenchmarkStateBytesPerKey(b *testing.B) {
	recs := Records(Generate(3, 200_000, 1000))
	for _, cfg := range []pipeline.Config{W1, W2, W3, W4Config} {
		b.Run(cfg.Function, func(b *testing.B) {
			for range b.N {
				p, err := Build(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Run(context.Background(), core.Batch{Partition: "p0", Records: recs}, func(core.Output) {}); err != nil {
					b.Fatal(err)
				}
				snap, err := p.Snapshot()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(snap))/1000, "bytes/key")
			}
		})
	}
}
