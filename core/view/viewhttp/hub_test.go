package viewhttp

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// BenchmarkPublishOutputs measures what publishing a batch of 1,000 window results costs the
// pipeline with one client of each stream connected (the cost does not grow with clients): ns and
// allocations per output.
//
//	go test ./core/view/viewhttp -run '^$' -bench PublishOutputs -benchmem
func BenchmarkPublishOutputs(b *testing.B) {
	t0 := time.Unix(0, 0).UTC()
	outs := make([]core.Output, 1000)
	for k := range outs {
		outs[k] = &core.WindowResult{Function: "w1", Key: fmt.Sprintf("sensor-%04d", k), Start: t0, End: t0.Add(time.Minute),
			Values: []core.NamedValue{{Name: "count", Num: 17}, {Name: "sum", Num: 800.25}, {Name: "avg", Num: 47.07}, {Name: "min", Num: 0.25}, {Name: "max", Num: 99.75}}}
	}
	for _, c := range []struct {
		name   string
		latest bool
	}{{"newest_per_key", true}, {"all", false}} {
		b.Run(c.name, func(b *testing.B) {
			h := NewHub(&HubOptions{Interval: time.Hour})
			cl := h.subscribe(c.latest)
			defer h.unsubscribe(cl, false)
			buf := make([]byte, clientChunk)
			b.ReportAllocs()
			for i := range b.N {
				h.PublishOutputs(outs)
				if i%16 == 15 { // a tick every 16 batches; the client reads it all
					h.mu.Lock()
					if c.latest {
						h.seal(time.Now())
					}
					h.mu.Unlock()
					for {
						n, behind := h.read(cl, buf)
						if behind {
							b.Fatal("behind")
						}
						if n == 0 {
							break
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(outs)), "ns/output")
		})
	}
}
