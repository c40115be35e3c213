package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/examples/bench"
)

// replayInput is W1 input with what a real file has: blank lines, CRLF endings, records that fail
// to decode (each different, so a mix-up shows) and events too late to count.
func replayInput(t *testing.T) (in []byte, good []bench.Event, bad, late map[int]string) {
	t.Helper()
	bad, late = map[int]string{}, map[int]string{}
	var b bytes.Buffer
	line := 0
	for i, e := range bench.Generate(5, 40_000, 300) {
		line++
		switch {
		case i%4001 == 7:
			fmt.Fprintf(&b, "{\"key\":\"bad-%d\",\"ts\":\"yesterday\"}\n", i)
			bad[line] = fmt.Sprintf("{\"key\":\"bad-%d\",\"ts\":\"yesterday\"}", i)
			line++
		case i%3001 == 2000:
			l := fmt.Sprintf(`{"key":"late-%d","ts":%d,"value":1}`, i, bench.Start-600_000-int64(i))
			b.WriteString(l + "\r\n")
			late[line] = l
			line++
		case i%997 == 5:
			b.WriteString("\r\n")
			line++
		}
		b.Write(e.AppendJSON(nil))
		b.WriteByte('\n')
		good = append(good, e)
	}
	return b.Bytes(), good, bad, late
}

