//go:build unix

package azure_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2/checkpoints"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob/azureblob"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/adapters/azure/eventhubsink"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/blobstate"
	_ "github.com/eddyhq/eddy/core/state/blobstate/azurestate"
	"github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/examples/bench"
)

// mortalStore is a checkpoint store that stops working when its process is killed, so the
// killed processor cannot relinquish its partitions: the survivor must wait for them to expire,
// as after a real crash.
type mortalStore struct {
	*checkpoints.BlobStore
	dead atomic.Bool
}

var errDead = errors.New("process killed")

func (s *mortalStore) ClaimOwnership(ctx context.Context, o []azeventhubs.Ownership, opts *azeventhubs.ClaimOwnershipOptions) ([]azeventhubs.Ownership, error) {
	if s.dead.Load() {
		return nil, errDead
	}
	return s.BlobStore.ClaimOwnership(ctx, o, opts)
}

func (s *mortalStore) SetCheckpoint(ctx context.Context, c azeventhubs.Checkpoint, opts *azeventhubs.SetCheckpointOptions) error {
	if s.dead.Load() {
		return errDead
	}
	return s.BlobStore.SetCheckpoint(ctx, c, opts)
}

// killSink emits to the output hub and, once armed, kills its process right after an emit and
// before the state commit: the worst moment, since those outputs will be emitted again.
type killSink struct {
	next  *sink.Sink // the eventhubs:// sink
	armed atomic.Bool
	kill  func()
}

func (s *killSink) Emit(ctx context.Context, outs []core.Output) error {
	if err := s.next.Emit(ctx, outs); err != nil {
		return err
	}
	if s.armed.Load() && s.kill != nil {
		s.kill()
		return errDead
	}
	return nil
}

// lostCounter counts the consumer's "partition lost" log lines.
type lostCounter struct {
	slog.Handler
	n *atomic.Int64
}

func (h lostCounter) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "partition lost") {
		h.n.Add(1)
	}
	if h.Handler != nil {
		return h.Handler.Handle(ctx, r)
	}
	return nil
}
func (h lostCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h lostCounter) WithAttrs(as []slog.Attr) slog.Handler {
	if h.Handler != nil {
		h.Handler = h.Handler.WithAttrs(as)
	}
	return h
}
func (h lostCounter) WithGroup(string) slog.Handler { return h }

type replica struct {
	consumer *azure.Consumer
	store    *mortalStore
	sink     *killSink
	cancel   context.CancelFunc
	done     chan error
}

