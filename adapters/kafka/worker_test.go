package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// progress follows what a worker applied, by partition.
type progress struct {
	mu      sync.Mutex
	applied map[string]int64 // partition → last offset applied
	events  int
	failed  int
	batches int
}

func (p *progress) onBatch(bi kafka.BatchInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bi.Records == 0 {
		return
	}
	p.batches++
	if bi.Err != nil {
		p.failed++
		return
	}
	if p.applied == nil {
		p.applied = map[string]int64{}
	}
	p.applied[bi.Partition] = max(p.applied[bi.Partition], bi.Last)
	p.events += bi.Result.Stats.Events
}

// waitApplied waits until every partition's applied offset reaches the record's last offset.
func (p *progress) waitApplied(t testing.TB, want map[string]int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		ok := true
		for part, off := range want {
			if p.applied[part] < off {
				ok = false
			}
		}
		p.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Fatalf("not all applied within 60 s: applied %v, want %v", p.applied, want)
}

func startWorker(t testing.TB, cfg kafka.WorkerConfig) (stop func()) {
	t.Helper()
	w, err := kafka.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// The worker consumes every partition of a topic, its outputs equal a direct run of each
// partition's records, its state holds each partition's last offset, and the offsets committed
// to Kafka make a second member of the group start after them.
func TestWorkerConsumes(t *testing.T) {
	const n = 2000
	c := cluster(t, 4, "in")
	addrs := c.ListenAddrs()
	produce(t, addrs, "in", 0, n)
	byPart := readAll(t, addrs, "in", n)
	comp := compile(t)
	want := reference(t, comp, byPart)
	if len(want) < 20 || len(byPart) != 4 {
		t.Fatalf("the reference has %d outputs over %d partitions: the stream is too thin to prove anything", len(want), len(byPart))
	}
	last := map[string]int64{}
	for p, recs := range byPart {
		last[p], _ = strconv.ParseInt(recs[len(recs)-1].Offset, 10, 64)
	}

	store := memstate.New(nil)
	col := &collector{}
	r, err := runner.New(runner.Config{Function: "kafka-test", Store: store, New: newProc(comp), Sink: col, DeadLetter: col})
	if err != nil {
		t.Fatal(err)
	}
	var prog progress
	cfg := kafka.WorkerConfig{Brokers: addrs, Topic: "in", Group: "g", Runner: r, MaxPollRecords: 97, TickEvery: -1,
		OnBatch: prog.onBatch, Logger: quiet(), Now: func() time.Time { return time.Unix(0, 0) }}
	stop := startWorker(t, cfg)
	prog.waitApplied(t, last)
	stop()
	if got := col.sorted(); !slices.Equal(got, want) {
		t.Fatalf("outputs differ from the reference run (%d vs %d): %s", len(got), len(want), diff(want, got))
	}
	if prog.events != n {
		t.Errorf("%d events processed, want %d", prog.events, n)
	}
	for p, off := range last {
		e, err := store.Get(context.Background(), r.Key(p))
		if err != nil || !e.Found {
			t.Fatalf("state of %s: %v found=%v", p, err, e.Found)
		}
		var env runner.Envelope
		if err := env.Unmarshal(e.Value); err != nil {
			t.Fatal(err)
		}
		if env.Offset != strconv.FormatInt(off, 10) {
			t.Errorf("state of %s holds offset %s, want %d", p, env.Offset, off)
		}
	}

	// A new member of the group resumes after the committed offsets: its first batches start at
	// the records produced now.
	produce(t, addrs, "in", n, n+40)
	var firsts sync.Map
	var prog2 progress
	cfg.OnBatch = func(bi kafka.BatchInfo) {
		if bi.Records > 0 {
			firsts.LoadOrStore(bi.Partition, bi.First)
		}
		prog2.onBatch(bi)
	}
	all := readAll(t, addrs, "in", n+40)
	last2 := map[string]int64{}
	for p, recs := range all {
		last2[p], _ = strconv.ParseInt(recs[len(recs)-1].Offset, 10, 64)
	}
	stop2 := startWorker(t, cfg)
	prog2.waitApplied(t, last2)
	stop2()
	firsts.Range(func(k, v any) bool {
		if v.(int64) != last[k.(string)]+1 {
			t.Errorf("second member's first batch of %s starts at %d, want %d (after the committed offset)", k, v, last[k.(string)]+1)
		}
		return true
	})
	if prog2.events != 40 {
		t.Errorf("second member processed %d events, want the 40 new ones", prog2.events)
	}
}

// A missing topic and an unreachable broker end Run with a clear error after bounded retries.
func TestWorkerBadBrokers(t *testing.T) {
	c := cluster(t, 1, "in")
	r, err := runner.New(runner.Config{Function: "kafka-test", Store: memstate.New(nil), New: newProc(compile(t))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		brokers []string
		topic   string
		want    error
	}{
		{"missing topic", c.ListenAddrs(), "nope", kafka.ErrTopicNotFound},
		{"unreachable", []string{"127.0.0.1:1"}, "in", kafka.ErrUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := kafka.New(kafka.WorkerConfig{Brokers: tc.brokers, Topic: tc.topic, Group: "g", Runner: r,
				ConnectAttempts: 3, ConnectBackoff: 10 * time.Millisecond, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			err = w.Run(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Run: %v, want %v", err, tc.want)
			}
			t.Log(err)
			for _, s := range []string{tc.topic, tc.brokers[0], "after 3 attempts"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

// A partition that goes quiet is ticked by the worker's own clock: once the spec's idle timeout
// has passed, the windows still open close and their results are emitted, with no new record and
// no outside scheduler.
func TestWorkerIdleTick(t *testing.T) {
	c := cluster(t, 2, "in")
	addrs := c.ListenAddrs()
	produce(t, addrs, "in", 0, 1000)
	comp := compile(t)
	col := &collector{}
	r, err := runner.New(runner.Config{Function: "kafka-test", Store: memstate.New(nil), New: newProc(comp), Sink: col, DeadLetter: col})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Unix(1767225600, 0).UnixNano())
	var prog progress
	var ticked atomic.Int64
	stop := startWorker(t, kafka.WorkerConfig{Brokers: addrs, Topic: "in", Group: "g", Runner: r, TickEvery: 30 * time.Second,
		OnBatch: func(bi kafka.BatchInfo) {
			prog.onBatch(bi)
			if bi.Records == 0 && bi.Err == nil && len(bi.Result.Outputs) > 0 {
				ticked.Add(int64(len(bi.Result.Outputs)))
			}
		},
		Logger: quiet(), Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	byPart := readAll(t, addrs, "in", 1000)
	last := map[string]int64{}
	for p, recs := range byPart {
		last[p], _ = strconv.ParseInt(recs[len(recs)-1].Offset, 10, 64)
	}
	prog.waitApplied(t, last)
	before := len(col.sorted())
	// Two minutes pass on the worker's clock: past TickEvery and the spec's 1 m idle timeout.
	clock.Add(int64(2 * time.Minute))
	deadline := time.Now().Add(30 * time.Second)
	for ticked.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	after := col.sorted()
	if ticked.Load() == 0 || len(after) <= before {
		t.Fatalf("no tick closed a window: %d outputs before, %d after", before, len(after))
	}
	t.Logf("the idle tick closed windows: %d outputs before, %d after", before, len(after))
}

// A record too large for the dead-letter topic (its envelope carries its bytes twice) is
// dead-lettered without its bytes, with a reason naming its size, the limit and where to read it,
// and the partition goes on; a small undecodable record is dead-lettered whole.
func TestWorkerOversizeDeadLetter(t *testing.T) {
	c := cluster(t, 1, "in", "dlq")
	addrs := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 3000)
	k, good := reading(0)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("dev-00"), Value: big},
		&kgo.Record{Key: []byte("dev-00"), Value: []byte("small poison")}, &kgo.Record{Key: []byte(k), Value: good}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	comp := compile(t)
	var prog progress
	w, closeAll, err := kafka.Open(context.Background(), kafka.Config{Function: "kafka-test",
		SourceURL: "kafka://" + addrs[0] + "/in?group=g", StateURL: "mem://", OutputURL: "mem://oversize-out",
		DeadLetterURL: "kafka://" + addrs[0] + "/dlq?max_record_bytes=4096", TickEvery: time.Hour},
		kafka.Func(comp.Name(), newProc(comp)), &kafka.WorkerConfig{Logger: quiet(), OnBatch: prog.onBatch})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	prog.waitApplied(t, map[string]int64{"in-0": 2})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := closeAll(); err != nil {
		t.Fatal(err)
	}
	if prog.failed != 0 {
		t.Errorf("%d batch attempts failed", prog.failed)
	}
	dl := readAllRaw(t, addrs, "dlq", 2)
	if len(dl) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dl))
	}
	var env struct{ Offset, Partition, Reason, DataBase64 string }
	if err := json.Unmarshal(dl[0].Value, &env); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3000 bytes are left out", "over the output's limit", "partition in-0 at offset 0"} {
		if !strings.Contains(env.Reason, want) {
			t.Errorf("oversize dead letter's reason %q lacks %q", env.Reason, want)
		}
	}
	if env.Offset != "0" || env.Partition != "in-0" || bytes.Contains(dl[0].Value, big[:100]) {
		t.Errorf("oversize dead letter %s", dl[0].Value)
	}
	if !bytes.Contains(dl[1].Value, []byte(`"data":"small poison"`)) {
		t.Errorf("small dead letter %s", dl[1].Value)
	}
}

// readAllRaw reads n records of topic.
func readAllRaw(t testing.TB, addrs []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		out = append(out, cl.PollFetches(ctx).Records()...)
	}
	return out
}

// slowSink makes every emit take a while, so that batches are in flight when the group rebalances.
type slowSink struct {
	*collector
	d time.Duration
}

func (s slowSink) Emit(ctx context.Context, outs []core.Output) error {
	time.Sleep(s.d)
	return s.collector.Emit(ctx, outs)
}

// A graceful handover: a second worker joins while the first has batches in flight; the first
// finishes and commits them before it releases the partitions it gives up, so the second starts
// exactly after them: no record is read twice (nothing skipped anywhere), none is lost, and the
// outputs equal a single run.
func TestWorkerRebalanceHandover(t *testing.T) {
	const n = 4000
	c := cluster(t, 4, "in")
	addrs := c.ListenAddrs()
	produce(t, addrs, "in", 0, n)
	byPart := readAll(t, addrs, "in", n)
	comp := compile(t)
	want := reference(t, comp, byPart)
	last := map[string]int64{}
	for p, recs := range byPart {
		last[p], _ = strconv.ParseInt(recs[len(recs)-1].Offset, 10, 64)
	}
	store := memstate.New(nil)
	col := &collector{}
	var mu sync.Mutex
	var batches [2][]kafka.BatchInfo
	start := func(i int) func() {
		r, err := runner.New(runner.Config{Function: "kafka-test", Store: store, New: newProc(comp), Sink: slowSink{col, 20 * time.Millisecond}, DeadLetter: col})
		if err != nil {
			t.Fatal(err)
		}
		return startWorker(t, kafka.WorkerConfig{Brokers: addrs, Topic: "in", Group: "handover", Runner: r, MaxPollRecords: 40, TickEvery: -1,
			Logger: quiet(), Now: func() time.Time { return time.Unix(0, 0) },
			OnBatch: func(bi kafka.BatchInfo) {
				mu.Lock()
				defer mu.Unlock()
				if bi.Records > 0 {
					batches[i] = append(batches[i], bi)
				}
			}})
	}
	stopA := start(0)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		k := len(batches[0])
		mu.Unlock()
		if k >= 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first worker ran no batches")
		}
	}
	stopB := start(1)
	applied := func() bool {
		mu.Lock()
		defer mu.Unlock()
		got := map[string]int64{}
		for _, bs := range batches {
			for _, b := range bs {
				if b.Err == nil {
					got[b.Partition] = max(got[b.Partition], b.Last)
				}
			}
		}
		for p, off := range last {
			if got[p] < off {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(90 * time.Second); !applied(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not all applied within 90 s")
		}
	}
	stopB()
	stopA()
	mu.Lock()
	defer mu.Unlock()
	if len(batches[1]) == 0 {
		t.Fatal("the second worker got no partition")
	}
	for i, bs := range batches {
		for _, b := range bs {
			if b.Err != nil || b.Result.Stats.Skipped != 0 {
				t.Errorf("worker %d batch %s %d–%d: err %v, %d records read again", i, b.Partition, b.First, b.Last, b.Err, b.Result.Stats.Skipped)
			}
		}
	}
	if got := col.sorted(); !slices.Equal(got, want) {
		t.Fatalf("outputs differ from the reference: %s", diff(want, got))
	}
	t.Logf("first worker %d batches, second %d", len(batches[0]), len(batches[1]))
}