// Whatever the batch size, plain or compressed, with or without the reader goroutine, a replay
// writes the same bytes: the core's window results, the late events and the failed records each
// with its own line.
func TestRunReplayBatches(t *testing.T) {
	in, good, bad, late := replayInput(t)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(in)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	_, c, err := loadSpec("../../examples/bench/w1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for _, batch := range []int{100_000, 1, 3, 1000, 8192} {
		for _, mode := range []struct {
			gz      bool
			workers int
		}{{false, 1}, {false, 2}, {true, 1}, {true, 3}, {false, 8}} {
			src := in
			if mode.gz {
				src = z.Bytes()
			}
			var out, dead bytes.Buffer
			st, err := runReplay(context.Background(), c, bytes.NewReader(src), "w1.ndjson", &out, &failureSink{w: &dead, json: true}, batch, mode.workers, nil)
			if err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("batch %d %+v", batch, mode)
			if st.Events != len(good)+len(late) || st.Late != len(late) || st.Failed != len(bad) {
				t.Fatalf("%s: %d events, %d late, %d failed; want %d, %d, %d", what, st.Events, st.Late, st.Failed, len(good)+len(late), len(late), len(bad))
			}
			if first == "" {
				first = out.String()
				checkReplayOutput(t, first, good, late)
			} else if out.String() != first {
				t.Fatalf("%s: output differs from the single batch's", what)
			}
			// The summary's failures and the dead letters keep their records, not the buffer's
			// later contents.
			if len(st.failures) != min(5, len(bad)) {
				t.Fatalf("%s: %d failures kept", what, len(st.failures))
			}
			for _, f := range st.failures {
				var n int
				fmt.Sscanf(strings.TrimPrefix(f.Record.ID, "w1.ndjson:"), "%d", &n)
				if want := bad[n]; string(f.Record.Data) != want || f.Record.Offset != fmt.Sprint(n) {
					t.Fatalf("%s: failure %s %q, want %q", what, f.Record.ID, f.Record.Data, want)
				}
			}
			var dl []string
			for l := range strings.SplitSeq(strings.TrimSpace(dead.String()), "\n") {
				var f struct{ ID, Data string }
				if err := json.Unmarshal([]byte(l), &f); err != nil {
					t.Fatalf("dead letter %q: %v", l, err)
				}
				var n int
				fmt.Sscanf(strings.TrimPrefix(f.ID, "w1.ndjson:"), "%d", &n)
				if !strings.Contains(l, jsonString(bad[n])) {
					t.Fatalf("%s: dead letter %s does not hold line %d %q", what, l, n, bad[n])
				}
				dl = append(dl, f.ID)
			}
			if len(dl) != len(bad) {
				t.Fatalf("%s: %d dead letters, want %d", what, len(dl), len(bad))
			}
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// checkReplayOutput compares a replay's window results with the core pipeline's over the good
// events, and its late events with the late lines, id and payload.
func checkReplayOutput(t *testing.T, out string, good []bench.Event, late map[int]string) {
	t.Helper()
	p, err := bench.Build(bench.W1)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	emit := func(o core.Output) { want = append(want, string(o.AppendJSON(nil))) }
	if _, err := p.Run(context.Background(), core.Batch{Partition: "p", Records: bench.Records(good)}, emit); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Flush(context.Background(), emit); err != nil {
		t.Fatal(err)
	}
	var windows []string
	lateSeen := 0
	for l := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(l, `{"type":"window"`) {
			windows = append(windows, l)
			continue
		}
		var le struct {
			Type, Record string // Record: the event's own id (ID is the late output's)
			Event        json.RawMessage
		}
		if err := json.Unmarshal([]byte(l), &le); err != nil || le.Type != "late" {
			t.Fatalf("output line %q: %v", l, err)
		}
		var n int
		fmt.Sscanf(strings.TrimPrefix(le.Record, "w1.ndjson:"), "%d", &n)
		if string(le.Event) != late[n] {
			t.Fatalf("late event %s: %s, want line %d %s", le.Record, le.Event, n, late[n])
		}
		lateSeen++
	}
	if lateSeen != len(late) || len(late) == 0 {
		t.Fatalf("%d late events, want %d", lateSeen, len(late))
	}
	// Late events do not change windows, so the window results are the core's, in its order.
	if !slices.Equal(windows, want) {
		t.Fatalf("%d window results, core %d; first got %q want %q", len(windows), len(want), headOf(windows), headOf(want))
	}
}

// An interrupt ends a replay waiting on a quiet input, which a reader goroutine reads.
func TestRunReplayInterrupt(t *testing.T) {
	_, c, err := loadSpec("../../examples/bench/w1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		zw := gzip.NewWriter(pw)
		zw.Write([]byte(`{"key":"a","ts":1700000000000,"value":1}` + "\n"))
		zw.Flush()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := runReplay(ctx, c, pr, "stdin", io.Discard, nil, 1000, 2, nil)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("replay did not stop on cancel")
	}
}

func headOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// slowWriter cancels a context at its first write and counts the writes after it.
type slowWriter struct {
	cancel func()
	writes int
}

func (s *slowWriter) Write(p []byte) (int, error) {
	s.writes++
	s.cancel()
	time.Sleep(5 * time.Millisecond)
	return len(p), nil
}

// An interrupt during the flush at the end of a replay stops it within a buffer or two, rather
// than after writing every result. W1's 60 s windows over 20 s of events from 50,000 keys all
// fire at the end: the first write is the flush's.
func TestReplayInterruptFlush(t *testing.T) {
	_, c, err := loadSpec("../../examples/bench/w1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for _, e := range bench.Generate(3, 20_000, 50_000) {
		in.Write(e.AppendJSON(nil))
		in.WriteByte('\n')
	}
	// Uninterrupted, the flush writes a result per key: many buffers.
	var all countWriter
	st, err := runReplay(context.Background(), c, bytes.NewReader(in.Bytes()), "w1", &all, nil, 4096, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if all.writes < 10 || st.Windows < 15_000 {
		t.Fatalf("the whole replay took %d writes: not a long flush", all.writes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &slowWriter{cancel: cancel}
	_, err = runReplay(ctx, c, bytes.NewReader(in.Bytes()), "w1", w, nil, 4096, 2, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if w.writes > 2 {
		t.Fatalf("%d writes after the interrupt (of %d in all)", w.writes, all.writes)
	}
}

type countWriter struct{ writes int }

func (c *countWriter) Write(p []byte) (int, error) {
	c.writes++
	return len(p), nil
}