// TestConsumerCompetingProcessors: 4 partitions, 2 competing processors with the blob checkpoint
// store and the state on Azurite, outputs to an output Event Hub. The second processor joins
// mid-stream and takes partitions over (ownership lost on the first); then the first is killed
// between an emit and its state commit. The outputs, deduplicated by id, must equal a plain
// in-process run exactly; every event must be applied exactly once.
func TestConsumerCompetingProcessors(t *testing.T) {
	conn := eventHubs(t, "in:4,out:1")
	azConn, _ := azurite(t, "ckpt", "state")
	ctx, cancelAll := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelAll()

	const n, keys, parts = 2400, 40, 4
	evs := bench.Generate(11, n, keys)
	for i := range evs {
		evs[i].TS += int64(i) * 299
	}
	recs := bench.Records(evs)
	byPart := make([][]core.Record, parts)
	partOf := func(e bench.Event) int {
		var k int
		fmt.Sscanf(e.Key, "sensor-%d", &k)
		return k % parts
	}
	for i, e := range evs {
		byPart[partOf(e)] = append(byPart[partOf(e)], recs[i])
	}
	// The reference: each partition's events in one batch through W1, in memory.
	want := map[string]string{}
	ref, err := runner.New(runner.Config{Function: "w1", Store: memstate.New(nil),
		New: func(string) (runner.Processor, error) { return bench.Build(bench.W1) }})
	if err != nil {
		t.Fatal(err)
	}
	for p, rs := range byPart {
		res, err := ref.Run(ctx, core.Batch{Partition: fmt.Sprint(p), Records: rs, Now: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Outputs {
			want[core.OutputID(o)] = string(o.AppendJSON(nil))
		}
	}

	var events atomic.Int64
	var lost atomic.Int64
	var skipped atomic.Int64
	newReplica := func(name string) *replica {
		cc, err := container.NewClientFromConnectionString(azConn, "ckpt", nil)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := checkpoints.NewBlobStore(cc, nil)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := container.NewClientFromConnectionString(azConn, "state", nil)
		if err != nil {
			t.Fatal(err)
		}
		bucket, err := azureblob.OpenBucket(ctx, sc, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bucket.Close() })
		drv, err := blobstate.New(bucket)
		if err != nil {
			t.Fatal(err)
		}
		prod, err := azeventhubs.NewProducerClientFromConnectionString(conn, "out", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { prod.Close(context.Background()) })
		r := &replica{store: &mortalStore{BlobStore: bs}, sink: &killSink{next: sink.New(eventhubsink.New(prod, "out"), nil)}, done: make(chan error, 1)}
		run, err := runner.New(runner.Config{Function: "w1", Store: state.NewStore(drv, nil), Sink: r.sink,
			New: func(string) (runner.Processor, error) { return bench.Build(bench.W1) }})
		if err != nil {
			t.Fatal(err)
		}
		cons, err := azeventhubs.NewConsumerClientFromConnectionString(conn, "in", azeventhubs.DefaultConsumerGroup, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cons.Close(context.Background()) })
		proc, err := azeventhubs.NewProcessor(cons, r.store, &azeventhubs.ProcessorOptions{
			UpdateInterval: 200 * time.Millisecond, PartitionExpirationDuration: 3 * time.Second,
			StartPositions: azeventhubs.StartPositions{Default: azeventhubs.StartPosition{Earliest: to.Ptr(true)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		r.consumer, err = azure.NewConsumer(proc, azure.ConsumerConfig{
			Runner: run, BatchSize: 50, MaxWait: 200 * time.Millisecond, TickEvery: -1,
			Logger: slog.New(lostCounter{n: &lost, Handler: debugLog()}).With("replica", name),
			OnBatch: func(p string, res core.Result) {
				events.Add(int64(res.Stats.Events))
				skipped.Add(int64(res.Stats.Skipped))
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		r.cancel = cancel
		r.sink.kill = func() { r.store.dead.Store(true); cancel() }
		go func() { r.done <- r.consumer.Run(rctx) }()
		return r
	}

	prod, err := azeventhubs.NewProducerClientFromConnectionString(conn, "in", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(ctx)
	const rounds = 12
	sent := make([]int, parts)
	sendRound := func(round int) {
		for p := range parts {
			rs := byPart[p]
			lo, hi := len(rs)*round/rounds, len(rs)*(round+1)/rounds
			b, err := prod.NewEventDataBatch(ctx, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr(fmt.Sprint(p))})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs[lo:hi] {
				if err := b.AddEventData(&azeventhubs.EventData{Body: r.Data}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := prod.SendEventDataBatch(ctx, b, nil); err != nil {
				t.Fatal(err)
			}
			sent[p] = hi
		}
	}

	a := newReplica("A")
	for round := range 3 {
		sendRound(round)
		time.Sleep(300 * time.Millisecond)
	}
	bRep := newReplica("B")
	for round := 3; round < 7; round++ {
		sendRound(round)
		time.Sleep(300 * time.Millisecond)
	}
	a.sink.armed.Store(true)
	for round := 7; round < rounds; round++ {
		sendRound(round)
		time.Sleep(200 * time.Millisecond)
	}
	// If A emitted nothing more since it was armed, kill it now.
	a.sink.kill()
	if err := <-a.done; err != nil {
		t.Fatalf("killed replica: %v", err)
	}

	// Wait for B to checkpoint every partition's last event.
	cc, err := container.NewClientFromConnectionString(azConn, "ckpt", nil)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := checkpoints.NewBlobStore(cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	csp, err := azeventhubs.ParseConnectionString(conn)
	if err != nil {
		t.Fatal(err)
	}
	progress := func() (string, bool) {
		cps, err := bs.ListCheckpoints(ctx, csp.FullyQualifiedNamespace, "in", azeventhubs.DefaultConsumerGroup, nil)
		if err != nil {
			t.Fatal(err)
		}
		done, desc := 0, []string{}
		for _, c := range cps {
			var p int
			fmt.Sscan(c.PartitionID, &p)
			seq := int64(-1)
			if c.SequenceNumber != nil {
				seq = *c.SequenceNumber
			}
			desc = append(desc, fmt.Sprintf("partition %d at %d of %d", p, seq, sent[p]-1))
			if seq == int64(sent[p]-1) {
				done++
			}
		}
		return strings.Join(desc, ", "), done == parts
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		desc, ok := progress()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not all checkpointed after 60 s: %s", desc)
		}
	}
	bRep.cancel()
	if err := <-bRep.done; err != nil {
		t.Fatalf("surviving replica: %v", err)
	}

	// Read the output hub.
	got := map[string]string{}
	dups := 0
	oc, err := azeventhubs.NewConsumerClientFromConnectionString(conn, "out", azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close(ctx)
	pc, err := oc.NewPartitionClient("0", &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		out, err := pc.ReceiveEvents(rctx, 500, nil)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		for _, e := range out {
			id := *e.MessageID
			body, err := adaptertest.OutputJSON(e.Body)
			if err != nil || e.Properties[sink.MetaID] != id {
				t.Fatalf("output %s (properties %v): not the wire contract: %v", e.Body, e.Properties, err)
			}
			if prev, ok := got[id]; ok {
				dups++
				if prev != string(body) {
					t.Fatalf("output %s emitted twice with different content:\n%s\n%s", id, prev, body)
				}
			}
			got[id] = string(body)
		}
		if len(out) == 0 {
			break
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct outputs, want %d", len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("output %s: got %q, want %q", id, got[id], w)
		}
	}
	if e := events.Load(); e != n {
		t.Errorf("%d events applied in committed batches, want exactly %d", e, n)
	}
	if lost.Load() == 0 {
		t.Error("no partition was ever lost to the other processor")
	}
	t.Logf("%d outputs (%d re-emitted after the kill, dropped by id), %d events skipped as already applied on replay, %d ownership losses",
		len(got), dups, skipped.Load(), lost.Load())
}

func debugLog() slog.Handler {
	if os.Getenv("EHFAKE_DEBUG") == "" {
		return nil
	}
	return slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
}
