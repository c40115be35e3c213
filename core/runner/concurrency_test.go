package runner_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/filestate"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// TestConcurrentRunnersOnePartition runs 8 runners at once over the same 10,000 events of one
// partition, each delivered to every runner in batches (as racing invocations with redeliveries
// would see them). Every event must be applied exactly once: exact per-key counts, one distinct
// output per event, and identical content for every duplicate of an output id.
func TestConcurrentRunnersOnePartition(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) *state.Store
	}{
		{"mem", func(*testing.T) *state.Store { return memstate.New(&state.Options{ChunkSize: 8 << 10}) }},
		{"file", func(t *testing.T) *state.Store {
			s, err := filestate.Open(t.TempDir(), &state.Options{ChunkSize: 8 << 10})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testConcurrentRunners(t, tc.open(t)) })
	}
}

func testConcurrentRunners(t *testing.T, store *state.Store) {
	const (
		runners = 8
		events  = 10000
		keys    = 500
		batch   = 100
	)
	ctx := context.Background()
	all := make([]core.Record, events)
	want := map[string]int64{}
	for i := range all {
		k := "sensor-" + strconv.Itoa((i*7919)%keys)
		all[i] = core.Record{ID: "e" + strconv.Itoa(i+1), Offset: strconv.Itoa(i + 1), Key: k, Data: []byte("x")}
		want[k]++
	}
	envs := make([]*env, runners)
	for i := range envs {
		envs[i] = newEnv(t, store, nil)
	}
	var wg sync.WaitGroup
	errs := make(chan error, runners)
	for i, e := range envs {
		wg.Add(1)
		go func(i int, e *env) {
			defer wg.Done()
			// Runners batch differently, so batches overlap partially. Every runner's first batch
			// starts at the first event: a transport delivers a partition in order from its
			// checkpoint, and a batch that skipped ahead of it would leave a gap no runner can see.
			size := batch + i*13
			for off := (i * 37) % size; off < events; off += size {
				lo := max(0, off-size/3)
				if off == (i*37)%size {
					lo = 0
				}
				if _, err := e.r.Run(ctx, core.Batch{Partition: "shard-0", Records: all[lo:min(events, off+size)], Now: t0}); err != nil {
					errs <- fmt.Errorf("runner %d: %w", i, err)
					return
				}
			}
			// Finish from the start so every runner has seen every event.
			if _, err := e.r.Run(ctx, core.Batch{Partition: "shard-0", Records: all, Now: t0}); err != nil {
				errs <- fmt.Errorf("runner %d: %w", i, err)
			}
		}(i, e)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	env, counts := stored(t, store, "shard-0")
	if env.Offset != strconv.Itoa(events) {
		t.Fatalf("checkpoint %q, want %d", env.Offset, events)
	}
	for k, n := range want {
		if counts[k] != n {
			t.Fatalf("key %s counted %d, want %d", k, counts[k], n)
		}
	}
	if len(counts) != len(want) {
		t.Fatalf("%d keys in state, want %d", len(counts), len(want))
	}
	byID := map[string]countOut{}
	emitted := 0
	for _, e := range envs {
		for _, o := range e.sink.outs {
			emitted++
			if prev, ok := byID[o.ID]; ok && prev != *o {
				t.Fatalf("output %s emitted as %+v and as %+v: a record was applied to different states", o.ID, prev, *o)
			}
			byID[o.ID] = *o
		}
	}
	if len(byID) != events {
		t.Fatalf("%d distinct output ids, want %d", len(byID), events)
	}
	// Per key, the emitted counts are exactly 1..n: each event applied once, in order.
	seen := map[string]map[int64]bool{}
	for _, o := range byID {
		if seen[o.Key] == nil {
			seen[o.Key] = map[int64]bool{}
		}
		seen[o.Key][o.Count] = true
	}
	for k, n := range want {
		for c := int64(1); c <= n; c++ {
			if !seen[k][c] {
				t.Fatalf("key %s: no output with count %d", k, c)
			}
		}
	}
	t.Logf("%d outputs emitted (%d distinct), store stats %+v", emitted, len(byID), store.Stats())
}
