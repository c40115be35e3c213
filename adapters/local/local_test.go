package local_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/examples/bench"
)

// flakyDriver fails every nth conditional write: the state commit of a batch whose outputs were
// already emitted, the worst moment for an infrastructure failure.
type flakyDriver struct {
	*memstate.Driver
	every int64
	puts  atomic.Int64
	fails atomic.Int64
}

func (d *flakyDriver) Put(ctx context.Context, key string, value []byte, rev string, exp time.Time) (string, error) {
	if d.every > 0 && d.puts.Add(1)%d.every == 0 {
		d.fails.Add(1)
		return "", errors.New("injected: store unavailable")
	}
	return d.Driver.Put(ctx, key, value, rev, exp)
}

// collector is a Sink and a FailureSink that keeps everything.
type collector struct {
	mu    sync.Mutex
	outs  []string
	fails []*core.Failure
}

func (c *collector) Emit(_ context.Context, outs []core.Output) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range outs {
		c.outs = append(c.outs, string(o.AppendJSON(nil)))
	}
	return nil
}

func (c *collector) EmitFailures(_ context.Context, fs []*core.Failure) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails = append(c.fails, fs...)
	return nil
}

func w1Processor(string) (runner.Processor, error) { return bench.Build(bench.W1) }

// refW1 computes W1 naively: per key and minute, count/sum/avg/min/max.
func refW1(evs []bench.Event) []string {
	type acc struct{ n, sum, lo, hi float64 }
	type win struct {
		key string
		min int64
	}
	wins := map[win]*acc{}
	for _, e := range evs {
		k := win{e.Key, e.TS / 60000}
		a := wins[k]
		if a == nil {
			a = &acc{lo: math.Inf(1), hi: math.Inf(-1)}
			wins[k] = a
		}
		a.n++
		a.sum += e.Value
		a.lo, a.hi = min(a.lo, e.Value), max(a.hi, e.Value)
	}
	var out []string
	for k, a := range wins {
		r := core.WindowResult{Function: "w1", Key: k.key, Start: time.UnixMilli(k.min * 60000), End: time.UnixMilli(k.min*60000 + 60000),
			Values: []core.NamedValue{{Name: "count", Num: a.n}, {Name: "sum", Num: a.sum}, {Name: "avg", Num: a.sum / a.n},
				{Name: "min", Num: a.lo}, {Name: "max", Num: a.hi}}}
		out = append(out, string(r.AppendJSON(nil)))
	}
	slices.Sort(out)
	return out
}

