package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// replayHeap is the memory a replay's heap may take before the collector runs, unless GOGC or
// GOMEMLIMIT is set (then the user tunes the collector). A replay keeps little live (window state,
// a few batches of records in flight, output buffers: about 10 MB on W1) but allocates steadily
// (record ids, outputs), and the collector's default pace (collect when the heap doubles) would run
// it every few megabytes; a fixed budget collects rarely and keeps peak memory the same however
// long the input is.
const replayHeap = 20 << 20

// heapBudget runs the collector against a fixed memory budget (debug.SetMemoryLimit with GOGC off)
// and raises the budget when what the replay keeps live outgrows half of it (many keys, long
// windows), so that the collector never runs back to back.
type heapBudget struct {
	on       bool
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
	h.on, h.limit = true, replayHeap
	h.sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	h.oldLimit = debug.SetMemoryLimit(h.limit)
	h.oldGC = debug.SetGCPercent(-1)
	return h
}

// check raises the budget to twice the live heap when that is past it; replay calls it between
// batches.
func (h *heapBudget) check() {
	if !h.on {
		return
	}
	metrics.Read(h.sample)
	if h.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	if live := int64(h.sample[0].Value.Uint64()); 2*live > h.limit {
		h.limit = 2 * live
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
