package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/examples/bench"
)

// splitInput is a standard workload's input with some records too late, some late within a
// lateness allowance of 5 s, and some that fail to decode.
func splitInput(n, keys int) []byte {
	var b bytes.Buffer
	for i, e := range bench.Generate(11, n, keys) {
		switch {
		case i%5003 == 17:
			fmt.Fprintf(&b, "{\"key\":\"%s\",\"ts\":\"never\"}\n", e.Key)
		case i%2999 == 100:
			// 4 s behind: late for a 2 s bound, within an allowed lateness of 5 s.
			fmt.Fprintf(&b, "{\"key\":\"%s\",\"ts\":%d,\"value\":50}\n", e.Key, e.TS-4000)
		case i%4001 == 200:
			fmt.Fprintf(&b, "{\"key\":\"%s\",\"ts\":%d,\"value\":50}\n", e.Key, e.TS-600_000)
		}
		b.Write(e.AppendJSON(nil))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// lateSpec is W1 with an allowed lateness, so that late events re-emit their windows.
const lateSpec = `name: w1late
input: {format: json, key: key, time: ts, time_format: unix_ms, out_of_order: 2s}
window: {tumbling: 10s, allowed_lateness: 5s}
aggregates:
  - {name: n, count: true}
  - {name: avg_value, avg: value}
rules:
  - {name: hot, when: avg_value > 60, clear: avg_value < 40, severity: critical}
`

// A replay split over any number of pipelines writes the same bytes as over one, on the four
// standard workloads and on windows with allowed lateness and rules; over one, its outputs are the
// single pipeline's, in its order.
func TestReplayWorkersIdentical(t *testing.T) {
	in := splitInput(60_000, 300)
	dir := t.TempDir()
	latePath := dir + "/late.yaml"
	if err := os.WriteFile(latePath, []byte(lateSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"../../examples/bench/w1.yaml", "../../examples/bench/w2.yaml",
		"../../examples/bench/w3.yaml", "../../examples/bench/w4.yaml", latePath} {
		_, c, err := loadSpec(path)
		if err != nil {
			t.Fatal(err)
		}
		var first string
		var firstSt replayStats
		for _, workers := range []int{1, 2, 3, 8} {
			for _, batch := range []int{16384, 777} {
				var out, dead bytes.Buffer
				st, err := runReplay(context.Background(), c, bytes.NewReader(in), "in", &out, &failureSink{w: &dead, json: true}, batch, workers, nil)
				if err != nil {
					t.Fatal(err)
				}
				if first == "" {
					first, firstSt = out.String(), st
					if st.Failed == 0 || st.Events == 0 || strings.Count(first, "\n") < 10 {
						t.Fatalf("%s: %+v, %d output lines", path, st.Stats, strings.Count(first, "\n"))
					}
					checkSingle(t, path, c, in, first)
					continue
				}
				if out.String() != first {
					t.Fatalf("%s, %d workers, batch %d: output differs from one worker's at line %d", path, workers, batch, firstDiff(out.String(), first))
				}
				if st.Stats != firstSt.Stats {
					t.Fatalf("%s, %d workers: stats %+v, one worker %+v", path, workers, st.Stats, firstSt.Stats)
				}
			}
		}
		t.Logf("%s: %+v", path, firstSt.Stats)
	}
}

// checkSingle compares a replay's output with the single pipeline's over the same records.
func checkSingle(t *testing.T, path string, c interface {
	AppendOutput([]byte, core.Output) ([]byte, bool)
}, in []byte, got string) {
	t.Helper()
	_, cc, err := loadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cc.NewPipeline()
	if err != nil {
		t.Fatal(err)
	}
	lines, err := codec.NewLines(bytes.NewReader(in), "in")
	if err != nil {
		t.Fatal(err)
	}
	var recs []core.Record
	var rec core.Record
	for lines.Next(&rec) {
		recs = append(recs, rec)
	}
	var want strings.Builder
	emit := func(o core.Output) {
		if b, ok := c.AppendOutput(nil, o); ok {
			want.Write(b)
			want.WriteByte('\n')
		}
	}
	ctx := context.Background()
	if _, err := p.Run(ctx, core.Batch{Partition: replayPartition, Records: recs}, emit); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Flush(ctx, emit); err != nil {
		t.Fatal(err)
	}
	if got != want.String() {
		g, w := strings.Split(got, "\n"), strings.Split(want.String(), "\n")
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Fatalf("%s: replay's outputs are not the single pipeline's (line %d differs)", path, firstDiff(got, want.String()))
		}
		t.Logf("%s: the single pipeline's outputs, in a different order from line %d", path, firstDiff(got, want.String()))
	}
}

func firstDiff(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// shareOf spreads keys that differ anywhere (a counter, a prefix, a middle part) evenly over any
// number of shares.
func TestShareOfSpread(t *testing.T) {
	for _, form := range []string{"sensor-%04d", "%d", "tenant-eu-%06d-device", "%08d-a-long-key-with-a-common-suffix-0123456789"} {
		for _, n := range []int{2, 3, 4, 8, 16, 64} {
			counts := make([]int, n)
			const keys = 10_000
			for i := range keys {
				s := shareOf(fmt.Sprintf(form, i), n)
				if s < 0 || s >= n {
					t.Fatalf("shareOf(%q, %d) = %d", fmt.Sprintf(form, i), n, s)
				}
				counts[s]++
			}
			// A uniform spread has a standard deviation of sqrt(keys/n); allow 5 of them.
			want := keys / n
			for s, c := range counts {
				if d := c - want; d*d > 25*want {
					t.Errorf("%q over %d shares: share %d has %d keys, want about %d", form, n, s, c, want)
				}
			}
		}
	}
	// The same key in another string (as another decoder interns it) goes to the same share.
	k := "sensor-0001"
	if shareOf(k, 8) != shareOf(strings.Clone(k), 8) || shareOf("anything", 1) != 0 {
		t.Error("shareOf is not a function of the key")
	}
}

// The work pool runs every task of every phase once, whether its helpers spin or block between
// phases (the gaps here are longer than their spinning), and each task on one goroutine.
func TestWorkPool(t *testing.T) {
	for _, g := range []int{1, 2, 3, 8} {
		p := newWorkPool(g)
		for phase := range 300 {
			n := phase % 17
			counts := make([]int32, n)
			var mu sync.Mutex
			p.do(n, func(gi, i int) {
				if gi < 0 || gi >= g {
					t.Errorf("goroutine %d of %d", gi, g)
				}
				mu.Lock()
				counts[i]++
				mu.Unlock()
			})
			for i, c := range counts {
				if c != 1 {
					t.Fatalf("%d goroutines, phase %d: task %d ran %d times", g, phase, i, c)
				}
			}
			if phase%50 == 0 {
				time.Sleep(2 * time.Millisecond)
			}
		}
		p.close()
	}
}
