package env_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/driver"
	"github.com/eddyhq/eddy/core/view/memview"
)

const viewSpec = `name: press
input: {key: machine, time: ts, time_format: unix_ms}
window: {tumbling: 1s}
aggregates: [{name: n, count: true}]
views:
  - {name: latest, kind: latest}
  - {name: chart, kind: history, windows: 5}
`

// rejecting is a view store that rejects writes while reject is set (after the catalog, if
// catalogOK), as a throttled or unreachable table would.
type rejecting struct {
	driver.Store
	reject    atomic.Bool
	catalogOK bool
	puts      atomic.Int64
}

func (r *rejecting) PutMany(ctx context.Context, rows []driver.Row) ([]int, error) {
	r.puts.Add(1)
	if r.reject.Load() && !(r.catalogOK && rows[0].Prefix == view.CatalogPrefix) {
		return nil, errors.New("503 service unavailable (injected)")
	}
	return r.Store.PutMany(ctx, rows)
}

var rejectingStores = map[string]*rejecting{}

func init() {
	// reject://NAME opens the rejecting store the test registered under NAME.
	view.DefaultURLMux().Register("reject", view.URLOpenerFunc(func(_ context.Context, u *url.URL) (driver.Store, error) {
		return rejectingStores[u.Host], nil
	}))
}

func press(n int) []core.Record {
	var recs []core.Record
	for i := range n {
		recs = append(recs, core.Record{ID: fmt.Sprint(i), Offset: fmt.Sprint(i + 1), Data: fmt.Appendf(nil, `{"machine":"m-%d","ts":%d}`, i%2, 1000+i*250)})
	}
	return recs
}

// A function that declares views writes them next to its outputs, to EDDY_VIEW_STORE or else its
// spec's outputs.view_store; with neither, or with a store that cannot be opened, Open fails
// naming the variable.
func TestOpenViews(t *testing.T) {
	ctx := context.Background()
	fn, err := env.ParseSpec("eddy.yaml", []byte(viewSpec))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Open(ctx, env.Config{StateURL: "mem://"}, fn); err == nil || !strings.Contains(err.Error(), "EDDY_VIEW_STORE") || !strings.Contains(err.Error(), "declares 2 views") {
		t.Errorf("views without a store: %v, want an error naming EDDY_VIEW_STORE", err)
	}
	if _, err := env.Open(ctx, env.Config{StateURL: "mem://", ViewStoreURL: "redis://cache/views"}, fn); err == nil || !strings.Contains(err.Error(), "EDDY_VIEW_STORE") || !strings.Contains(err.Error(), `no driver for scheme "redis"`) {
		t.Errorf("unknown view store: %v", err)
	}
	o, err := env.Open(ctx, env.Config{StateURL: "mem://", ViewStoreURL: env.NoViews}, fn)
	if err != nil || o.Views != nil {
		t.Errorf("EDDY_VIEW_STORE=none: views %v, err %v; want none", o.Views, err)
	}

	name := fmt.Sprint("env-views-", time.Now().UnixNano())
	withStore, err := env.ParseSpec("eddy.yaml", []byte(viewSpec+"outputs: {view_store: \"mem://spec-default\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg   env.Config
		store string
	}{{env.Config{StateURL: "mem://", OutputURL: "mem://env-views-out"}, "mem://spec-default"},
		{env.Config{StateURL: "mem://", OutputURL: "mem://env-views-out", ViewStoreURL: "mem://" + name, Function: "press-eu"}, "mem://" + name}} {
		o, err := env.Open(ctx, c.cfg, withStore)
		if err != nil {
			t.Fatal(err)
		}
		r, err := o.NewRunner()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(ctx, core.Batch{Partition: "0", Records: press(12), Now: time.Unix(10, 0)}); err != nil {
			t.Fatal(err)
		}
		o.Close(ctx)
		store, err := view.Open(ctx, c.store)
		if err != nil {
			t.Fatal(err)
		}
		fnName := o.Config.Function
		cats, err := store.Catalogs(ctx)
		if err != nil || len(cats) == 0 || cats[len(cats)-1].Function == "" {
			t.Fatalf("%s: catalogs %+v, %v", c.store, cats, err)
		}
		row, ok, err := store.Get(ctx, fnName, "chart", "m-1")
		var h view.HistoryRow
		if err != nil || !ok || json.Unmarshal(row.Data, &h) != nil || len(h.Windows) != 2 || string(h.Windows[1].Values) != `{"n":2}` || h.Windows[1].End.UnixMilli() != 3000 {
			t.Errorf("%s: %s's chart of m-1: %s (found %v, %v), want the 2 closed windows, the last ending at 3 s with n=2", c.store, fnName, row.Data, ok, err)
		}
	}
}

// A store that rejects writes is an error at load when even the catalog cannot be written, and
// at run time a retried, counted failure of the batch, which nothing commits: delivered again
// once the store is back, it lands in full.
func TestOpenViewsStoreRejectsWrites(t *testing.T) {
	ctx := context.Background()
	fn, err := env.ParseSpec("eddy.yaml", []byte(viewSpec))
	if err != nil {
		t.Fatal(err)
	}
	down := &rejecting{Store: memview.New()}
	down.reject.Store(true)
	rejectingStores["down"] = down
	if _, err := env.Open(ctx, env.Config{StateURL: "mem://", ViewStoreURL: "reject://down"}, fn); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "EDDY_VIEW_STORE") {
		t.Errorf("store down at load: %v, want the store's error naming EDDY_VIEW_STORE", err)
	}

	flaky := &rejecting{Store: memview.New(), catalogOK: true}
	flaky.reject.Store(true)
	rejectingStores["flaky"] = flaky
	o, err := env.Open(ctx, env.Config{StateURL: "mem://", OutputURL: "mem://env-views-out", ViewStoreURL: "reject://flaky"}, fn)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(ctx)
	r, err := o.NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	batch := core.Batch{Partition: "0", Records: press(12), Now: time.Unix(10, 0)}
	before := flaky.puts.Load()
	if _, err := r.Run(ctx, batch); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("run with the store rejecting writes: %v, want the store's error", err)
	}
	if st := o.Views.Store().Stats(); st.Failures < 2 || flaky.puts.Load()-before != st.Failures {
		t.Errorf("stats %+v after %d puts: want every rejected write retried and counted", st, flaky.puts.Load()-before)
	}
	flaky.reject.Store(false)
	res, err := r.Run(ctx, batch)
	if err != nil || res.Stats.Skipped != 0 {
		t.Fatalf("redelivery: %+v %v, want every record applied again", res.Stats, err)
	}
	row, ok, err := o.Views.Store().Get(ctx, "press", "latest", "m-0")
	var l view.LatestRow
	if err != nil || !ok || json.Unmarshal(row.Data, &l) != nil || l.End.UnixMilli() != 3000 {
		t.Errorf("latest of m-0 after redelivery: %s (found %v, %v), want the window ending at 3 s", row.Data, ok, err)
	}
}

// A view naming an aggregate the function does not have is an error when the spec loads.
func TestSpecViewUnknownAggregate(t *testing.T) {
	_, err := env.ParseSpec("eddy.yaml", []byte(strings.Replace(viewSpec, "kind: latest}", "kind: latest, aggregates: [count]}", 1)))
	if err == nil || !strings.Contains(err.Error(), `views[0].aggregates[0]: no aggregate named "count"`) {
		t.Errorf("unknown aggregate: %v", err)
	}
}
