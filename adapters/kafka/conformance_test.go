//go:build unix

package kafka_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/filestate"
)

// The conformance suite on the Kafka worker: each scenario partition is a partition of a fresh
// topic on kfake (the real protocol on 127.0.0.1), records are produced to it and consumed by a
// real consumer-group worker, the state is in a file store, and outputs and dead letters go through
// the kafka:// sink to topics, read back by a consumer. Redelivered records are read again the way
// Kafka delivers them again: the worker's position moves back (Worker.Seek, as a consumer resuming
// from an older committed offset), and the Runner skips what it applied. Failed batches are retried
// by the worker itself.
func TestConformance(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var n atomic.Int64
	adaptertest.Run(t, func(t *testing.T, s adaptertest.Setup) adaptertest.Harness {
		i := n.Add(1)
		h := &workerHarness{t: t, s: s, addrs: c.ListenAddrs(), dir: t.TempDir(),
			topic: fmt.Sprintf("conf-%d", i), out: fmt.Sprintf("conf-%d-out", i), dlq: fmt.Sprintf("conf-%d-dlq", i),
			produced: map[string]int64{}}
		createTopic(t, h.addrs, h.topic, len(s.Partitions))
		createTopic(t, h.addrs, h.out, 1)
		createTopic(t, h.addrs, h.dlq, 1)
		var err error
		h.outSink, err = sink.Open(t.Context(), "kafka://"+h.addrs[0]+"/"+h.out)
		if err != nil {
			t.Fatal(err)
		}
		h.dlqSink, err = sink.Open(t.Context(), "kafka://"+h.addrs[0]+"/"+h.dlq)
		if err != nil {
			t.Fatal(err)
		}
		h.outs = newTopicReader(t, h.addrs, h.out)
		h.dls = newTopicReader(t, h.addrs, h.dlq)
		if err := h.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			h.stop()
			h.outSink.Close(context.Background())
			h.dlqSink.Close(context.Background())
		})
		return h
	}, adaptertest.Parallel())
}

func createTopic(t testing.TB, addrs []string, topic string, partitions int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, int32(partitions), 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Topics {
		if r.ErrorCode != 0 {
			t.Fatalf("create topic %s: error code %d", topic, r.ErrorCode)
		}
	}
}

