// Package reftabletest is the conformance suite every reference-table Loader passes (files, and
// the blob stores of adapters/refblob on their stand-ins): a function reads a table through the
// loader, the table changes while the function runs, a refresh picks the change up between
// batches, and refreshes that fail (malformed content, a missing object) keep the last good
// version, counted.
package reftabletest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/reftable"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// Harness is what the suite needs of a store.
type Harness struct {
	// Put writes data as the object (or file) key, replacing it.
	Put func(t testing.TB, key string, data []byte)
	// Delete removes the object key.
	Delete func(t testing.TB, key string)
	// Source is the source URL (or path) of object key.
	Source func(key string) string
	// Loader reads sources (nil: reftable.DefaultURLMux).
	Loader reftable.Loader
}

var seq atomic.Int64

// Limits are the suite's table versions: machine m1 and m2's max.
var (
	V1 = []byte("machine,max,model\nm1,50,A\nm2,70,B\n")
	V2 = []byte("machine,max,model\nm1,65,A\nm2,55,B\n")
	// Bad is malformed at line 3 (an unterminated quote).
	Bad = []byte("machine,max,model\nm1,65,A\nm2,\"55,B\n")
)

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("RefreshBetweenBatches", func(t *testing.T) { refreshBetweenBatches(t, h) })
	t.Run("RefreshInBackground", func(t *testing.T) { refreshInBackground(t, h) })
	t.Run("MissingAtLoad", func(t *testing.T) {
		key := fmt.Sprintf("missing-%d.csv", seq.Add(1))
		_, err := compile(h, h.Source(key), 0)
		if err == nil || !strings.Contains(err.Error(), `reference table "limits"`) || !strings.Contains(err.Error(), key) {
			t.Fatalf("compile with a missing table: %v, want an error naming the table and %s", err, key)
		}
	})
	t.Run("MalformedAtLoad", func(t *testing.T) {
		key := fmt.Sprintf("bad-%d.csv", seq.Add(1))
		h.Put(t, key, Bad)
		_, err := compile(h, h.Source(key), 0)
		var pe *reftable.ParseError
		if !errors.As(err, &pe) || pe.Line != 3 || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), ":3: ") {
			t.Fatalf("compile with a malformed table: %v, want a ParseError at %s:3", err, key)
		}
	})
}

func compile(h Harness, source string, refresh time.Duration) (*spec.Compiled, error) {
	f := &spec.Function{
		Name:       "reftest",
		Input:      spec.Input{Key: "key", Time: "ts", TimeFormat: "unix_ms"},
		Window:     spec.Window{Tumbling: 10 * time.Second},
		Aggregates: []spec.Aggregate{{Name: "avg", Op: aggregate.Avg, Field: "value"}},
		Rules: []spec.Rule{{Name: "hot", When: "avg > ref.limits[key].max", EachWindow: true,
			Enrich: []string{"limits.max", "limits.model"}}},
		Reference: []spec.Reference{{Name: "limits", Source: source, Key: "machine", Refresh: refresh}},
	}
	return f.Compile(spec.Options{RefLoader: h.Loader})
}

