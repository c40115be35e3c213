package core_test

import (
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// BenchmarkWindowJSON is what writing a window result costs, its id (a SHA-256) included.
func BenchmarkWindowJSON(b *testing.B) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &core.WindowResult{Function: "hot-sensors", Key: "sensor-0042", Start: start, End: start.Add(time.Second),
		Values: []core.NamedValue{{Name: "count", Num: 3}, {Name: "avg", Num: 81.5}, {Name: "max", Num: 84.25}}}
	var buf []byte
	b.ReportAllocs()
	for range b.N {
		buf = w.AppendJSON(buf[:0])
	}
}

// BenchmarkOutputID is the id alone.
func BenchmarkOutputID(b *testing.B) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &core.WindowResult{Function: "hot-sensors", Key: "sensor-0042", Start: start, End: start.Add(time.Second)}
	b.ReportAllocs()
	for range b.N {
		_ = core.OutputID(w)
	}
}
