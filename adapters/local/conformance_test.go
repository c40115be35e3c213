package local_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/filestate"
)

// The conformance suite on the local broker: records published to the broker's partitions, cut
// into batches and retried by its consumers, state in a file store that outlives the broker.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, newLocalHarness, adaptertest.Parallel())
}

// attrPartition carries the scenario's partition on published records: the broker partitions by
// it, so that every scenario partition is one broker partition, whatever devices it carries.
const attrPartition = "conformance-partition"

type localHarness struct {
	t      *testing.T
	s      adaptertest.Setup
	dir    string
	nparts int
	sink   *collector
	*adaptertest.WireTap
	now atomic.Int64 // the broker's clock, unix nanoseconds

	b     *local.Broker
	store *state.Store
	// published holds each scenario partition's records as published, in offset order: the
	// retained stream a restarted broker replays.
	published map[string][]core.Record

	mu       sync.Mutex
	attempts int
	failed   int
}

func newLocalHarness(t *testing.T, s adaptertest.Setup) adaptertest.Harness {
	h := &localHarness{t: t, s: s, dir: t.TempDir(), sink: &collector{}, WireTap: adaptertest.NewWireTap(), published: map[string][]core.Record{}}
	// Enough broker partitions that the scenario's partitions hash to distinct ones.
	for h.nparts = len(s.Partitions); ; h.nparts++ {
		seen := map[uint64]bool{}
		for _, p := range s.Partitions {
			seen[partitionIndex(p, h.nparts)] = true
		}
		if len(seen) == len(s.Partitions) {
			break
		}
	}
	if err := h.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// partitionIndex is the broker's partition choice (FNV-1a of the partition key), used here only
// to pick a partition count without collisions; Locate asks the broker itself.
func partitionIndex(key string, n int) uint64 {
	f := fnv.New64a()
	f.Write([]byte(key))
	return f.Sum64() % uint64(n)
}

func (h *localHarness) start(ctx context.Context) error {
	store, err := filestate.Open(h.dir, nil)
	if err != nil {
		return err
	}
	b, err := local.New(local.Config{
		Runner: runner.Config{Function: h.s.Function.Name, Store: store, New: h.s.Function.NewProcessor,
			Sink: h.s.Faults.Wrap(h.Sink(h.sink)), DeadLetter: h.DeadLetter(h.sink)},
		Partitions: h.nparts,
		// Batches smaller than the scenario's deliveries: the broker cuts them its own way, and
		// the results must not depend on where.
		BatchSize:    3,
		MaxWait:      time.Millisecond,
		RetryDelay:   time.Millisecond,
		TickInterval: -1, // ticks come from the scenario (Tick), at its processing time
		PartitionKey: func(r *core.Record) string { return r.Attrs[attrPartition] },
		OnBatch: func(bi local.BatchInfo) {
			if bi.Records == 0 {
				return
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.attempts++
			if bi.Err != nil {
				h.failed++
			}
		},
		Now:    func() time.Time { return time.Unix(0, h.now.Load()).UTC() },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		store.Close()
		return err
	}
	h.b, h.store = b, store
	// A broker keeps no stream of its own across a restart: the new one is given the retained
	// stream again from its start, and the Runner must skip every record already applied.
	for _, p := range h.s.Partitions {
		recs := h.published[p]
		if len(recs) == 0 {
			continue
		}
		again := make([]core.Record, len(recs))
		for i, r := range recs {
			again[i] = core.Record{ID: r.ID, Key: r.Key, Time: r.Time, Data: r.Data, Attrs: r.Attrs}
		}
		if err := b.Publish(ctx, again...); err != nil {
			return err
		}
		for i := range again {
			if again[i].Offset != recs[i].Offset {
				return fmt.Errorf("replayed record %s got offset %s, first published at %s", recs[i].ID, again[i].Offset, recs[i].Offset)
			}
		}
	}
	return b.Drain(ctx)
}

func (h *localHarness) stop() error {
	err := h.b.Close()
	return errors.Join(err, h.store.Close())
}

func (h *localHarness) Restart(ctx context.Context) error {
	if err := h.b.Drain(ctx); err != nil {
		return err
	}
	if err := h.stop(); err != nil {
		return err
	}
	return h.start(ctx)
}

func (h *localHarness) Locate(partition string, r adaptertest.Record) (string, core.Pos) {
	return r.ID, core.Pos{Partition: h.b.PartitionOf(partition), Offset: strconv.FormatInt(r.Seq, 10)}
}

func (h *localHarness) Deliver(ctx context.Context, partition string, recs []adaptertest.Record, now time.Time) (adaptertest.Delivery, error) {
	h.now.Store(now.UnixNano())
	h.mu.Lock()
	attempts0, failed0 := h.attempts, h.failed
	h.mu.Unlock()
	var d adaptertest.Delivery
	pub := h.published[partition]
	// Records the broker delivered already come again as a redelivered batch does: the same
	// records, offsets and ids, through the partition's Runner (mempubsub redeliveries are
	// dropped by the broker's reorder buffer before they get there).
	var again []core.Record
	for _, r := range recs {
		if r.Seq <= int64(len(pub)) {
			again = append(again, pub[r.Seq-1])
		}
	}
	if len(again) > 0 {
		for {
			d.Invocations++
			_, err := h.b.Runner().Run(ctx, core.Batch{Partition: h.b.PartitionOf(partition), Records: again, Now: now})
			if err == nil {
				break
			}
			if !errors.Is(err, adaptertest.ErrInjected) || d.Invocations > 10 {
				return d, err
			}
			d.Failed++
		}
	}
	var fresh []core.Record
	for _, r := range recs {
		if r.Seq > int64(len(pub)) {
			fresh = append(fresh, core.Record{ID: r.ID, Key: r.Key, Time: r.Time, Data: r.Data, Attrs: map[string]string{attrPartition: partition}})
		}
	}
	if len(fresh) > 0 {
		if err := h.b.Publish(ctx, fresh...); err != nil {
			return d, err
		}
		for i, r := range fresh {
			if want := strconv.FormatInt(int64(len(pub)+i+1), 10); r.Offset != want {
				return d, fmt.Errorf("record %s published at offset %s of partition %s, want %s", r.ID, r.Offset, h.b.PartitionOf(partition), want)
			}
		}
		h.published[partition] = append(pub, fresh...)
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := h.b.Drain(dctx); err != nil {
			return d, fmt.Errorf("drain: %w", err)
		}
	}
	h.mu.Lock()
	d.Invocations += h.attempts - attempts0
	d.Failed += h.failed - failed0
	h.mu.Unlock()
	return d, nil
}

// Tick does what the broker's idle ticker does (a Runner tick of every partition at the broker's
// clock), at the scenario's processing time rather than on a wall-clock interval, which would tick
// at moments the other platforms do not.
func (h *localHarness) Tick(ctx context.Context, now time.Time) error {
	h.now.Store(now.UnixNano())
	_, err := h.b.Runner().TickAll(ctx, now)
	return err
}

func (h *localHarness) Outputs(context.Context) ([][]byte, error) {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	out := make([][]byte, len(h.sink.outs))
	for i, o := range h.sink.outs {
		out[i] = []byte(o)
	}
	return out, nil
}

func (h *localHarness) DeadLetters(context.Context) ([]adaptertest.DeadLetter, error) {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	out := make([]adaptertest.DeadLetter, len(h.sink.fails))
	for i, f := range h.sink.fails {
		out[i] = adaptertest.DeadLetter{ID: f.Record.ID, Field: f.Field, Reason: f.Reason, Data: f.Record.Data}
	}
	return out, nil
}

// TransportKey implements adaptertest.TransportKeyer: the broker's records carry the key they were
// partitioned by, the scenario's partition.
func (h *localHarness) TransportKey(partition string, _ adaptertest.Record) string { return partition }
