package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/examples/bench"
)

// w1Input is the input of BenchmarkW1 (examples/bench) as JSON lines: 1 M events, 1,000 keys.
func w1Input(b *testing.B) []byte {
	b.Helper()
	var in bytes.Buffer
	var line []byte
	for _, e := range bench.Generate(1, 1_000_000, 1000) {
		line = append(e.AppendJSON(line[:0]), '\n')
		in.Write(line)
	}
	return in.Bytes()
}

// benchReplay runs runReplay b.N times over what open returns, with the default batch size and
// the heap ballast of `eddy replay`, and reports events/s.
func benchReplay(b *testing.B, size int64, open func() io.Reader) {
	benchReplayWorkers(b, size, runtime.GOMAXPROCS(0), open)
}

func benchReplayWorkers(b *testing.B, size int64, workers int, open func() io.Reader) {
	benchReplaySpec(b, "w1", size, workers, open)
}

// benchReplaySpec is benchReplayWorkers for the standard workload named (w1 .. w4).
func benchReplaySpec(b *testing.B, workload string, size int64, workers int, open func() io.Reader) {
	const n = 1_000_000
	_, c, err := loadSpec("../../examples/bench/" + workload + ".yaml")
	if err != nil {
		b.Fatal(err)
	}
	bs := defaultBatch(workers)
	heap := newHeapBudget()
	defer heap.restore()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		st, err := runReplay(context.Background(), c, open(), "w1", io.Discard, nil, bs, workers, heap.check)
		if err != nil {
			b.Fatal(err)
		}
		if st.Events != n || st.Windows+st.Decisions == 0 {
			b.Fatalf("%d events, %d windows", st.Events, st.Windows)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// On a machine other work shares, the CPU time the replay used tells more than the time it
	// waited for it.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(n*b.N), "cpu-ns/event")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplayW1 measures `eddy replay` over W1 input held in memory (no disk), to compare
// with the core's BenchmarkW1 (go test ./examples/bench -bench 'W1$' -cpu 1): the difference is
// the cost of splitting lines and writing results.
func BenchmarkReplayW1(b *testing.B) {
	in := w1Input(b)
	benchReplay(b, int64(len(in)), func() io.Reader { return bytes.NewReader(in) })
}

// BenchmarkReplayW1Workers is BenchmarkReplayW1 split over 1, 2 and 4 pipelines.
func BenchmarkReplayW1Workers(b *testing.B) {
	in := w1Input(b)
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			benchReplayWorkers(b, int64(len(in)), n, func() io.Reader { return bytes.NewReader(in) })
		})
	}
}

// BenchmarkReplayW1File is BenchmarkReplayW1 reading a file, plain and gzip-compressed, as
// `eddy replay --input` does (from the page cache after the first run).
func BenchmarkReplayW1File(b *testing.B) {
	in := w1Input(b)
	dir := b.TempDir()
	plain, gz := filepath.Join(dir, "w1.ndjson"), filepath.Join(dir, "w1.ndjson.gz")
	if err := os.WriteFile(plain, in, 0o644); err != nil {
		b.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(in)
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(gz, z.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{plain, gz} {
		b.Run(filepath.Ext(path)[1:], func(b *testing.B) {
			var files []*os.File
			defer func() {
				for _, f := range files {
					f.Close()
				}
			}()
			benchReplay(b, int64(len(in)), func() io.Reader {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				files = append(files, f)
				return f
			})
		})
	}
}

// BenchmarkReplayWorkloads is BenchmarkReplayW1Workers for W2 (sliding windows: 300 per event, a
// result per key every second), W3 (sessions) and W4, on 1, 2 and 4 pipelines. On a machine
// other work shares, compare cpu-ns/event, which its load changes less than events/s.
func BenchmarkReplayWorkloads(b *testing.B) {
	in := w1Input(b)
	for _, w := range []string{"w2", "w3", "w4"} {
		for _, n := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/%d", w, n), func(b *testing.B) {
				benchReplaySpec(b, w, int64(len(in)), n, func() io.Reader { return bytes.NewReader(in) })
			})
		}
	}
}
