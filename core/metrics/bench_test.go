package metrics_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// w1 is the standard workload W1 (DESIGN.md): tumbling 60 s, per key count/sum/avg/min/max.
const w1 = `
name: w1
input: {format: json, key: key, time: ts, time_format: unix_ms, out_of_order: 2s}
window: {tumbling: 60s}
aggregates:
  - {name: count, count: true}
  - {name: sum, sum: value}
  - {name: avg, avg: value}
  - {name: min, min: value}
  - {name: max, max: value}
`

// BenchmarkRunW1 replays W1 in batches of 500 records (1,000 keys, event time ~1 ms per event,
// up to 2 s out of order) through a Runner over a memory store, once without an observer and once
// with a Registry, alternating within each iteration so that a loaded machine's drift hits both
// alike. It reports each one's ns per batch and the median of the per-iteration ratios as
// overhead-% (the metrics' cost on the replay).
func BenchmarkRunW1(b *testing.B) {
	f, err := spec.Parse("w1.yaml", []byte(w1))
	if err != nil {
		b.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const batch, nBatches = 500, 100
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batches := make([][]core.Record, nBatches)
	for i := range batches {
		recs := make([]core.Record, batch)
		for j := range recs {
			n := i*batch + j
			ts := base.Add(time.Duration(n)*time.Millisecond - time.Duration(rng.IntN(2000))*time.Millisecond)
			recs[j] = core.Record{ID: fmt.Sprint(n + 1), Offset: fmt.Sprint(n + 1), Time: base.Add(time.Duration(n) * time.Millisecond),
				Data: fmt.Appendf(nil, `{"key":"sensor-%04d","ts":%d,"value":%d}`, rng.IntN(1000), ts.UnixMilli(), rng.IntN(100))}
		}
		batches[i] = recs
	}
	replay := func(obs runner.Observer) time.Duration {
		r, err := runner.New(runner.Config{Function: "w1", Store: memstate.New(nil), Observer: obs,
			New: func(string) (runner.Processor, error) { return c.NewPipeline() }})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		for i, recs := range batches {
			now := base.Add(time.Duration((i+1)*batch) * time.Millisecond)
			if _, err := r.Run(context.Background(), core.Batch{Partition: "0", Records: recs, Now: now}); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(t0)
	}
	var none, with time.Duration
	var ratios []float64
	i := 0
	for b.Loop() {
		var dn, dw time.Duration
		if i%2 == 0 {
			dn, dw = replay(nil), replay(metrics.New())
		} else {
			dw, dn = replay(metrics.New()), replay(nil)
		}
		i++
		none += dn
		with += dw
		ratios = append(ratios, float64(dw)/float64(dn))
	}
	slices.Sort(ratios)
	n := float64(i * nBatches)
	b.ReportMetric(float64(none.Nanoseconds())/n, "ns/batch-none")
	b.ReportMetric(float64(with.Nanoseconds())/n, "ns/batch-registry")
	b.ReportMetric((ratios[len(ratios)/2]-1)*100, "overhead-%")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkObserve measures one Registry.Observe of a batch with 100 outputs: the metrics' cost
// per batch, on top of the Runner's.
func BenchmarkObserve(b *testing.B) {
	reg := metrics.New()
	outs := make([]core.Output, 100)
	for i := range outs {
		outs[i] = &core.WindowResult{Function: "w1", Key: "k"}
	}
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	o := &runner.Observation{Function: "w1", Partition: "0", Now: now, Newest: now.Add(-time.Second),
		Attempts: 1, StoreCalls: 2, Commits: 1, CommitLatency: time.Millisecond, Committed: true, StateBytes: 40000,
		Result: core.Result{Outputs: outs, Watermark: now.Add(-3 * time.Second), Stats: core.Stats{Records: 500, Events: 500, Windows: 100}}}
	ctx := context.Background()
	for b.Loop() {
		reg.Observe(ctx, o)
	}
}

// nopProcessor does nothing: BenchmarkRunHook measures the Runner's own path and the hook's cost
// on it.
type nopProcessor struct{}

func (nopProcessor) Restore([]byte) error { return nil }
func (nopProcessor) Process(_ context.Context, b core.Batch) (core.Result, error) {
	return core.Result{Stats: core.Stats{Records: len(b.Records), Events: len(b.Records)}, Watermark: b.Now.Add(-time.Second)}, nil
}
func (nopProcessor) Tick(context.Context, time.Time) (core.Result, error) { return core.Result{}, nil }
func (nopProcessor) Snapshot() ([]byte, error)                            { return []byte("s"), nil }

// BenchmarkRunHook runs one-record batches through a Runner with a processor that does nothing, over
// a memory store, without an observer and with a Registry: the difference is what the metrics cost
// per batch (an Observation, a context value, four clock reads and Registry.Observe).
func BenchmarkRunHook(b *testing.B) {
	for _, bc := range []struct {
		name string
		obs  func() runner.Observer
	}{
		{"observer=none", func() runner.Observer { return nil }},
		{"observer=registry", func() runner.Observer { return metrics.New() }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r, err := runner.New(runner.Config{Function: "f", Store: memstate.New(nil), Observer: bc.obs(),
				New: func(string) (runner.Processor, error) { return nopProcessor{}, nil }})
			if err != nil {
				b.Fatal(err)
			}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			rec := []core.Record{{ID: "1", Data: []byte("{}"), Time: now}}
			ctx := context.Background()
			off := 0
			b.ReportAllocs()
			for b.Loop() {
				off++
				rec[0].Offset = strconv.Itoa(off)
				if _, err := r.Run(ctx, core.Batch{Partition: "0", Records: rec, Now: now}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
