package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/eddyhq/eddy/examples/bench"
)

// BenchmarkReplayW1 measures `eddy replay` over W1 input held in memory (no disk), to compare
// with the core's BenchmarkW1 (go test ./examples/bench -bench 'W1$' -cpu 1): the difference is
// the cost of reading lines and writing results.
func BenchmarkReplayW1(b *testing.B) {
	const n = 1_000_000
	var in bytes.Buffer
	var line []byte
	for _, e := range bench.Generate(1, n, 1000) {
		line = append(e.AppendJSON(line[:0]), '\n')
		in.Write(line)
	}
	_, c, err := loadSpec("../../examples/bench/w1.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(in.Len()))
	b.ResetTimer()
	for range b.N {
		st, err := runReplay(context.Background(), c, bytes.NewReader(in.Bytes()), "w1", io.Discard, nil, 8192)
		if err != nil {
			b.Fatal(err)
		}
		if st.Events != n || st.Windows == 0 {
			b.Fatalf("%d events, %d windows", st.Events, st.Windows)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
