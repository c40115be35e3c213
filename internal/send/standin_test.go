//go:build unix

package send

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"gocloud.dev/pubsub/gcppubsubv2"

	"github.com/eddyhq/eddy/internal/ehfake"
	"github.com/eddyhq/eddy/internal/standin"
)

// got is one record read back: its data and key.
type got struct{ data, key string }

// checkReadBack: every message came back exactly once with its key, and the messages of each key
// in input order.
func checkReadBack(t *testing.T, msgs []Message, back []got) {
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
		have[g.key] = append(have[g.key], g.data)
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
	ep := standin.Kinesalite(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", ep)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	stream := "telemetry"
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	for {
		d, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: &stream})
		if err != nil {
			t.Fatal(err)
		}
		if d.StreamDescription.StreamStatus == types.StreamStatusActive {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		t.Fatal(err)
	}
	var back []got
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				back = append(back, got{string(r.Data), *r.PartitionKey})
			}
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	checkReadBack(t, msgs, back)

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
	srv := pstest.NewServer()
	defer srv.Close()
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := gcppubsubv2.Client(ctx, "my-project", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, name := range []string{"telemetry", "plain"} {
		if _, err := admin.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/my-project/topics/" + name}); err != nil {
			t.Fatal(err)
		}
	}
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
	var back []got
	for _, m := range srv.Messages() {
		if strings.HasSuffix(m.Topic, "/telemetry") {
			back = append(back, got{string(m.Data), m.OrderingKey})
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
	cons, err := azeventhubs.NewConsumerClientFromConnectionString(conn, "telemetry", azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close(ctx)
	var back []got
	partitionOf := map[string]string{}
	for _, part := range []string{"0", "1", "2", "3"} {
		pc, err := cons.NewPartitionClient(part, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			evs, err := pc.ReceiveEvents(rctx, 500, nil)
			rcancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			for _, e := range evs {
				key := ""
				if e.PartitionKey != nil {
					key = *e.PartitionKey
				}
				if p, ok := partitionOf[key]; ok && p != part {
					t.Fatalf("key %q on partitions %s and %s", key, p, part)
				}
				partitionOf[key] = part
				back = append(back, got{string(e.Body), key})
			}
			if len(evs) == 0 {
				break
			}
		}
		pc.Close(ctx)
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
