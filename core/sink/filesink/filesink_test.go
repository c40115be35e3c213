package filesink_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/sink/filesink"
)

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("line %d is not whole JSON: %q", len(out)+1, sc.Text())
		}
		out = append(out, sc.Text())
	}
	return out
}

func window(i int) core.Output {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	return &core.WindowResult{Function: "f", Key: fmt.Sprint("k", i), Start: t0, End: t0.Add(time.Minute), Values: []core.NamedValue{{Name: "n", Num: float64(i)}}}
}

// TestAppendsAcrossRestarts: opening the file again appends (a restart used to truncate it and lose
// the outputs written before).
func TestAppendsAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	for run := range 3 {
		s, err := sink.Open(ctx, "file://"+path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Emit(ctx, []core.Output{window(2 * run), window(2*run + 1)}); err != nil {
			t.Fatal(err)
		}
		if err := s.EmitFailures(ctx, []*core.Failure{{Record: core.Record{ID: fmt.Sprint("r", run), Data: []byte("x")}, Reason: "bad", Function: "f", Partition: "p"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := lines(t, path); len(got) != 9 {
		t.Fatalf("%d lines after 3 runs of 3, want 9:\n%q", len(got), got)
	}
}

// TestCutsTornTail: a line torn by a kill is cut when the file is opened again; whole lines stay.
func TestCutsTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	if err := os.WriteFile(path, []byte("{\"a\":1}\n{\"a\":2}\n{\"a\":"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := filesink.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Cut != 5 {
		t.Fatalf("cut %d bytes, want the 5 of the torn line", f.Cut)
	}
	if err := f.Send(context.Background(), []*driver.Message{{ID: "x", Body: []byte(`{"a":3}`)}}); err != nil {
		t.Fatal(err)
	}
	f.Close(context.Background())
	if got := lines(t, path); len(got) != 3 || got[2] != `{"a":3}` {
		t.Fatalf("lines %q", got)
	}
	// A file that is one torn line is emptied; an empty or missing one is left alone.
	os.WriteFile(path, []byte(`{"half`), 0o644)
	if f, err = filesink.Open(path, &filesink.Options{NoSync: true}); err != nil || f.Cut != 6 {
		t.Fatalf("open: %v, cut %d", err, f.Cut)
	}
	f.Close(context.Background())
	if f, err = filesink.Open(filepath.Join(t.TempDir(), "new.jsonl"), nil); err != nil || f.Cut != 0 {
		t.Fatalf("open new: %v", err)
	}
	f.Close(context.Background())
}

// TestConcurrentSendsWriteWholeLines: Sends from many goroutines never interleave inside a line.
func TestConcurrentSendsWriteWholeLines(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s, err := sink.Open(ctx, "file://"+path+"?sync=none")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				outs := []core.Output{window(g*1000 + i), window(g*1000 + i + 500)}
				if err := s.Emit(ctx, outs); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	s.Close(ctx)
	if got := lines(t, path); len(got) != 800 {
		t.Fatalf("%d lines, want 800", len(got))
	}
	if _, err := sink.Open(ctx, "file://x?sync=sometimes"); err == nil {
		t.Fatal("a bad sync parameter was accepted")
	}
}
