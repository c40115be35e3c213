package view_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/memview"
)

// BenchmarkBufferEmit is what a replay's view costs per window result: one output at a time into
// a Buffer (a latest and a 60-window history view), W1's five values, 1,000 keys; the flushes
// included.
func BenchmarkBufferEmit(b *testing.B) {
	w, err := view.NewWriter(view.NewStore(memview.New(), nil), "w1", []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "history", Kind: view.History}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := view.NewBuffer(w, 0)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("sensor-%04d", i)
	}
	t0 := time.Unix(1_700_000_000, 0).UTC()
	out := &core.WindowResult{Function: "w1", Values: []core.NamedValue{{Name: "count", Num: 61}, {Name: "sum", Num: 3012.25},
		{Name: "avg", Num: 49.38114754098361}, {Name: "min", Num: 0.25}, {Name: "max", Num: 99.75}}}
	one := []core.Output{out}
	ctx := context.Background()
	b.ReportAllocs()
	for i := range b.N {
		out.Key = keys[i%len(keys)]
		out.Start = t0.Add(time.Duration(i/len(keys)) * time.Minute)
		out.End = out.Start.Add(time.Minute)
		if err := buf.Emit(ctx, one); err != nil {
			b.Fatal(err)
		}
	}
	if err := buf.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}
