//go:build unix

package azure_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2/checkpoints"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob/azureblob"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/blobstate"
	_ "github.com/eddyhq/eddy/core/state/blobstate/azurestate"
	"github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/examples/bench"
)

type nopDeadLetter struct{}

func (nopDeadLetter) EmitFailures(context.Context, []*core.Failure) error { return nil }

// benchBatches makes count host-shaped bodies of 100 W1 events with rising sequence numbers,
// and the same batches as records.
func benchBatches(b *testing.B, count int) ([][]byte, [][]core.Record) {
	recs := bench.Records(bench.Generate(3, 100*count, 1000))
	bodies, batches := make([][]byte, count), make([][]core.Record, count)
	for i := range recs {
		recs[i].Time = time.Unix(1_764_000_000, 0)
	}
	for i := range count {
		batches[i] = recs[i*100 : (i+1)*100]
		bodies[i] = hostBody(b, "0", batches[i], nil)
	}
	return bodies, batches
}

func w1Runner(b *testing.B) *runner.Runner {
	r, err := runner.New(runner.Config{Function: "w1", Store: memstate.New(nil),
		New: func(string) (runner.Processor, error) { return bench.Build(bench.W1) }})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkCustomHandler100 is one host invocation of 100 events through the handler (decode,
// W1 on an in-memory store, reply); compare BenchmarkRunner100 for the same work without the
// handler: the difference is the custom handler's overhead.
func BenchmarkCustomHandler100(b *testing.B) {
	const count = 200
	bodies, _ := benchBatches(b, count)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%count == 0 {
			b.StopTimer()
			h, err := azure.NewHandler(azure.HandlerConfig{Runner: w1Runner(b), OutputBinding: "outputs", DeadLetter: nopDeadLetter{}})
			if err != nil {
				b.Fatal(err)
			}
			benchHandler = h
			b.StartTimer()
		}
		w := httptest.NewRecorder()
		benchHandler.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/EhW1", bytes.NewReader(bodies[i%count])))
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

var benchHandler *azure.Handler

// BenchmarkRunner100 is the same 100-event batches run directly.
func BenchmarkRunner100(b *testing.B) {
	const count = 200
	_, batches := benchBatches(b, count)
	var r *runner.Runner
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%count == 0 {
			b.StopTimer()
			r = w1Runner(b)
			b.StartTimer()
		}
		if _, err := r.Run(context.Background(), core.Batch{Partition: "0", Records: batches[i%count]}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeInvocation100 is the payload conversion alone for a 100-event body.
func BenchmarkDecodeInvocation100(b *testing.B) {
	bodies, _ := benchBatches(b, 1)
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := azure.DecodeInvocation(bodies[0], azure.DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsumer measures the container consumer end to end: 20,000 W1 events over 4
// partitions of the Event Hubs fake, one Processor, checkpoints and state on Azurite, batches
// of 500. Each iteration reads everything again in a new consumer group.
func BenchmarkConsumer(b *testing.B) {
	const n, parts = 20000, 4
	conn := eventHubs(b, "in:4")
	azConn, _ := azurite(b, "ckpt", "state")
	ctx := context.Background()
	prod, err := azeventhubs.NewProducerClientFromConnectionString(conn, "in", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close(ctx)
	recs := bench.Records(bench.Generate(5, n, 1000))
	for p := range parts {
		batch, err := prod.NewEventDataBatch(ctx, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr(strconv.Itoa(p))})
		if err != nil {
			b.Fatal(err)
		}
		for i := p; i < n; i += parts {
			if err := batch.AddEventData(&azeventhubs.EventData{Body: recs[i].Data}, nil); err != nil {
				if err := prod.SendEventDataBatch(ctx, batch, nil); err != nil {
					b.Fatal(err)
				}
				if batch, err = prod.NewEventDataBatch(ctx, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr(strconv.Itoa(p))}); err != nil {
					b.Fatal(err)
				}
				if err := batch.AddEventData(&azeventhubs.EventData{Body: recs[i].Data}, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := prod.SendEventDataBatch(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	cc, err := container.NewClientFromConnectionString(azConn, "ckpt", nil)
	if err != nil {
		b.Fatal(err)
	}
	bs, err := checkpoints.NewBlobStore(cc, nil)
	if err != nil {
		b.Fatal(err)
	}
	sc, err := container.NewClientFromConnectionString(azConn, "state", nil)
	if err != nil {
		b.Fatal(err)
	}
	bucket, err := azureblob.OpenBucket(ctx, sc, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer bucket.Close()
	drv, err := blobstate.New(bucket)
	if err != nil {
		b.Fatal(err)
	}
	store := state.NewStore(drv, nil)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		group := fmt.Sprintf("bench-%d", i)
		cons, err := azeventhubs.NewConsumerClientFromConnectionString(conn, "in", group, nil)
		if err != nil {
			b.Fatal(err)
		}
		proc, err := azeventhubs.NewProcessor(cons, bs, &azeventhubs.ProcessorOptions{
			UpdateInterval: 50 * time.Millisecond, LoadBalancingStrategy: azeventhubs.ProcessorStrategyGreedy,
			StartPositions: azeventhubs.StartPositions{Default: azeventhubs.StartPosition{Earliest: to.Ptr(true)}}})
		if err != nil {
			b.Fatal(err)
		}
		r, err := runner.New(runner.Config{Function: "w1-" + group, Store: store,
			New: func(string) (runner.Processor, error) { return bench.Build(bench.W1) }})
		if err != nil {
			b.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan int64, parts*n)
		c, err := azure.NewConsumer(proc, azure.ConsumerConfig{Runner: r, BatchSize: 500, MaxWait: 100 * time.Millisecond, TickEvery: -1,
			OnBatch: func(_ string, res core.Result) { done <- int64(res.Stats.Events) }})
		if err != nil {
			b.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- c.Run(rctx) }()
		for got := int64(0); got < n; {
			select {
			case k := <-done:
				got += k
			case <-time.After(60 * time.Second):
				b.Fatalf("consumer stalled at %d of %d events", got, n)
			}
		}
		cancel()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		cons.Close(ctx)
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "events/s")
}
