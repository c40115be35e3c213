// Package viewtest is the conformance suite every view store driver passes: idempotent,
// monotonic upserts for each view kind, redelivery, reordering, TTLs, odd keys, and concurrent
// writers on overlapping keys.
package viewtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/driver"
)

// Opener returns an empty driver; each call must give a store that shares nothing with earlier
// ones (a new table, a new namespace).
type Opener func(t *testing.T) driver.Store

// Config tunes the suite to slow backends.
type Config struct {
	// Writers and Batches size the concurrency test (defaults 6 and 8).
	Writers, Batches int
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Win returns a window result for key over [t0+i min, t0+(i+1) min) at revision rev, whose
// values are count=i*10+rev and avg=i.
func Win(fn, key string, i, rev int) *core.WindowResult {
	s := t0.Add(time.Duration(i) * time.Minute)
	return &core.WindowResult{Function: fn, Key: key, Start: s, End: s.Add(time.Minute), Revision: rev,
		Values: []core.NamedValue{{Name: "count", Num: float64(i*10 + rev)}, {Name: "avg", Num: float64(i)}}}
}

// Dec returns a decision of rule for key at window i with state.
func Dec(fn, rule, key string, i int, state core.State) *core.Decision {
	s := t0.Add(time.Duration(i) * time.Minute)
	w := core.Span{Start: s, End: s.Add(time.Minute)}
	return &core.Decision{ID: core.DecisionID(fn, rule, key, w, string(state), 0), Function: fn, Rule: rule, Key: key, State: state,
		Severity: "critical", Time: w.End, Window: w, Values: []core.NamedValue{{Name: "avg", Num: float64(i)}}}
}

var defs = []view.Def{
	{Name: "latest", Kind: view.Latest},
	{Name: "chart", Kind: view.History, Windows: 3, Aggregates: []string{"avg"}},
	{Name: "alerts", Kind: view.Firing},
	{Name: "log", Kind: view.Decisions, TTL: time.Hour},
}

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock               { c := &clock{}; c.ns.Store(t0.UnixNano()); return c }
func emit(t *testing.T, w *view.Writer, outs ...core.Output) {
	t.Helper()
	if err := w.Emit(context.Background(), outs); err != nil {
		t.Fatalf("emit: %v", err)
	}
}

func get[T any](t *testing.T, s *view.Store, fn, v, key string) (T, bool) {
	t.Helper()
	var out T
	r, ok, err := s.Get(context.Background(), fn, v, key)
	if err != nil {
		t.Fatalf("get %s/%s/%s: %v", fn, v, key, err)
	}
	if ok {
		if err := json.Unmarshal(r.Data, &out); err != nil {
			t.Fatalf("row %s: %v: %s", r.ID, err, r.Data)
		}
	}
	return out, ok
}

// Run runs the suite.
func Run(t *testing.T, open Opener, cfg Config) {
	if cfg.Writers <= 0 {
		cfg.Writers = 6
	}
	if cfg.Batches <= 0 {
		cfg.Batches = 8
	}
	setup := func(t *testing.T) (*view.Store, *view.Writer, *clock) {
		c := newClock()
		s := view.NewStore(open(t), &view.Options{Now: c.now, Backoff: time.Millisecond})
		w, err := view.NewWriter(s, "fn", defs, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s, w, c
	}

	t.Run("LatestNeverMovesBack", func(t *testing.T) {
		s, w, _ := setup(t)
		emit(t, w, Win("fn", "k", 2, 0))
		emit(t, w, Win("fn", "k", 1, 0), Win("fn", "k", 1, 3)) // older windows, even at higher revisions
		r, ok := get[view.LatestRow](t, s, "fn", "latest", "k")
		if !ok || !r.End.Equal(t0.Add(3*time.Minute)) || r.Revision != 0 || string(r.Values) != `{"count":20,"avg":2}` {
			t.Fatalf("latest after an older window = %+v (found %v), want window 2 revision 0", r, ok)
		}
		emit(t, w, Win("fn", "k", 2, 1))
		emit(t, w, Win("fn", "k", 2, 0)) // redelivered lower revision
		r, _ = get[view.LatestRow](t, s, "fn", "latest", "k")
		if r.Revision != 1 || string(r.Values) != `{"count":21,"avg":2}` {
			t.Fatalf("latest after revisions 1 then 0 = %+v, want revision 1", r)
		}
	})

	t.Run("HistoryKeepsLastN", func(t *testing.T) {
		s, w, _ := setup(t)
		// Out of order, with a revision and a duplicate, in two batches.
		emit(t, w, Win("fn", "k", 4, 0), Win("fn", "k", 0, 0), Win("fn", "k", 2, 0))
		emit(t, w, Win("fn", "k", 3, 0), Win("fn", "k", 2, 1), Win("fn", "k", 1, 0), Win("fn", "k", 2, 0))
		h, ok := get[view.HistoryRow](t, s, "fn", "chart", "k")
		if !ok || len(h.Windows) != 3 {
			t.Fatalf("history = %+v, want 3 windows", h)
		}
		for i, want := range []struct {
			i, rev int
		}{{2, 1}, {3, 0}, {4, 0}} {
			got := h.Windows[i]
			if !got.Start.Equal(t0.Add(time.Duration(want.i)*time.Minute)) || got.Revision != want.rev {
				t.Errorf("history[%d] = %s rev %d, want window %d rev %d", i, got.Start, got.Revision, want.i, want.rev)
			}
			if string(got.Values) != fmt.Sprintf(`{"avg":%d}`, want.i) {
				t.Errorf("history[%d] values = %s, want only avg", i, got.Values)
			}
		}
	})

	t.Run("Redelivery", func(t *testing.T) {
		s, w, _ := setup(t)
		batch := []core.Output{Win("fn", "a", 1, 0), Win("fn", "b", 1, 0), Dec("fn", "hot", "a", 1, core.StateFiring)}
		emit(t, w, batch...)
		// Delivered again to a new instance (a fresh writer, nothing cached): one read, no write.
		w2, err := view.NewWriter(s, "fn", defs, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := s.Stats()
		emit(t, w2, batch...)
		after := s.Stats()
		if n := after.Written - before.Written; n != 0 {
			t.Errorf("a redelivered batch wrote %d rows, want 0", n)
		}
		if n := after.RoundTrips - before.RoundTrips; n != 1 {
			t.Errorf("a redelivered batch took %d round trips on a new writer, want 1 (the read)", n)
		}
		if n := after.Unchanged - before.Unchanged; n != 6 {
			t.Errorf("a redelivered batch left %d rows unchanged, want 6 (2 latest, 2 history, 1 firing, 1 decision)", n)
		}
		// Delivered again to the writer that wrote it: nothing to read or write.
		before = s.Stats()
		emit(t, w, batch...)
		if n := s.Stats().RoundTrips - before.RoundTrips; n != 0 {
			t.Errorf("a batch redelivered to its writer took %d round trips, want 0", n)
		}
	})

	t.Run("StaleCache", func(t *testing.T) {
		s, w1, _ := setup(t)
		w2, err := view.NewWriter(s, "fn", defs, nil)
		if err != nil {
			t.Fatal(err)
		}
		emit(t, w1, Win("fn", "k", 1, 0))
		emit(t, w2, Win("fn", "k", 3, 0))
		before := s.Stats()
		emit(t, w1, Win("fn", "k", 2, 0)) // w1's rows are stale: its write loses, it reads and merges
		if n := s.Stats().Conflicts - before.Conflicts; n != 2 {
			t.Errorf("%d conflicts, want 2 (latest and history lost to the other writer)", n)
		}
		l, _ := get[view.LatestRow](t, s, "fn", "latest", "k")
		h, _ := get[view.HistoryRow](t, s, "fn", "chart", "k")
		if !l.Start.Equal(t0.Add(3*time.Minute)) || len(h.Windows) != 3 || !h.Windows[1].Start.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("latest %s, history %+v: want window 3 latest and windows 1, 2, 3", l.Start, h.Windows)
		}
	})

	t.Run("RoundTripsPerBatch", func(t *testing.T) {
		s, w, _ := setup(t)
		for _, keys := range []int{1, 10, 100} {
			batch := func(from int) []core.Output {
				var outs []core.Output
				for k := range keys {
					for i := from; i < from+3; i++ { // several outputs per key
						outs = append(outs, Win("fn", fmt.Sprintf("rt%d-%d", keys, k), i, 0))
					}
				}
				return outs
			}
			before := s.Stats()
			emit(t, w, batch(0)...)
			after := s.Stats()
			if n := after.RoundTrips - before.RoundTrips; n != 2 {
				t.Errorf("a batch of %d outputs over %d new keys took %d round trips, want 2 (read, write)", keys*3, keys, n)
			}
			if n := after.Written - before.Written; n != int64(2*keys) {
				t.Errorf("a batch over %d keys wrote %d rows, want %d (one per key and view)", keys, n, 2*keys)
			}
			before = after
			emit(t, w, batch(3)...)
			if n := s.Stats().RoundTrips - before.RoundTrips; n != 1 {
				t.Errorf("the next batch over the same %d keys took %d round trips, want 1 (the write)", keys, n)
			}
		}
	})

	t.Run("FiringTransitions", func(t *testing.T) {
		s, w, c := setup(t)
		emit(t, w, Dec("fn", "hot", "k", 1, core.StatePending), Dec("fn", "hot", "k", 2, core.StateFiring))
		r, ok := get[view.DecisionRow](t, s, "fn", "alerts", "hot/k")
		if !ok || r.State != core.StateFiring || !r.Since.Equal(t0.Add(3*time.Minute)) || r.Severity != "critical" {
			t.Fatalf("firing row = %+v, want firing since window 2's end", r)
		}
		emit(t, w, Dec("fn", "hot", "k", 5, core.StateResolved))
		emit(t, w, Dec("fn", "hot", "k", 2, core.StateFiring)) // redelivered, older
		r, _ = get[view.DecisionRow](t, s, "fn", "alerts", "hot/k")
		if r.State != core.StateResolved {
			t.Fatalf("after resolved then an older firing: state %q, want resolved", r.State)
		}
		emit(t, w, Dec("fn", "anomaly-rule", "k", 6, core.StateAnomaly))
		if _, ok := get[view.DecisionRow](t, s, "fn", "alerts", "anomaly-rule/k"); ok {
			t.Error("an anomaly decision made a firing row; firing views keep rule transitions only")
		}
		rows, err := s.Scan(context.Background(), "fn", "log")
		if err != nil || len(rows) != 4 {
			t.Fatalf("decision log has %d rows (err %v), want 4 (pending, firing, resolved, anomaly)", len(rows), err)
		}
		c.add(2 * time.Hour) // past the log's TTL
		if rows, _ := s.Scan(context.Background(), "fn", "log"); len(rows) != 0 {
			t.Errorf("decision log after its retention has %d rows, want 0", len(rows))
		}
		if _, ok := get[view.DecisionRow](t, s, "fn", "alerts", "hot/k"); !ok {
			t.Error("the firing row (no TTL) expired with the log")
		}
	})

	t.Run("ExpiredRowIsRewritten", func(t *testing.T) {
		c := newClock()
		s := view.NewStore(open(t), &view.Options{Now: c.now})
		w, err := view.NewWriter(s, "fn", []view.Def{{Name: "latest", Kind: view.Latest, TTL: time.Minute}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		emit(t, w, Win("fn", "k", 5, 0))
		c.add(2 * time.Minute)
		if _, ok := get[view.LatestRow](t, s, "fn", "latest", "k"); ok {
			t.Fatal("a row past its TTL is still visible")
		}
		emit(t, w, Win("fn", "k", 1, 0)) // the quiet key comes back with any window
		r, ok := get[view.LatestRow](t, s, "fn", "latest", "k")
		if !ok || !r.Start.Equal(t0.Add(time.Minute)) {
			t.Fatalf("after expiry the row is %+v (found %v), want window 1", r, ok)
		}
	})

	t.Run("OddKeys", func(t *testing.T) {
		s, w, _ := setup(t)
		keys := []string{"", "a/b", "sp ace", "q?x#y%z", "ünï", `back\slash`, "tab\tnl\n"}
		for _, k := range keys {
			emit(t, w, Win("fn", k, 1, 0))
		}
		rows, err := s.Scan(context.Background(), "fn", "latest")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, r := range rows {
			got[r.Key] = true
			var l view.LatestRow
			if err := json.Unmarshal(r.Data, &l); err != nil || l.Key != r.Key {
				t.Errorf("row %q holds key %q (%v)", r.Key, l.Key, err)
			}
		}
		for _, k := range keys {
			if !got[k] {
				t.Errorf("key %q missing from the scan (got %v)", k, got)
			}
		}
	})

	t.Run("Catalog", func(t *testing.T) {
		s, _, _ := setup(t)
		for _, fn := range []string{"b-fn", "a-fn", "b-fn"} {
			c := &view.Catalog{Function: fn, Views: defs, Aggregates: []string{"count", "avg"}}
			if err := s.PutCatalog(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := s.Catalogs(context.Background())
		if err != nil || len(cs) != 2 || cs[0].Function != "a-fn" || len(cs[1].Views) != len(defs) {
			t.Fatalf("catalogs = %+v (%v), want a-fn and b-fn with %d views", cs, err, len(defs))
		}
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		d := open(t)
		const keys = 5
		// Every writer applies every window of every key, in its own shuffled batches, as racing
		// deliveries of overlapping partitions would; the views must end where one writer would.
		var wg sync.WaitGroup
		errs := make(chan error, cfg.Writers)
		for wi := range cfg.Writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := view.NewStore(d, &view.Options{Backoff: time.Millisecond, MaxAttempts: 50})
				w, err := view.NewWriter(s, "fn", defs, nil)
				if err != nil {
					errs <- err
					return
				}
				r := rand.New(rand.NewPCG(uint64(wi), 7))
				var all []core.Output
				for k := range keys {
					for i := range cfg.Batches {
						all = append(all, Win("fn", fmt.Sprintf("k%d", k), i, r.IntN(2)), Dec("fn", "hot", fmt.Sprintf("k%d", k), i, []core.State{core.StateFiring, core.StateResolved}[i%2]))
					}
				}
				r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
				for len(all) > 0 {
					n := min(len(all), 1+r.IntN(7))
					if err := w.Emit(context.Background(), all[:n]); err != nil {
						errs <- err
						return
					}
					all = all[n:]
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		s := view.NewStore(d, nil)
		last := cfg.Batches - 1
		for k := range keys {
			key := fmt.Sprintf("k%d", k)
			l, ok := get[view.LatestRow](t, s, "fn", "latest", key)
			// Some writer sent revision 1 of the last window unless all drew 0; both are correct
			// only if the row holds the highest revision any writer sent, checked below.
			if !ok || !l.Start.Equal(t0.Add(time.Duration(last)*time.Minute)) {
				t.Errorf("%s latest = %+v, want window %d", key, l, last)
			}
			h, _ := get[view.HistoryRow](t, s, "fn", "chart", key)
			if len(h.Windows) != 3 || !h.Windows[2].Start.Equal(l.Start) || h.Windows[2].Revision != l.Revision {
				t.Errorf("%s history = %+v, want the last 3 windows ending with the latest", key, h)
			}
			f, _ := get[view.DecisionRow](t, s, "fn", "alerts", "hot/"+key)
			if want := []core.State{core.StateFiring, core.StateResolved}[last%2]; f.State != want || !f.Time.Equal(t0.Add(time.Duration(last+1)*time.Minute)) {
				t.Errorf("%s firing row = %s at %s, want %s at window %d's end", key, f.State, f.Time, want, last)
			}
		}
		if rows, _ := s.Scan(context.Background(), "fn", "log"); len(rows) != keys*cfg.Batches {
			t.Errorf("decision log has %d rows, want %d (one per decision id)", len(rows), keys*cfg.Batches)
		}
		// The highest revision any writer drew wins: rewrite revision 1 everywhere and check nothing
		// was at a revision above it, then that every key now holds revision 1.
		s2 := view.NewStore(d, nil)
		w, _ := view.NewWriter(s2, "fn", defs, nil)
		for k := range keys {
			emit(t, w, Win("fn", fmt.Sprintf("k%d", k), last, 1))
			l, _ := get[view.LatestRow](t, s2, "fn", "latest", fmt.Sprintf("k%d", k))
			if l.Revision != 1 {
				t.Errorf("k%d: revision %d after writing revision 1", k, l.Revision)
			}
		}
	})
}
