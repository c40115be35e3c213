//go:build unix

package send

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/internal/ehfake"
	"github.com/eddyhq/eddy/internal/send/sendtest"
)

// checkReadBack: every message came back exactly once with its key, and the messages of each key
// in input order.
func checkReadBack(t *testing.T, msgs []Message, back []sendtest.Record) {
	t.Helper()
	if len(back) != len(msgs) {
		t.Fatalf("read back %d records, sent %d", len(back), len(msgs))
	}
	want := map[string][]string{}
	for _, m := range msgs {
		want[m.Key] = append(want[m.Key], string(m.Data))
	}
	have := map[string][]string{}
	for _, g := range back {
		have[g.Key] = append(have[g.Key], g.Data)
	}
	for k, w := range want {
		if !slices.Equal(have[k], w) {
			t.Fatalf("key %q: read back\n%q\nwant\n%q", k, have[k], w)
		}
	}
}

// The Kinesis publisher, opened from its URL (endpoint from AWS_ENDPOINT_URL_KINESIS), writes
// 1,100 events to a 3-shard kinesalite stream: GetRecords returns each once, byte for byte, with
// its event key as partition key and each key's events in order (one key, one shard).
func TestKinesisAgainstKinesalite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream := "telemetry"
	ep, kc := sendtest.Kinesalite(ctx, t, stream, 3)
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", ep)
	p, err := Open(ctx, "kinesis://"+stream, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	msgs := messages(1100, 13)
	st, err := p.Publish(ctx, msgs)
	if err != nil || st != (Stats{Sent: 1100}) {
		t.Fatalf("stats %+v, error %v", st, err)
	}
	checkReadBack(t, msgs, sendtest.ReadKinesis(ctx, t, kc, stream))

	// A stream that does not exist: every record fails, and the error says why.
	p2, err := Open(ctx, "kinesis://no-such-stream?endpoint="+ep, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err = p2.Publish(ctx, msgs[:10])
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || st.Failed != 10 || !strings.Contains(err.Error(), "events.ndjson:1") {
		t.Fatalf("stats %+v, error %v", st, err)
	}
}

// The Pub/Sub publisher, opened from its URL with PUBSUB_EMULATOR_HOST pointing at pstest,
// publishes each event once, byte for byte, with its key as ordering key and each key's events in
// order; without ?ordering=true the messages carry no ordering key.
func TestPubSubAgainstPstest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := sendtest.PubSub(ctx, t, "my-project", "telemetry", "plain")
	msgs := messages(700, 9)
	p, err := Open(ctx, "gcppubsub://projects/my-project/topics/telemetry?ordering=true", Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Publish(ctx, msgs)
	if err != nil || st != (Stats{Sent: 700}) {
		t.Fatalf("stats %+v, error %v", st, err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var back []sendtest.Record
	for _, m := range srv.Messages() {
		if strings.HasSuffix(m.Topic, "/telemetry") {
			back = append(back, sendtest.Record{Data: string(m.Data), Key: m.OrderingKey})
		}
	}
	checkReadBack(t, msgs, back)

	p, err = Open(ctx, "gcppubsub://projects/my-project/topics/plain", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if st, err := p.Publish(ctx, msgs[:50]); err != nil || st.Sent != 50 {
		t.Fatalf("stats %+v, error %v", st, err)
	}
	n := 0
	for _, m := range srv.Messages() {
		if strings.HasSuffix(m.Topic, "/plain") {
			n++
			if m.OrderingKey != "" {
				t.Fatalf("unordered publish set ordering key %q", m.OrderingKey)
			}
		}
	}
	if n != 50 {
		t.Fatalf("%d messages on the plain topic", n)
	}
	// A topic that does not exist: every message fails, named by its line.
	p3, err := Open(ctx, "gcppubsub://projects/my-project/topics/missing", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p3.Close(ctx)
	if st, err := p3.Publish(ctx, msgs[:3]); err == nil || st.Failed != 3 || !strings.Contains(err.Error(), "events.ndjson:") {
		t.Fatalf("stats %+v, error %v", st, err)
	}
}

// The Event Hubs publisher, opened from its URL with EVENTHUB_CONNECTION_STRING for the AMQP
// fake, sends each event once with its key as partition key: every key's events are on one
// partition, in order, byte for byte.
func TestEventHubsAgainstFake(t *testing.T) {
	conn := ehfake.Start(t, "telemetry:4")
	t.Setenv(EnvEventHubsConnection, conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint, _ := connFields(conn)
	p, err := Open(ctx, "eventhubs://"+endpoint+"/telemetry", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	msgs := messages(600, 11)
	st, err := p.Publish(ctx, msgs)
	if err != nil || st != (Stats{Sent: 600}) {
		t.Fatalf("stats %+v, error %v", st, err)
	}
	back := sendtest.ReadEventHub(ctx, t, conn, "telemetry", "0", "1", "2", "3")
	partitionOf := map[string]string{}
	for _, r := range back {
		if p, ok := partitionOf[r.Key]; ok && p != r.Partition {
			t.Fatalf("key %q on partitions %s and %s", r.Key, p, r.Partition)
		}
		partitionOf[r.Key] = r.Partition
	}
	checkReadBack(t, msgs, back)
	if len(partitionOf) != 11 {
		t.Fatalf("keys %v", partitionOf)
	}

	// A connection string for another namespace is refused before anything is sent.
	if _, err := Open(ctx, "eventhubs://other/telemetry", Options{}); err == nil || !strings.Contains(err.Error(), EnvEventHubsConnection) {
		t.Fatalf("error %v", err)
	}
	// An event larger than a batch is refused by its line.
	_, err = p.Publish(ctx, []Message{{ID: "big.ndjson:7", Key: "k", Data: make([]byte, 2<<20)}})
	if err == nil || !strings.Contains(err.Error(), "big.ndjson:7") {
		t.Fatalf("error %v", err)
	}
}
