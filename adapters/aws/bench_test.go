package aws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/adapters/aws/internal/testfn/fn"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/examples/bench"
)

// tenK is a Kinesis batch of Lambda's largest size, 10,000 records, of the standard workload.
func tenK(b *testing.B) events.KinesisEvent {
	evs := bench.Generate(1, 10000, 1000)
	var ev events.KinesisEvent
	for i, e := range evs {
		var r events.KinesisEventRecord
		r.Kinesis.SequenceNumber = fmt.Sprintf("4959033827149025660855969253836157109592157598913%07d", i+1)
		r.EventID = "shardId-000000000000:" + r.Kinesis.SequenceNumber
		r.Kinesis.PartitionKey = e.Key
		r.Kinesis.Data = e.AppendJSON(nil)
		ev.Records = append(ev.Records, r)
	}
	return ev
}

// BenchmarkHandler10k is the handler's time for a 10,000-record batch, with the state in memory
// and outputs captured (no network): conversion, the runner, the pipeline, the response. Each
// iteration is a fresh shard, so every record is applied.
func BenchmarkHandler10k(b *testing.B) {
	ev := tenK(b)
	h, _ := newHandler(b, false)
	b.ResetTimer()
	for i := range b.N {
		shard := fmt.Sprintf("shardId-%012d", i)
		for j := range ev.Records {
			ev.Records[j].EventID = shard + ":" + ev.Records[j].Kinesis.SequenceNumber
		}
		if _, err := h.HandleKinesis(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/record")
}

// ticking hides a processor's TickFree, as a function with an idle timeout, rule expiry or
// patterns has none: the Runner then commits the batch's outputs in the outbox before emitting them.
type ticking struct{ runner.Processor }

// BenchmarkHandler10kOutbox is BenchmarkHandler10k for a function whose ticks can change its state,
// so every commit carries the batch's outputs (the outbox). It reports the bytes the commit stores
// and the outbox's share of them.
func BenchmarkHandler10kOutbox(b *testing.B) {
	ev := tenK(b)
	newProc, err := fn.New()
	if err != nil {
		b.Fatal(err)
	}
	store := memstate.New(nil)
	c := &capture{}
	r, err := runner.New(runner.Config{Function: fn.Name, Store: store, Sink: c, DeadLetter: c,
		New: func(p string) (runner.Processor, error) {
			proc, err := newProc(p)
			return ticking{proc}, err
		}})
	if err != nil {
		b.Fatal(err)
	}
	h, err := aws.NewHandler(r, &aws.Options{Now: func() time.Time { return fixedNow }})
	if err != nil {
		b.Fatal(err)
	}
	var shard string
	b.ResetTimer()
	for i := range b.N {
		shard = fmt.Sprintf("shardId-%012d", i)
		for j := range ev.Records {
			ev.Records[j].EventID = shard + ":" + ev.Records[j].Kinesis.SequenceNumber
		}
		if _, err := h.HandleKinesis(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/record")
	e, err := store.Get(context.Background(), r.Key(shard))
	if err != nil {
		b.Fatal(err)
	}
	var env runner.Envelope
	if err := env.Unmarshal(e.Value); err != nil {
		b.Fatal(err)
	}
	if len(env.Outbox) == 0 {
		b.Fatal("the commit stored no outbox")
	}
	b.ReportMetric(float64(len(e.Value)), "commit-bytes")
	b.ReportMetric(float64(len(env.Outbox)), "outbox-bytes")
}

// BenchmarkDecode10k is the part Lambda's runtime adds before the handler: decoding the 10,000
// record JSON payload (base64 data included) and converting it to a core batch.
func BenchmarkDecode10k(b *testing.B) {
	payload, err := json.Marshal(tenK(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		var ev events.KinesisEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			b.Fatal(err)
		}
		if _, err := aws.Batch(&ev, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerWindow10k is BenchmarkHandler10k with the state in Lambda's tumbling window: a
// 10,000-record invocation from empty state (the state encoded into the response), then the
// window's final invocation (the state decoded, every window flushed). It reports the state the
// response carries.
func BenchmarkHandlerWindow10k(b *testing.B) {
	ev := tenK(b)
	h, _ := newHandler(b, true)
	var stateBytes int
	b.ResetTimer()
	for i := range b.N {
		shard := fmt.Sprintf("shardId-%012d", i)
		for j := range ev.Records {
			ev.Records[j].EventID = shard + ":" + ev.Records[j].Kinesis.SequenceNumber
		}
		in := events.KinesisTimeWindowEvent{KinesisEvent: ev}
		in.ShardID, in.State = shard, map[string]string{}
		in.Window.Start.Time = fixedNow.Truncate(time.Minute)
		in.Window.End.Time = in.Window.Start.Add(time.Minute)
		resp, err := h.HandleTimeWindow(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		stateBytes = 0
		for k, v := range resp.State {
			stateBytes += len(k) + len(v)
		}
		in.Records, in.State, in.IsFinalInvokeForWindow = []events.KinesisEventRecord{}, resp.State, true
		if _, err := h.HandleTimeWindow(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/record")
	b.ReportMetric(float64(stateBytes), "state-bytes")
}
