//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/eddyhq/eddy/core/codec"
)

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// coreTrace accounts for a replay's core time from the CPU time of each task of its phases and of
// each merge, measured on the task's own thread: unlike wall time, what other processes take of
// the cores does not change it.
type coreTrace struct {
	mu sync.Mutex
	// cur are the tasks of the phase under way: CPU times, runs first.
	cur            []traced
	cpu            map[string]time.Duration
	makespan, idle time.Duration // over the phases, on cores cores
	cores          int
}

type traced struct {
	kind string
	cpu  time.Duration
}

func (t *coreTrace) attach(sr *splitRun) {
	sr.trace = func(kind string, g int, f func()) {
		if kind == "end" {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.endPhase()
			return
		}
		runtime.LockOSThread()
		c0 := threadCPU()
		f()
		c := threadCPU() - c0
		runtime.UnlockOSThread()
		t.mu.Lock()
		defer t.mu.Unlock()
		t.cpu[kind] += c
		t.cur = append(t.cur, traced{kind, c})
	}
}

// endPhase schedules the phase's tasks as the pool takes them (runs first, then merges, then
// decoding, each to the goroutine free first) and adds up the time it takes and leaves idle.
func (t *coreTrace) endPhase() {
	rank := map[string]int{"run": 0, "flush": 0, "merge": 1, "decode": 2}
	slices.SortStableFunc(t.cur, func(a, b traced) int { return rank[a.kind] - rank[b.kind] })
	free := make([]time.Duration, t.cores)
	var sum time.Duration
	for _, tk := range t.cur {
		i := slices.Index(free, slices.Min(free))
		free[i] += tk.cpu
		sum += tk.cpu
	}
	span := slices.Max(free)
	t.makespan += span
	t.idle += time.Duration(t.cores)*span - sum
	t.cur = t.cur[:0]
}

// BenchmarkReplayCores accounts for the core time of replays of 1 M W1/W2/W3 events on 1, 2 and 4
// pipelines over the pool's goroutines (GOMAXPROCS): CPU ns per event in decoding, running the
// shares, merging, flushing and the rest (reading lines, the collector, the runtime), the idle
// core time the phases leave, and the wall time per event this predicts on an otherwise idle
// machine (model-ns/event: the phases scheduled on the cores, the rest filling idle time first).
// Run it with -benchtime 1x: the figures come from CPU times, whatever the machine's load.
func BenchmarkReplayCores(b *testing.B) {
	in := w1Input(b)
	const n = 1_000_000
	for _, wl := range []string{"w1", "w2", "w3"} {
		_, c, err := loadSpec("../../examples/bench/" + wl + ".yaml")
		if err != nil {
			b.Fatal(err)
		}
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/%d", wl, workers), func(b *testing.B) {
				heap := newHeapBudget()
				defer heap.restore()
				t := &coreTrace{cpu: map[string]time.Duration{}, cores: runtime.GOMAXPROCS(0)}
				b.ResetTimer()
				cpu0 := cpuTime()
				for range b.N {
					lines, err := codec.NewLines(bytes.NewReader(in), wl)
					if err != nil {
						b.Fatal(err)
					}
					st, err := runReplayFrom(context.Background(), c, lines, io.Discard, nil, defaultBatch(workers), workers, heap.check, t.attach)
					if err != nil {
						b.Fatal(err)
					}
					if st.Events != n {
						b.Fatalf("%d events", st.Events)
					}
				}
				total := cpuTime() - cpu0
				per := func(d time.Duration) float64 { return float64(d) / float64(n*b.N) }
				var traced time.Duration
				for k, d := range t.cpu {
					b.ReportMetric(per(d), k+"-ns/event")
					traced += d
				}
				rest := total - traced
				b.ReportMetric(per(rest), "rest-ns/event")
				b.ReportMetric(per(t.idle), "idle-ns/event")
				model := t.makespan
				if rest > t.idle {
					model += (rest - t.idle) / time.Duration(t.cores)
				}
				b.ReportMetric(per(model), "model-ns/event")
			})
		}
	}
}
