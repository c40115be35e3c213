package metrics_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// BenchmarkRunW1 runs W1 batches of 500 records (1,000 keys, event time ~1 ms per event, up to
// 2 s out of order) through a Runner over a memory store, without an observer and with a
// Registry, to show what the metrics cost per batch.
func BenchmarkRunW1(b *testing.B) {
	f, err := spec.Parse("w1.yaml", []byte(w1))
	if err != nil {
		b.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const batch, nBatches = 500, 200
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
	for _, bc := range []struct {
		name string
		obs  func() runner.Observer
	}{
		{"observer=none", func() runner.Observer { return nil }},
		{"observer=registry", func() runner.Observer { return metrics.New() }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			events := 0
			for b.Loop() {
				b.StopTimer()
				r, err := runner.New(runner.Config{Function: "w1", Store: memstate.New(nil), Observer: bc.obs(),
					New: func(string) (runner.Processor, error) { return c.NewPipeline() }})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for i, recs := range batches {
					now := base.Add(time.Duration((i+1)*batch) * time.Millisecond)
					if _, err := r.Run(context.Background(), core.Batch{Partition: "0", Records: recs, Now: now}); err != nil {
						b.Fatal(err)
					}
					events += len(recs)
				}
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
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
