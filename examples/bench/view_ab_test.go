package bench

import (
	"bufio"
	"context"
	"io"
	"testing"

	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/memview"
)

// BenchmarkW1ViewAB runs W1 (1 M events, 1,000 keys, batches of 10,000, results as JSON lines)
// without views ("off") and with views in memory, written per batch as under a Runner ("latest",
// "history", "both") or folded in a view.Buffer as in a replay ("both_buffered"), each a
// sub-benchmark so that allocations and the process CPU time per run (cpu_ms/op, steadier than
// wall time on a shared machine) compare directly:
//
//	go test ./examples/bench -run '^$' -bench W1ViewAB -benchtime 3x -cpu 1 -benchmem
func BenchmarkW1ViewAB(b *testing.B) {
	recs := Records(Generate(1, 1_000_000, 1000))
	lines := func() *lineSink { return &lineSink{w: bufio.NewWriterSize(io.Discard, 1<<20)} }
	defs := []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "history", Kind: view.History}}
	b.Run("off", func(b *testing.B) {
		b.ReportAllocs()
		c0 := cpuTime()
		for range b.N {
			runW1Sink(b, recs, lines())
		}
		b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/1e6, "cpu_ms/op")
	})
	for _, c := range []struct {
		name string
		defs []view.Def
		buf  bool
	}{{"latest", defs[:1], false}, {"history", defs[1:], false}, {"both", defs, false}, {"both_buffered", defs, true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			c0 := cpuTime()
			for range b.N {
				w, err := view.NewWriter(view.NewStore(memview.New(), nil), "w1", c.defs, nil)
				if err != nil {
					b.Fatal(err)
				}
				if c.buf {
					buf := view.NewBuffer(w, 0)
					runW1Sink(b, recs, view.Tee(lines(), buf))
					if err := buf.Flush(context.Background()); err != nil {
						b.Fatal(err)
					}
				} else {
					runW1Sink(b, recs, view.Tee(lines(), w))
				}
			}
			b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/1e6, "cpu_ms/op")
		})
	}
}
