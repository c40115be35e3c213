package gcp_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	raw "cloud.google.com/go/pubsub/v2"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"

	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/examples/bench"
)

// benchFunction is W1 with state on fake-gcs-server and outputs on a pstest topic.
func benchFunction(b *testing.B, partition gcp.Partitioner) (*gcp.Function, *runner.Runner, *psEnv) {
	ps := newPubSub(b)
	store := gcsStore(b)
	out := ps.sink(b, "decisions", false)
	dead := ps.sink(b, "dead", false)
	newProc := func(string) (runner.Processor, error) { return bench.Build(bench.W1) }
	r, err := runner.New(runner.Config{Function: "w1", Store: store, New: newProc, Sink: out, DeadLetter: dead})
	if err != nil {
		b.Fatal(err)
	}
	f, err := gcp.New(gcp.Config{Runner: r, DeadLetter: dead, Partition: partition})
	if err != nil {
		b.Fatal(err)
	}
	return f, r, ps
}

// BenchmarkPushHandle is the per-message cost of a push invocation without HTTP: one state load
// and one conditional commit on fake-gcs-server per message, over 100 ordering keys.
func BenchmarkPushHandle(b *testing.B) {
	f, _, _ := benchFunction(b, nil)
	evs := bench.Generate(1, b.N, 100)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i, e := range evs {
		m := gcp.Message{ID: strconv.Itoa(i), Data: e.AppendJSON(nil), OrderingKey: e.Key, PublishTime: time.UnixMilli(e.TS)}
		if err := f.Handle(ctx, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushHTTP is the same through the real functions-framework server over HTTP (binary
// CloudEvents).
func BenchmarkPushHTTP(b *testing.B) {
	f, _, _ := benchFunction(b, nil)
	name := fmt.Sprintf("Bench%d", time.Now().UnixNano())
	gcp.Register(name, func(context.Context) (*gcp.Function, error) { return f, nil })
	url := serve(b, name)
	evs := bench.Generate(1, b.N, 100)
	b.ResetTimer()
	for i, e := range evs {
		ev := sensorEvent{Key: e.Key, TS: e.TS, Value: e.Value, ID: strconv.Itoa(i)}
		if code := deliver(b, url, ev, binaryMode); code != 200 {
			b.Fatalf("status %d", code)
		}
	}
}

// BenchmarkPull is pull-mode throughput through pstest: 20,000 standard events (1,000 keys) published without
// ordering keys, partitioned by a 4-valued attribute, pulled in rounds of up to 1,000, state on
// fake-gcs-server. It reports events/s.
func BenchmarkPull(b *testing.B) {
	n := pullEvents
	f, _, ps := benchFunction(b, gcp.FirstOf(gcp.ByAttribute("shard")))
	ps.topic(b, "telemetry")
	evs := bench.Generate(3, n, 1000)
	var total time.Duration
	for it := range b.N {
		b.StopTimer()
		p := ps.client.Publisher("telemetry")
		var rs []*raw.PublishResult
		for i, e := range evs {
			rs = append(rs, p.Publish(context.Background(), &raw.Message{Data: e.AppendJSON(nil),
				Attributes: map[string]string{"shard": strconv.Itoa(i % 4)}}))
		}
		for _, r := range rs {
			if _, err := r.Get(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		p.Stop()
		b.StartTimer()
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan gcp.PullStats)
		go func() {
			sub := ps.openSub(b, "telemetry-sub")
			// pstest hands each streaming pull at most one message per 10 ms tick; more streams
			// keep the emulator from being the bottleneck.
			var rs *raw.Subscriber
			if !sub.As(&rs) {
				b.Error("not a gcppubsubv2 subscription")
			}
			rs.ReceiveSettings.NumGoroutines = 64
			st, err := f.Pull(ctx, sub, gcp.PullOptions{MaxBatch: 1000, MaxWait: 50 * time.Millisecond})
			if err != nil {
				b.Error(err)
			}
			// Stop its background receive, or it would hold the next iteration's messages.
			sub.Shutdown(context.Background())
			done <- st
		}()
		for k := acked(ps); k < n*(it+1); k = acked(ps) {
			if debugPull {
				b.Logf("%s: %d acked", time.Since(start), k)
			}
			time.Sleep(10 * time.Millisecond)
		}
		total += time.Since(start)
		cancel()
		st := <-done
		if it == 0 {
			b.Logf("pull stats: %+v", st)
		}
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
}

var debugPull = false

func acked(ps *psEnv) int {
	k := 0
	for _, m := range ps.srv.Messages() {
		if m.Acks > 0 {
			k++
		}
	}
	return k
}

// pullEvents is BenchmarkPull's events per iteration.
var pullEvents = 20000

// BenchmarkPullMem is BenchmarkPull with an in-memory subscription (mempubsub) in place of
// pstest, so that it measures the adapter, the Runner and the state commits on fake-gcs-server.
func BenchmarkPullMem(b *testing.B) {
	n := pullEvents
	f, _, _ := benchFunction(b, gcp.FirstOf(gcp.ByAttribute("shard")))
	evs := bench.Generate(3, n, 1000)
	var total time.Duration
	for range b.N {
		b.StopTimer()
		top := mempubsub.NewTopic()
		sub := mempubsub.NewSubscription(top, time.Minute)
		for i, e := range evs {
			if err := top.Send(context.Background(), &pubsub.Message{Body: e.AppendJSON(nil), Metadata: map[string]string{"shard": strconv.Itoa(i % 4)}}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan gcp.PullStats)
		finished := make(chan time.Duration, 1)
		go func() {
			st, err := f.Pull(ctx, sub, gcp.PullOptions{MaxBatch: 1000, MaxWait: 50 * time.Millisecond, Progress: func(st gcp.PullStats) {
				if st.Acked == n {
					finished <- time.Since(start)
				}
			}})
			if err != nil {
				b.Error(err)
			}
			done <- st
		}()
		total += <-finished
		cancel()
		<-done
		top.Shutdown(context.Background())
		sub.Shutdown(context.Background())
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
}
