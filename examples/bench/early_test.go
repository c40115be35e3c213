package bench

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/pipeline"
	"github.com/eddyhq/eddy/internal/window"
)

// W2Early is W2 with early firings every 10 s of processing time.
var W2Early = func() pipeline.Config {
	c := W2
	c.Window.Early = window.Early{Every: 10 * time.Second}
	return c
}()

// runPaced runs a fresh pipeline of cfg over recs in batches of 10,000 whose processing time
// advances 10 s a batch (the stream's event time runs about 10 s a batch too: real-time pace), and
// flushes it. With W2Early every batch fires every key's next window early.
func runPaced(b *testing.B, cfg pipeline.Config, recs []core.Record, emit func(core.Output)) {
	ctx := context.Background()
	p, err := Build(cfg)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	for i := 0; i < len(recs); i += 10000 {
		batch := core.Batch{Partition: "p0", Records: recs[i:min(i+10000, len(recs))], Now: now}
		if _, err := p.Run(ctx, batch, emit); err != nil {
			b.Fatal(err)
		}
		now = now.Add(10 * time.Second)
	}
	if _, err := p.Flush(ctx, emit); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkW2Early measures the target "early firings every 10 s on W2 cost at most 20%": each op
// runs W2 and W2Early over the same 1 M events, paced alike (in turns, each first every other op),
// and early/w2 is the median of the ops' time ratios. Run it with -benchtime 6x or more.
func BenchmarkW2Early(b *testing.B) {
	recs := Records(Generate(1, 1_000_000, 1000))
	var outs [2]int
	var ratios, plain, early []float64
	timed := func(cfg pipeline.Config, n *int) float64 {
		t0 := time.Now()
		runPaced(b, cfg, recs, func(core.Output) { *n++ })
		return time.Since(t0).Seconds()
	}
	for i := range b.N {
		var d0, d1 float64
		if i%2 == 0 {
			d0, d1 = timed(W2, &outs[0]), timed(W2Early, &outs[1])
		} else {
			d1, d0 = timed(W2Early, &outs[1]), timed(W2, &outs[0])
		}
		ratios, plain, early = append(ratios, d1/d0), append(plain, d0), append(early, d1)
	}
	if outs[1] <= outs[0] {
		b.Fatalf("early firings added no outputs: %d vs %d", outs[1], outs[0])
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(median(ratios), "early/w2")
	b.ReportMetric(float64(len(recs))/median(plain), "w2-events/s")
	b.ReportMetric(float64(len(recs))/median(early), "early-events/s")
	b.ReportMetric(float64(outs[1]-outs[0])/float64(b.N), "early-outputs/op")
}
