package kafkasink_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/adapters/kafka/kafkasink"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
)

var topics atomic.Int64

// The driver passes the sink conformance suite on kfake, an in-process Kafka speaking the real
// protocol on 127.0.0.1: each destination is a fresh topic, opened by URL through the default mux,
// and read back by a consumer from its start.
func TestConformance(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	sinktest.Run(t, sinktest.Harness{
		Features: sinktest.Features{Metadata: true, Key: true},
		Open: func(ctx context.Context, t *testing.T) *sinktest.Destination {
			topic := fmt.Sprintf("out-%d", topics.Add(1))
			s, err := sink.Open(ctx, fmt.Sprintf("kafka://%s/%s?max_record_bytes=65536", addrs[0], topic))
			if err != nil {
				t.Fatal(err)
			}
			var col sinktest.Collector
			cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation())
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				for rctx.Err() == nil {
					fs := cl.PollFetches(rctx)
					fs.EachRecord(func(r *kgo.Record) {
						md := map[string]string{}
						for _, h := range r.Headers {
							md[h.Key] = string(h.Value)
						}
						col.Add(sinktest.Received{Body: r.Value, Key: string(r.Key), Metadata: md})
					})
				}
			}()
			t.Cleanup(func() {
				cancel()
				<-done
				cl.Close()
			})
			return &sinktest.Destination{Sink: s.Driver(), Read: col.Read}
		},
	})
}

func TestOpenURLErrors(t *testing.T) {
	for _, u := range []string{"kafka:///topic", "kafka://127.0.0.1:9092/", "kafka://127.0.0.1:9092/a/b",
		"kafka://127.0.0.1:9092/t?max_record_bytes=12", "kafka://127.0.0.1:9092/t?timeout=soon", "kafka://127.0.0.1:9092/t?acks=0"} {
		if _, err := sink.Open(context.Background(), u); err == nil {
			t.Errorf("%s: opened, want an error", u)
		} else {
			t.Log(err)
		}
	}
	s, err := sink.Open(context.Background(), "kafka://127.0.0.1:1,127.0.0.1:2/t")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Driver().Limits().MaxMessageBytes; got != kafkasink.DefaultMaxRecordBytes-kafkasink.RecordOverhead {
		t.Errorf("default limit %d", got)
	}
	s.Close(context.Background())
}