// window runs one 10 s window of value 60 for m1 and m2 starting at sec (closing the one before),
// and returns the decisions, as "key max version".
func window(t testing.TB, p interface {
	Process(context.Context, core.Batch) (core.Result, error)
}, sec int) []*core.Decision {
	t.Helper()
	var recs []core.Record
	for _, k := range []string{"m1", "m2"} {
		recs = append(recs, core.Record{ID: fmt.Sprintf("%s-%d", k, sec), Offset: fmt.Sprint(sec),
			Data: fmt.Appendf(nil, `{"key":%q,"ts":%d,"value":60}`, k, sec*1000)})
	}
	res, err := p.Process(context.Background(), core.Batch{Partition: "0", Records: recs, Now: time.Unix(1e9, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) > 0 {
		t.Fatal(res.Failures[0])
	}
	var ds []*core.Decision
	for _, o := range res.Outputs {
		if d, ok := o.(*core.Decision); ok {
			ds = append(ds, d)
		}
	}
	return ds
}

func brief(ds []*core.Decision) string {
	var b []string
	for _, d := range ds {
		var limit float64
		for _, v := range d.Values {
			if v.Name == "limits.max" {
				limit = v.Num
			}
		}
		ver := ""
		if len(d.Ref) == 1 && d.Ref[0].Table == "limits" {
			ver = d.Ref[0].Version
		}
		b = append(b, fmt.Sprintf("%s %s limit=%g %s", d.Key, d.State, limit, ver))
	}
	return strings.Join(b, "; ")
}

func refreshBetweenBatches(t *testing.T, h Harness) {
	ctx := context.Background()
	key := fmt.Sprintf("limits-%d.csv", seq.Add(1))
	h.Put(t, key, V1)
	c, err := compile(h, h.Source(key), 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.NewPipeline()
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := reftable.Version(V1), reftable.Version(V2)
	window(t, p, 1)
	// Window [0s,10s) closes: 60 is over m1's 50, under m2's 70.
	if got, want := brief(window(t, p, 11)), "m1 firing limit=50 "+v1; got != want {
		t.Fatalf("with V1: %s, want %s", got, want)
	}
	h.Put(t, key, V2)
	if err := c.Reference().Refresh(ctx, "limits"); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if st := c.Reference().Stats("limits"); st.Version != v2 || st.Loads != 2 || st.Failures != 0 {
		t.Fatalf("stats after the refresh: %+v, want version %s, 2 loads", st, v2)
	}
	// Window [10s,20s) closes under V2: m1's limit is 65 now, m2's 55.
	if got, want := brief(window(t, p, 21)), "m2 firing limit=55 "+v2; got != want {
		t.Fatalf("with V2: %s, want %s", got, want)
	}
	// A malformed table and then a missing one: both refreshes fail, V2 stays.
	h.Put(t, key, Bad)
	err = c.Reference().Refresh(ctx, "limits")
	var pe *reftable.ParseError
	if !errors.As(err, &pe) || pe.Line != 3 {
		t.Fatalf("refresh of a malformed table: %v, want a ParseError at line 3", err)
	}
	h.Delete(t, key)
	if err := c.Reference().Refresh(ctx, "limits"); err == nil {
		t.Fatal("refresh of a missing table succeeded")
	}
	st := c.Reference().Stats("limits")
	if st.Version != v2 || st.Failures != 2 || st.Loads != 2 || st.LastErr == nil {
		t.Fatalf("stats after two failed refreshes: %+v, want version %s, 2 failures, 2 loads", st, v2)
	}
	if got, want := brief(window(t, p, 31)), "m2 firing limit=55 "+v2; got != want {
		t.Fatalf("after failed refreshes: %s, want %s (the last good table)", got, want)
	}
}

// refreshInBackground runs pipelines in several goroutines while RunReference reloads the table
// on a short interval and the table changes: each decision is made with one whole version (its
// enriched limit matches its version), and the new version arrives without a restart.
func refreshInBackground(t *testing.T, h Harness) {
	key := fmt.Sprintf("limits-bg-%d.csv", seq.Add(1))
	h.Put(t, key, V1)
	c, err := compile(h, h.Source(key), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.RunReference(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("RunReference returned %v, want context.Canceled", err)
		}
	}()
	v1, v2 := reftable.Version(V1), reftable.Version(V2)
	limits := map[string]map[string]float64{v1: {"m1": 50, "m2": 70}, v2: {"m1": 65, "m2": 55}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for range 3 {
		p, err := c.NewPipeline()
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sec := 1; !stop.Load() && sec < 1_000_000; sec += 10 {
				for _, d := range window(t, p, sec) {
					if len(d.Ref) != 1 {
						t.Errorf("decision without the table's version: %s", d.AppendJSON(nil))
						return
					}
					ver := d.Ref[0].Version
					for _, v := range d.Values {
						if v.Name == "limits.max" && v.Num != limits[ver][d.Key] {
							t.Errorf("decision for %s with version %s has limit %v, want %v", d.Key, ver, v.Num, limits[ver][d.Key])
						}
					}
					mu.Lock()
					seen[ver] = true
					mu.Unlock()
				}
			}
		}()
	}
	h.Put(t, key, V2)
	deadline := time.Now().Add(20 * time.Second)
	for c.Reference().Stats("limits").Version != v2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Let the pipelines make decisions under V2 too.
	for time.Now().Before(deadline) {
		mu.Lock()
		both := seen[v1] && seen[v2]
		mu.Unlock()
		if both {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if st := c.Reference().Stats("limits"); st.Version != v2 {
		t.Fatalf("the background refresh did not pick up V2: %+v", st)
	}
	if !seen[v1] || !seen[v2] {
		t.Errorf("decisions saw versions %v, want both V1 and V2", seen)
	}
}
