package window

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// benchOperator drives an operator with pre-decoded standard events (1,000 keys, 1 ms apart, up to
// 2 s out of order): the window and aggregate cost alone, without decoding.
var benchKeys = 1000

func benchOperator(b *testing.B, spec Spec, aggs []aggregate.Spec) {
	var table core.FieldTable
	plan, err := aggregate.Compile(aggs, &table)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	const n = 1 << 20
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("sensor-%04d", i)
	}
	evs := make([]core.Event, n)
	for i := range evs {
		evs[i] = core.Event{Key: keys[r.IntN(len(keys))], Time: time.UnixMilli(1_700_000_000_000 + int64(i) - r.Int64N(2001)),
			Fields: []core.Value{{Kind: core.Number, Num: float64(r.IntN(400)) / 4}}}
	}
	var outs int
	emit := func(*core.WindowResult) { outs++ }
	b.ReportAllocs()
	b.ResetTimer()
	op, _ := New("b", spec, Time{OutOfOrder: 2 * time.Second}, plan)
	maxTs := int64(0)
	for i := range b.N {
		if i%n == 0 && i > 0 {
			op.Flush(emit)
			op, _ = New("b", spec, Time{OutOfOrder: 2 * time.Second}, plan)
			maxTs = 0
		}
		ev := &evs[i%n]
		op.Add(ev, emit)
		if t := ev.Time.UnixNano(); t > maxTs {
			maxTs = t
			op.Advance(time.Unix(0, t-int64(2*time.Second)), emit)
		}
	}
	b.ReportMetric(float64(outs)/float64(b.N), "outputs/event")
}

// BenchmarkOperatorTumbling is W1's window work: tumbling 60 s, count/sum/avg/min/max.
func BenchmarkOperatorTumbling(b *testing.B) {
	benchOperator(b, Spec{Kind: Tumbling, Size: time.Minute}, []aggregate.Spec{
		{Op: aggregate.Count}, {Op: aggregate.Sum, Field: "value"}, {Op: aggregate.Avg, Field: "value"},
		{Op: aggregate.Min, Field: "value"}, {Op: aggregate.Max, Field: "value"}})
}

// BenchmarkOperatorSliding is W2's window work: 5 min every 1 s, avg.
func BenchmarkOperatorSliding(b *testing.B) {
	benchOperator(b, Spec{Kind: Sliding, Size: 5 * time.Minute, Slide: time.Second}, []aggregate.Spec{{Op: aggregate.Avg, Field: "value"}})
}

// BenchmarkOperatorSession is W3's window work: 30 s gap sessions, count.
func BenchmarkOperatorSession(b *testing.B) {
	benchOperator(b, Spec{Kind: Session, Gap: 30 * time.Second}, []aggregate.Spec{{Op: aggregate.Count}})
}

// BenchmarkOperatorSliding100 is BenchmarkOperatorSliding with 100 keys: the state fits in cache,
// so the difference shows what memory costs.
func BenchmarkOperatorSliding100(b *testing.B) {
	benchKeys = 100
	defer func() { benchKeys = 1000 }()
	BenchmarkOperatorSliding(b)
}

// BenchmarkOperatorSliding30s is W2's shape with a 30 s window: as many firings per event, a tenth
// of the state.
func BenchmarkOperatorSliding30s(b *testing.B) {
	benchOperator(b, Spec{Kind: Sliding, Size: 30 * time.Second, Slide: time.Second}, []aggregate.Spec{{Op: aggregate.Avg, Field: "value"}})
}
