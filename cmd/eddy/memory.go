package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// replayHeap is the memory a replay's heap may grow by before the collector runs, unless GOGC or
// GOMEMLIMIT is set (then the user tunes the collector). A replay keeps little live (window state,
// a few batches of records in flight, output buffers: about 4 MB on W1) but allocates steadily
// (record ids, outputs), and the collector's default pace (collect when the heap doubles) would run
// it every few megabytes; a fixed budget collects rarely and keeps peak memory the same however
// long the input is. The budget is counted from what the process holds when the replay starts:
// the packages linked into eddy allocate several megabytes at init that stay live, and a budget
// that counted them too left the replay a few megabytes, a collection every 80,000 events and
// more CPU in the collector than in the engine (gctrace: 25 cycles on 2 M W1 events, 3.5 times the
// CPU of a 28 MB budget when the limit was a flat 20 MB).
const replayHeap = 16 << 20

// heapBudget runs the collector against a fixed memory budget (debug.SetMemoryLimit with GOGC off)
// above what the process held at the start, and raises the budget when what the replay keeps live
// outgrows half of it (many keys, long windows), so that the collector never runs back to back.
type heapBudget struct {
	on       bool
	base     int64 // the Go runtime's memory at the start
	live0    int64 // the live heap at the start
	limit    int64
	oldLimit int64
	oldGC    int
	sample   []metrics.Sample
}

func newHeapBudget() *heapBudget {
	h := &heapBudget{}
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, set := os.LookupEnv(v); set {
			return h
		}
	}
	h.on = true
	h.sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(h.sample)
	h.live0 = sampleInt(h.sample[0])
	h.base = sampleInt(h.sample[1]) - sampleInt(h.sample[2])
	h.limit = h.base + replayHeap
	h.oldLimit = debug.SetMemoryLimit(h.limit)
	h.oldGC = debug.SetGCPercent(-1)
	return h
}

func sampleInt(s metrics.Sample) int64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s.Value.Uint64())
}

// reserve raises the budget by n bytes that the replay keeps live on purpose (the views' pending
// rows): counted against replayHeap they would leave the collector a few megabytes and make it run
// back to back.
func (h *heapBudget) reserve(n int64) {
	if !h.on {
		return
	}
	h.limit += n
	debug.SetMemoryLimit(h.limit)
}

// check raises the budget to twice the replay's live heap when that is past it; replay calls it
// between batches.
func (h *heapBudget) check() {
	if !h.on {
		return
	}
	metrics.Read(h.sample[:1])
	if grown := sampleInt(h.sample[0]) - h.live0; h.base+2*grown > h.limit {
		h.limit = h.base + 2*grown
		debug.SetMemoryLimit(h.limit)
	}
}

// restore puts the collector's settings back.
func (h *heapBudget) restore() {
	if h.on {
		debug.SetGCPercent(h.oldGC)
		debug.SetMemoryLimit(h.oldLimit)
		h.on = false
	}
}