// topicReader consumes a topic in the background.
type topicReader struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func newTopicReader(t testing.TB, addrs []string, topic string) *topicReader {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	r := &topicReader{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			r.mu.Lock()
			r.recs = append(r.recs, fs.Records()...)
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
	return r
}

// sync waits until the reader has seen every record the sink produced (their count is the
// topic's end offset, which a single-partition topic makes one number).
func (r *topicReader) all(t testing.TB, addrs []string, topic string) []*kgo.Record {
	end := endOffset(t, addrs, topic)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.recs)
		r.mu.Unlock()
		if int64(n) >= end {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: read %d records of %d", topic, n, end)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

func endOffset(t testing.TB, addrs []string, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].Offset
}

type workerHarness struct {
	t                *testing.T
	s                adaptertest.Setup
	addrs            []string
	dir              string
	topic, out, dlq  string
	outSink, dlqSink *sink.Sink
	outs, dls        *topicReader
	now              atomic.Int64
	produced         map[string]int64 // scenario partition → records produced

	mu      sync.Mutex
	batches []kafka.BatchInfo

	w      *kafka.Worker
	store  *state.Store
	cancel context.CancelFunc
	done   chan error
}

// start makes a cold worker: a new store client, runner, consumer-group member.
func (h *workerHarness) start() error {
	store, err := filestate.Open(h.dir, nil)
	if err != nil {
		return err
	}
	r, err := runner.New(runner.Config{Function: h.s.Function.Name, Store: store, New: h.s.Function.NewProcessor,
		Sink: h.s.Faults.Wrap(h.outSink), DeadLetter: h.dlqSink})
	if err != nil {
		store.Close()
		return err
	}
	w, err := kafka.New(kafka.WorkerConfig{Brokers: h.addrs, Topic: h.topic, Group: h.topic + "-group", Runner: r,
		TickEvery: -1, RetryBackoff: time.Millisecond, SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second,
		OnBatch: func(bi kafka.BatchInfo) {
			h.mu.Lock()
			h.batches = append(h.batches, bi)
			h.mu.Unlock()
		},
		Now:    func() time.Time { return time.Unix(0, h.now.Load()).UTC() },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		store.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.w, h.store, h.cancel, h.done = w, store, cancel, make(chan error, 1)
	go func() { h.done <- w.Run(ctx) }()
	return nil
}

func (h *workerHarness) stop() error {
	h.cancel()
	err := <-h.done
	return errors.Join(err, h.store.Close())
}

func (h *workerHarness) Restart(ctx context.Context) error {
	if err := h.stop(); err != nil {
		return err
	}
	return h.start()
}

func (h *workerHarness) index(partition string) int32 {
	return int32(slices.Index(h.s.Partitions, partition))
}

func (h *workerHarness) Locate(partition string, r adaptertest.Record) (string, core.Pos) {
	off := strconv.FormatInt(r.Seq-1, 10)
	return off, core.Pos{Partition: kafka.Partition(h.topic, h.index(partition)), Offset: off}
}

// Deliver produces the records not produced yet to the scenario partition's Kafka partition, and
// moves the worker back to the first record produced before, so that it reads those again; then
// waits until the worker has applied the partition to its end.
func (h *workerHarness) Deliver(ctx context.Context, partition string, recs []adaptertest.Record, now time.Time) (adaptertest.Delivery, error) {
	h.now.Store(now.UnixNano())
	idx := h.index(partition)
	kp := kafka.Partition(h.topic, idx)
	var d adaptertest.Delivery
	h.mu.Lock()
	mark := len(h.batches)
	h.mu.Unlock()
	produced := h.produced[partition]
	var fresh []*kgo.Record
	again := int64(-1)
	for _, r := range recs {
		if r.Seq <= produced {
			if again < 0 || r.Seq-1 < again {
				again = r.Seq - 1
			}
			continue
		}
		if r.Seq != produced+int64(len(fresh))+1 {
			return d, fmt.Errorf("record %s has Seq %d after %d produced", r.ID, r.Seq, produced+int64(len(fresh)))
		}
		fresh = append(fresh, &kgo.Record{Topic: h.topic, Partition: idx, Key: []byte(r.Key), Value: r.Data, Timestamp: r.Time})
	}
	if again >= 0 {
		if err := h.w.Seek(ctx, idx, again); err != nil {
			return d, err
		}
	}
	if len(fresh) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(h.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			return d, err
		}
		res := cl.ProduceSync(ctx, fresh...)
		cl.Close()
		if err := res.FirstErr(); err != nil {
			return d, err
		}
		for i, r := range res {
			if want := produced + int64(i); r.Record.Offset != want {
				return d, fmt.Errorf("record produced at offset %d of %s, want %d", r.Record.Offset, kp, want)
			}
		}
		h.produced[partition] = produced + int64(len(fresh))
	}
	if again < 0 && len(fresh) == 0 {
		return d, nil
	}
	end := h.produced[partition] - 1
	deadline := time.Now().Add(60 * time.Second)
	for {
		h.mu.Lock()
		bs := slices.Clone(h.batches[mark:])
		h.mu.Unlock()
		done := false
		for _, b := range bs {
			if b.Partition == kp && b.Records > 0 && b.Err == nil && b.Last == end {
				done = true
			}
		}
		if done {
			for _, b := range bs {
				if b.Records > 0 {
					d.Invocations++
					if b.Err != nil {
						d.Failed++
					}
				}
			}
			return d, nil
		}
		if time.Now().After(deadline) {
			return d, fmt.Errorf("partition %s not applied to offset %d within 60 s (batches %+v)", kp, end, bs)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Tick does what the worker's own clock does every TickEvery (ticks its assigned partitions), at
// the scenario's processing time; it waits for the worker to own every partition first, as after
// a restart it may not yet.
func (h *workerHarness) Tick(ctx context.Context, now time.Time) error {
	h.now.Store(now.UnixNano())
	deadline := time.Now().Add(60 * time.Second)
	for len(h.w.Assigned()) < len(h.s.Partitions) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the worker owns %v after 60 s", h.w.Assigned())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return h.w.Tick(ctx, now)
}

// Outputs reads the output topic: each record's body is the output's JSON with the contract's
// "eddy_id" first, which must equal the record's eddy_id header; the suite compares the rest.
func (h *workerHarness) Outputs(context.Context) ([][]byte, error) {
	var outs [][]byte
	for _, r := range h.outs.all(h.t, h.addrs, h.out) {
		var id string
		for _, hd := range r.Headers {
			if hd.Key == sink.MetaID {
				id = string(hd.Value)
			}
		}
		prefix := `{"eddy_id":` + strconv.Quote(id) + `,`
		if id == "" || len(r.Value) < len(prefix) || string(r.Value[:len(prefix)]) != prefix {
			return nil, fmt.Errorf("output record %d: header %s=%q, body %.80s", r.Offset, sink.MetaID, id, r.Value)
		}
		outs = append(outs, append([]byte("{"), r.Value[len(prefix):]...))
	}
	return outs, nil
}

// DeadLetters reads the dead-letter topic's envelopes.
func (h *workerHarness) DeadLetters(context.Context) ([]adaptertest.DeadLetter, error) {
	var dls []adaptertest.DeadLetter
	for _, r := range h.dls.all(h.t, h.addrs, h.dlq) {
		var env struct {
			Record, Partition, Offset, Field, Reason string
			Data                                     string `json:"data_base64"`
		}
		if err := json.Unmarshal(r.Value, &env); err != nil {
			return nil, fmt.Errorf("dead letter %s: %w", r.Value, err)
		}
		data, err := base64.StdEncoding.DecodeString(env.Data)
		if err != nil {
			return nil, err
		}
		if env.Partition == "" || env.Offset != env.Record {
			return nil, fmt.Errorf("dead letter names no partition and offset: %s", r.Value)
		}
		dls = append(dls, adaptertest.DeadLetter{ID: env.Record, Field: env.Field, Reason: env.Reason, Data: data})
	}
	return dls, nil
}
