package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// discard is a driver that takes everything at once.
type discard struct{ n int }

func (d *discard) Send(_ context.Context, msgs []*driver.Message) error { d.n += len(msgs); return nil }
func (d *discard) Limits() driver.Limits                                { return driver.Limits{MaxBatchMessages: 500} }
func (d *discard) Close(context.Context) error                          { return nil }

func benchOutputs(n int) []core.Output {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	outs := make([]core.Output, n)
	for i := range outs {
		outs[i] = &core.WindowResult{Function: "w1", Key: fmt.Sprintf("sensor-%04d", i%1000), Start: t0, End: t0.Add(time.Minute),
			Values: []core.NamedValue{{Name: "count", Num: 60}, {Name: "sum", Num: 3012.5}, {Name: "avg", Num: 50.2}, {Name: "min", Num: 1}, {Name: "max", Num: 99.5}}}
	}
	return outs
}

// BenchmarkEmit is the portable sink's cost per output (W1's window results) over a driver that
// costs nothing: building the message (id, metadata, body) and splitting to the driver's limits.
func BenchmarkEmit(b *testing.B) {
	outs := benchOutputs(1000)
	s := sink.New(&discard{}, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Emit(ctx, outs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(outs)), "ns/output")
}
