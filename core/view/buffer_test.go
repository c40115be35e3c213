package view_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/memview"
)

// A Buffer folds outputs before writing, yet leaves every view exactly as a Writer fed the same
// batches one by one: windows out of order, revisions, redeliveries, rule transitions, filtered
// aggregates, and flushes forced mid-stream by a small buffer.
func TestBufferMatchesWriter(t *testing.T) {
	defs := []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "chart", Kind: view.History, Windows: 3},
		{Name: "avg", Kind: view.Latest, Aggregates: []string{"avg"}}, {Name: "alerts", Kind: view.Firing}, {Name: "log", Kind: view.Decisions}}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(7, 7))
	var batches [][]core.Output
	for range 200 {
		var outs []core.Output
		for range 1 + rng.IntN(8) {
			key := fmt.Sprint("k", rng.IntN(4))
			s := start.Add(time.Duration(rng.IntN(12)) * time.Minute)
			rev := rng.IntN(3)
			outs = append(outs, &core.WindowResult{Function: "fn", Key: key, Start: s, End: s.Add(time.Minute), Revision: rev,
				Values: []core.NamedValue{{Name: "n", Num: float64(rev)}, {Name: "avg", Num: float64(s.Minute()*10 + rev)}}})
			if rng.IntN(3) == 0 {
				states := []core.State{core.StatePending, core.StateFiring, core.StateResolved, "fired"}
				outs = append(outs, &core.Decision{ID: fmt.Sprint("d", rng.IntN(50)), Rule: "hot", Key: key, State: states[rng.IntN(4)],
					Time: s.Add(time.Duration(rng.IntN(60)) * time.Second), Window: core.Span{Start: s, End: s.Add(time.Minute)}})
			}
		}
		batches = append(batches, outs)
	}
	ctx := context.Background()
	now := func() time.Time { return start }
	direct := view.NewStore(memview.New(), &view.Options{Now: now})
	w, err := view.NewWriter(direct, "fn", defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, outs := range batches {
		if err := w.Emit(ctx, outs); err != nil {
			t.Fatal(err)
		}
	}
	for _, max := range []int{0, 5} {
		buffered := view.NewStore(memview.New(), &view.Options{Now: now})
		bw, err := view.NewWriter(buffered, "fn", defs, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := view.NewBuffer(bw, max)
		for _, outs := range batches {
			if err := buf.Emit(ctx, outs); err != nil {
				t.Fatal(err)
			}
		}
		if err := buf.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, d := range defs {
			want, err := direct.Scan(ctx, "fn", d.Name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := buffered.Scan(ctx, "fn", d.Name)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("max %d: view %s: %d rows buffered, %d direct", max, d.Name, len(got), len(want))
			}
			for i := range want {
				if got[i].ID != want[i].ID || string(got[i].Data) != string(want[i].Data) {
					t.Errorf("max %d: view %s row %s:\nbuffered %s\ndirect   %s", max, d.Name, want[i].ID, got[i].Data, want[i].Data)
				}
			}
		}
		if max == 0 && buffered.Stats().Applies != 1 {
			t.Errorf("an unbounded buffer wrote %d times, want once", buffered.Stats().Applies)
		}
	}
}

// Values spanning the Buffer's arena chunks, and one larger than a chunk, come out as written.
func TestBufferLargeValues(t *testing.T) {
	ctx := context.Background()
	store := view.NewStore(memview.New(), nil)
	w, err := view.NewWriter(store, "fn", []view.Def{{Name: "chart", Kind: view.History, Windows: 1000}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := view.NewBuffer(w, 0)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pad := strings.Repeat("p", 300)
	for i := range 600 {
		s := start.Add(time.Duration(i) * time.Minute)
		name := pad
		if i == 300 {
			name = strings.Repeat("b", 70<<10)
		}
		out := &core.WindowResult{Function: "fn", Key: "k", Start: s, End: s.Add(time.Minute), Values: []core.NamedValue{{Name: name, Num: float64(i)}}}
		if err := buf.Emit(ctx, []core.Output{out}); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	row, _, _ := store.Get(ctx, "fn", "chart", "k")
	var h view.HistoryRow
	if err := json.Unmarshal(row.Data, &h); err != nil || len(h.Windows) != 600 {
		t.Fatalf("%d windows, %v", len(h.Windows), err)
	}
	for i, win := range h.Windows {
		var vs map[string]float64
		if err := json.Unmarshal(win.Values, &vs); err != nil || len(vs) != 1 || (i == 300) != (vs[strings.Repeat("b", 70<<10)] == 300) || i != 300 && vs[pad] != float64(i) {
			t.Fatalf("window %d: values %.80s (%v)", i, win.Values, err)
		}
	}
}

// A flush the store rejects keeps what the Buffer holds: flushed again once the store is back,
// the rows are those of a flush that never failed.
func TestBufferFlushRetry(t *testing.T) {
	ctx := context.Background()
	drv := &failing{Store: memview.New()}
	store := view.NewStore(drv, &view.Options{MaxAttempts: 2, Backoff: time.Millisecond})
	w, err := view.NewWriter(store, "fn", []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "chart", Kind: view.History, Windows: 2},
		{Name: "log", Kind: view.Decisions}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := view.NewBuffer(w, 0)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		s := start.Add(time.Duration(i) * time.Minute)
		outs := []core.Output{&core.WindowResult{Function: "fn", Key: "k", Start: s, End: s.Add(time.Minute), Values: []core.NamedValue{{Name: "n", Num: float64(i)}}},
			&core.Decision{ID: fmt.Sprint("d", i), Rule: "hot", Key: "k", State: "fired", Time: s}}
		if err := buf.Emit(ctx, outs); err != nil {
			t.Fatal(err)
		}
	}
	drv.failing.Store(true)
	if err := buf.Flush(ctx); err == nil {
		t.Fatal("a flush into a store rejecting writes succeeded")
	}
	drv.failing.Store(false)
	if err := buf.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	row, _, _ := store.Get(ctx, "fn", "chart", "k")
	var h view.HistoryRow
	if err := json.Unmarshal(row.Data, &h); err != nil || len(h.Windows) != 2 || string(h.Windows[1].Values) != `{"n":3}` || string(h.Windows[0].Values) != `{"n":2}` {
		t.Errorf("chart after the retried flush: %s", row.Data)
	}
	if ds, err := store.Scan(ctx, "fn", "log"); err != nil || len(ds) != 4 {
		t.Errorf("%d decisions after the retried flush (%v), want 4", len(ds), err)
	}
	if err := buf.Flush(ctx); err != nil || store.Stats().Written != 6 {
		t.Errorf("an empty flush: %v; %d rows written, want 6 (latest, chart, 4 decisions)", err, store.Stats().Written)
	}
}
