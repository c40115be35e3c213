package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/spec"
)

// testSpec counts readings per device in 10 s tumbling windows and alarms on hot averages. Its
// events are dated 2026 while the tests' clocks start at 1970 (so runs are deterministic):
// max_future is lifted so that they are not taken for events from the future.
const testSpec = `
name: kafka-test
input: {format: json, key: device, time: ts, time_format: unix_ms, out_of_order: 2s, max_future: 36500d}
window: {tumbling: 10s, idle_timeout: 1m}
aggregates:
  - {name: readings, count: true}
  - {name: avg_temp, avg: temp}
rules:
  - {name: hot, when: avg_temp > 80.0 && readings >= 2, severity: critical}
`

func compile(t testing.TB) *spec.Compiled {
	t.Helper()
	f, err := spec.Parse("eddy.yaml", []byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newProc(c *spec.Compiled) func(string) (runner.Processor, error) {
	return func(string) (runner.Processor, error) { return c.NewPipeline() }
}

// cluster starts an in-process Kafka on 127.0.0.1 with the topics, each of n partitions.
func cluster(t testing.TB, n int, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(n), topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// reading is the i-th event of the test stream: 48 devices (so that every one of 12 partitions
// gets some), event time 40 ms apart, hot in alternate two-minute spells.
func reading(i int) (key string, value []byte) {
	dev := fmt.Sprintf("dev-%02d", i%48)
	ts := int64(1767225600000) + int64(i)*40
	temp := 60.0
	if (i/3000)%2 == 0 {
		temp = 90 + float64(i%5)
	}
	return dev, fmt.Appendf(nil, `{"device":%q,"ts":%d,"temp":%g}`, dev, ts, temp)
}

// produce writes events [from, to) to topic, keyed by device (so each device stays on one
// partition), and returns once all are acknowledged.
func produce(t testing.TB, addrs []string, topic string, from, to int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		k, v := reading(i)
		recs = append(recs, &kgo.Record{Key: []byte(k), Value: v, Timestamp: time.UnixMilli(int64(1767225600000) + int64(i)*40)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads every record of topic (n records in all) as the worker converts them, by
// runner partition.
func readAll(t testing.TB, addrs []string, topic string, n int) map[string][]core.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string][]core.Record{}
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s: %v", got, n, topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			p := kafka.Partition(r.Topic, r.Partition)
			out[p] = append(out[p], kafka.Record(r))
			got++
		})
	}
	return out
}

// collector is a runner sink keeping outputs' wire messages.
type collector struct {
	mu    sync.Mutex
	outs  map[string]string // id → body
	count int
	fails []*core.Failure
}

func (c *collector) Emit(_ context.Context, outs []core.Output) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outs == nil {
		c.outs = map[string]string{}
	}
	for _, o := range outs {
		m := sink.Message(o, nil)
		if prev, ok := c.outs[m.ID]; ok && prev != string(m.Body) {
			return fmt.Errorf("output id %s emitted with two contents:\n%s\n%s", m.ID, prev, m.Body)
		}
		c.outs[m.ID] = string(m.Body)
		c.count++
	}
	return nil
}

func (c *collector) EmitFailures(_ context.Context, fs []*core.Failure) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails = append(c.fails, fs...)
	return nil
}

func (c *collector) sorted() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.outs))
	for id, b := range c.outs {
		out = append(out, id+" "+b)
	}
	sort.Strings(out)
	return out
}

// reference runs events [0, n) through one runner per partition as the partitioner placed them,
// and returns the outputs sorted.
func reference(t testing.TB, c *spec.Compiled, byPartition map[string][]core.Record) []string {
	t.Helper()
	col := &collector{}
	for p, recs := range byPartition {
		proc, err := c.NewPipeline()
		if err != nil {
			t.Fatal(err)
		}
		res, err := proc.Process(context.Background(), core.Batch{Partition: p, Records: recs, Now: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if err := col.Emit(context.Background(), res.Outputs); err != nil {
			t.Fatal(err)
		}
	}
	return col.sorted()
}

func diff(a, b []string) string {
	var d []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			d = append(d, "- "+x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			d = append(d, "+ "+x)
		}
	}
	if len(d) > 10 {
		d = append(d[:10], fmt.Sprintf("... %d more", len(d)-10))
	}
	return fmt.Sprint(d)
}
