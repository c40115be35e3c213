package runner_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/filestate"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// BenchmarkRoundTripsPerBatch reports store round trips per batch for growing batch sizes: the
// figure must not grow with the batch (one read, one conditional write).
func BenchmarkRoundTripsPerBatch(b *testing.B) {
	for _, size := range []int{1, 10, 100, 1000} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			store := memstate.New(nil)
			r, err := runner.New(runner.Config{Function: "bench", Store: store,
				New: func(p string) (runner.Processor, error) { return newCounter(p), nil }})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			before := store.Stats()
			off := 0
			for b.Loop() {
				rs := make([]core.Record, size)
				for i := range rs {
					off++
					rs[i] = core.Record{ID: strconv.Itoa(off), Offset: strconv.Itoa(off), Key: "k" + strconv.Itoa(off%100)}
				}
				if _, err := r.Run(ctx, core.Batch{Partition: "p", Records: rs, Now: t0}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(store.Stats().RoundTrips-before.RoundTrips)/float64(b.N), "roundtrips/batch")
		})
	}
}

// partitionOf10k commits a partition holding 10,000 keys and returns the store.
func partitionOf10k(b *testing.B, store *state.Store) *runner.Runner {
	b.Helper()
	r, err := runner.New(runner.Config{Function: "bench", Store: store,
		New: func(p string) (runner.Processor, error) { return newCounter(p), nil }})
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]core.Record, 10000)
	for i := range rs {
		rs[i] = core.Record{ID: strconv.Itoa(i + 1), Offset: strconv.Itoa(i + 1), Key: "sensor-" + strconv.Itoa(i)}
	}
	if _, err := r.Run(context.Background(), core.Batch{Partition: "p", Records: rs, Now: t0}); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkStateBytesPerKey reports the stored bytes per key of a 10,000-key partition (the test
// counter's snapshot plus the Runner's envelope) and the envelope's own overhead.
func BenchmarkStateBytesPerKey(b *testing.B) {
	store := memstate.New(nil)
	partitionOf10k(b, store)
	e, err := store.Get(context.Background(), "bench/p")
	if err != nil {
		b.Fatal(err)
	}
	var env runner.Envelope
	if err := env.Unmarshal(e.Value); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = env.Marshal()
	}
	b.ReportMetric(float64(len(e.Value))/10000, "bytes/key")
	b.ReportMetric(float64(len(e.Value)-len(env.Snapshot)), "envelope-bytes")
}

// BenchmarkFile10kKeys times loading and committing a 10,000-key partition's state on the file
// store (with fsync): load is read + decode + restore, commit is snapshot + encode + conditional
// write, run is a whole one-record batch (load, process, commit).
func BenchmarkFile10kKeys(b *testing.B) {
	ctx := context.Background()
	open := func(b *testing.B) *state.Store {
		s, err := filestate.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("load", func(b *testing.B) {
		store := open(b)
		partitionOf10k(b, store)
		for b.Loop() {
			e, err := store.Get(ctx, "bench/p")
			if err != nil {
				b.Fatal(err)
			}
			var env runner.Envelope
			if err := env.Unmarshal(e.Value); err != nil {
				b.Fatal(err)
			}
			if err := newCounter("p").Restore(env.Snapshot); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("commit", func(b *testing.B) {
		store := open(b)
		partitionOf10k(b, store)
		e, _ := store.Get(ctx, "bench/p")
		var env runner.Envelope
		_ = env.Unmarshal(e.Value)
		c := newCounter("p")
		_ = c.Restore(env.Snapshot)
		rev := e.Rev
		for b.Loop() {
			snap, _ := c.Snapshot()
			env.Snapshot = snap
			nrev, err := store.Put(ctx, "bench/p", env.Marshal(), rev, nil)
			if err != nil {
				b.Fatal(err)
			}
			rev = nrev
		}
	})
	b.Run("run", func(b *testing.B) {
		store := open(b)
		r := partitionOf10k(b, store)
		off := 10000
		for b.Loop() {
			off++
			rec := core.Record{ID: strconv.Itoa(off), Offset: strconv.Itoa(off), Key: "sensor-" + strconv.Itoa(off%10000)}
			if _, err := r.Run(ctx, core.Batch{Partition: "p", Records: []core.Record{rec}, Now: t0}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