func publishAll(t *testing.T, b *local.Broker, evs []bench.Event, bad int) {
	t.Helper()
	ctx := context.Background()
	// Several publishers at once, as several producers would; each key stays with one of them so
	// that per-key publish order (and so event order within a partition) is what the generator made.
	const producers = 4
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for w := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, e := range evs {
				h := 0
				for _, c := range e.Key {
					h += int(c)
				}
				if h%producers != w {
					continue
				}
				if err := b.Publish(ctx, core.Record{Key: e.Key, Data: e.AppendJSON(nil)}); err != nil {
					errs <- err
					return
				}
				if bad > 0 && i%bad == 0 {
					if err := b.Publish(ctx, core.Record{Key: e.Key, Data: []byte(`{"key":"` + e.Key + `","ts":"soon"}`)}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Many events over 4 partitions, with commits failing now and then: the batches are delivered
// again, outputs may repeat (same bytes), and the window results are exactly the reference's.
func TestBrokerExactUnderRedelivery(t *testing.T) {
	evs := bench.Generate(7, 30000, 40)
	drv := &flakyDriver{Driver: memstate.NewDriver(0), every: 7}
	sink := &collector{}
	var (
		mu      sync.Mutex
		batches = map[string][]local.BatchInfo{}
		retried atomic.Int64
	)
	b, err := local.New(local.Config{
		Runner: runner.Config{
			Function: "w1", Store: state.NewStore(drv, nil), New: w1Processor, Sink: sink, DeadLetter: sink,
		},
		Partitions: 4, BatchSize: 64, MaxWait: 5 * time.Millisecond, RetryDelay: time.Millisecond,
		OnBatch: func(bi local.BatchInfo) {
			if bi.Records == 0 {
				return
			}
			if bi.Attempt > 1 {
				retried.Add(1)
			}
			mu.Lock()
			batches[bi.Partition] = append(batches[bi.Partition], bi)
			mu.Unlock()
		},
		Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	publishAll(t, b, evs, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	if drv.fails.Load() == 0 || retried.Load() == 0 {
		t.Fatalf("no failure was injected (%d) or no batch redelivered (%d): the test proves nothing", drv.fails.Load(), retried.Load())
	}
	// Ordered batches per partition: each first delivery starts right after the previous batch,
	// and a redelivery repeats the same batch.
	if len(batches) != 4 {
		t.Fatalf("batches in %d partitions, want 4", len(batches))
	}
	for p, bs := range batches {
		last := 0
		for i, bi := range bs {
			first, _ := strconv.Atoi(bi.First)
			end, _ := strconv.Atoi(bi.Last)
			if bi.Attempt > 1 {
				prev := bs[i-1]
				if bi.First != prev.First || bi.Last != prev.Last {
					t.Fatalf("partition %s: redelivery %s..%s of batch %s..%s", p, bi.First, bi.Last, prev.First, prev.Last)
				}
				continue
			}
			if first != last+1 || end-first+1 != bi.Records || bi.Records > 64 {
				t.Fatalf("partition %s: batch %s..%s (%d records) after offset %d", p, bi.First, bi.Last, bi.Records, last)
			}
			last = end
		}
	}

	// Repeated outputs are exact duplicates; without them, the results are the reference's.
	var windows []string
	seen := map[string]bool{}
	for _, o := range sink.outs {
		if !seen[o] {
			seen[o] = true
			windows = append(windows, o)
		}
	}
	slices.Sort(windows)
	want := refW1(evs)
	if !slices.Equal(windows, want) {
		t.Fatalf("got %d distinct window results, want %d\nfirst got:  %s\nfirst want: %s", len(windows), len(want), first(windows), first(want))
	}
	wantBad := (len(evs) + 999) / 1000
	distinct := map[string]bool{}
	for _, f := range sink.fails {
		distinct[f.Record.ID] = true
		if f.Field != "ts" {
			t.Errorf("failure %v: field %q, want ts", f, f.Field)
		}
	}
	if len(distinct) != wantBad {
		t.Fatalf("%d distinct records in the dead-letter output, want %d", len(distinct), wantBad)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return s[0]
}

// A batch that keeps failing goes to the dead-letter output after MaxAttempts, and the partition
// moves on.
func TestBrokerGivesUpAfterMaxAttempts(t *testing.T) {
	drv := &flakyDriver{Driver: memstate.NewDriver(0), every: 1}
	dl := &collector{}
	var attempts atomic.Int64
	b, err := local.New(local.Config{
		Runner:     runner.Config{Function: "w1", Store: state.NewStore(drv, nil), New: w1Processor},
		Partitions: 1, BatchSize: 10, MaxWait: time.Millisecond, RetryDelay: time.Millisecond, MaxAttempts: 3,
		DeadLetter: dl, TickInterval: -1, Logger: quietLogger(),
		OnBatch: func(bi local.BatchInfo) {
			if bi.Records > 0 {
				attempts.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	evs := bench.Generate(1, 5, 2)
	var recs []core.Record
	for _, e := range evs {
		recs = append(recs, core.Record{Key: e.Key, Data: e.AppendJSON(nil)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(dl.fails) != 5 {
		t.Fatalf("%d dead-lettered records, want 5", len(dl.fails))
	}
	for i, f := range dl.fails {
		if f.Record.Offset != strconv.Itoa(i+1) || f.Err == nil {
			t.Fatalf("dead letter %d: offset %q err %v", i, f.Record.Offset, f.Err)
		}
	}
	if n := attempts.Load(); n%3 != 0 || n == 0 {
		t.Fatalf("%d attempts, want a multiple of MaxAttempts (3)", n)
	}
}

// Records keep their payload, attributes and key through the broker, and a record's Time defaults
// to its publish time.
func TestBrokerRecordFields(t *testing.T) {
	got := make(chan core.Batch, 1)
	t0 := time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC)
	b, err := local.New(local.Config{
		Runner: runner.Config{Function: "f", Store: memstate.New(nil), New: func(string) (runner.Processor, error) {
			return &recorder{got: got}, nil
		}},
		Partitions: 2, MaxWait: time.Millisecond, TickInterval: -1, Now: func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Publish(ctx, core.Record{Key: "k1", Data: []byte("hello"), Attrs: map[string]string{"origin": "gw"}}); err != nil {
		t.Fatal(err)
	}
	batch := <-got
	if len(batch.Records) != 1 {
		t.Fatalf("%d records", len(batch.Records))
	}
	r := batch.Records[0]
	if string(r.Data) != "hello" || r.Key != "k1" || r.Attrs["origin"] != "gw" || r.Offset != "1" || !r.Time.Equal(t0) ||
		batch.Partition != b.PartitionOf("k1") || r.ID != batch.Partition+"-1" {
		t.Fatalf("record %+v in partition %s", r, batch.Partition)
	}
}

type recorder struct{ got chan core.Batch }

func (r *recorder) Restore([]byte) error { return nil }
func (r *recorder) Process(_ context.Context, b core.Batch) (core.Result, error) {
	r.got <- b
	return core.Result{}, nil
}
func (r *recorder) Tick(context.Context, time.Time) (core.Result, error) { return core.Result{}, nil }
func (r *recorder) Snapshot() ([]byte, error)                            { return []byte("x"), nil }

func ExampleBroker() {
	sink := &collector{}
	b, err := local.New(local.Config{
		Runner: runner.Config{Function: "w1", Store: memstate.New(nil), New: w1Processor, Sink: sink},
		// Partition by the event's key, which the standard events also carry in the record key.
		Partitions: 4, BatchSize: 100,
	})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	ctx := context.Background()
	for _, e := range bench.Generate(1, 1000, 3) {
		if err := b.Publish(ctx, core.Record{Key: e.Key, Data: e.AppendJSON(nil)}); err != nil {
			panic(err)
		}
	}
	if err := b.Drain(ctx); err != nil { // every record processed and committed
		panic(err)
	}
	if _, err := b.Flush(ctx); err != nil { // end of stream: close every window
		panic(err)
	}
	fmt.Println(len(sink.outs), "window results")
	// Output: 3 window results
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
