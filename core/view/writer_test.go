package view_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/driver"
	"github.com/eddyhq/eddy/core/view/memview"
)

// failing rejects writes while failing is set, as a throttled or unreachable store would.
type failing struct {
	driver.Store
	failing atomic.Bool
	puts    atomic.Int64
}

func (f *failing) PutMany(ctx context.Context, rows []driver.Row) ([]int, error) {
	f.puts.Add(1)
	if f.failing.Load() {
		return nil, errors.New("503 service unavailable (injected)")
	}
	return f.Store.PutMany(ctx, rows)
}

const fnSpec = `name: press
input: {key: key, time: ts, time_format: unix_ms}
window: {tumbling: 1s}
aggregates: [{name: n, count: true}]
views:
  - {name: latest, kind: latest}
`

// A store that rejects writes fails the batch (retried, counted) so the Runner commits nothing;
// redelivered once the store is back, the batch lands and the view is as if nothing happened.
func TestStoreRejectsWrites(t *testing.T) {
	f, err := spec.Parse("eddy.yaml", []byte(fnSpec))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	drv := &failing{Store: memview.New()}
	store := view.NewStore(drv, &view.Options{MaxAttempts: 3, Backoff: time.Millisecond})
	w, err := view.NewWriter(store, f.Name, f.ViewDefs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{Function: f.Name, Store: memstate.New(nil), Sink: w,
		New: func(string) (runner.Processor, error) { return c.NewPipeline() }})
	if err != nil {
		t.Fatal(err)
	}
	var recs []core.Record
	for i := range 30 {
		recs = append(recs, core.Record{ID: fmt.Sprint(i), Offset: fmt.Sprint(i + 1), Data: fmt.Appendf(nil, `{"key":"m-1","ts":%d}`, 1000+i*100)})
	}
	ctx := context.Background()
	batch := core.Batch{Partition: "0", Records: recs, Now: time.Unix(100, 0)}
	drv.failing.Store(true)
	if _, err := r.Run(ctx, batch); err == nil || !strings.Contains(err.Error(), "failed 3 times") {
		t.Fatalf("run with a store rejecting writes: %v, want an error after 3 tries", err)
	}
	if st := store.Stats(); st.Failures != 3 || drv.puts.Load() != 3 {
		t.Errorf("stats %+v, %d puts: want 3 failures counted", st, drv.puts.Load())
	}
	drv.failing.Store(false)
	res, err := r.Run(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Skipped != 0 || res.Stats.Windows != 2 {
		t.Fatalf("redelivery: %+v, want every record applied again (nothing was committed) and 2 windows", res.Stats)
	}
	row, ok, err := store.Get(ctx, f.Name, "latest", "m-1")
	var l view.LatestRow
	if err != nil || !ok || json.Unmarshal(row.Data, &l) != nil || l.End.UnixMilli() != 3000 || string(l.Values) != `{"n":10}` {
		t.Fatalf("view after redelivery: %s (found %v, %v), want the window ending at 3s with n=10", row.Data, ok, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := view.Open(ctx, "redis://host/views"); err == nil || !strings.Contains(err.Error(), `no driver for scheme "redis"`) {
		t.Errorf("unknown scheme: %v", err)
	}
	if _, err := view.NewWriter(view.NewStore(memview.New(), nil), "fn", []view.Def{{Name: "v", Kind: "newest"}}, nil); err == nil || !strings.Contains(err.Error(), `kind "newest"`) {
		t.Errorf("unknown kind: %v", err)
	}
}

// One Writer serves every partition of a Runner at once: concurrent batches on overlapping keys
// end where one writer applying them in any order would.
func TestWriterConcurrentBatches(t *testing.T) {
	store := view.NewStore(memview.New(), &view.Options{Backoff: time.Millisecond, MaxAttempts: 50})
	w, err := view.NewWriter(store, "fn", []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "chart", Kind: view.History, Windows: 4}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 20 {
				var outs []core.Output
				for k := range 3 {
					s := start.Add(time.Duration((i*4+g)%20) * time.Minute)
					outs = append(outs, &core.WindowResult{Function: "fn", Key: fmt.Sprint("k", k), Start: s, End: s.Add(time.Minute), Values: []core.NamedValue{{Name: "n", Num: 1}}})
				}
				if err := w.Emit(context.Background(), outs); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for k := range 3 {
		row, _, _ := store.Get(context.Background(), "fn", "chart", fmt.Sprint("k", k))
		var h view.HistoryRow
		if err := json.Unmarshal(row.Data, &h); err != nil || len(h.Windows) != 4 || h.Windows[3].Start != start.Add(19*time.Minute) || h.Windows[0].Start != start.Add(16*time.Minute) {
			t.Errorf("k%d history = %s, want windows 16..19", k, row.Data)
		}
	}
}
