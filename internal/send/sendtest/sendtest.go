//go:build unix

// Package sendtest sets up the stand-ins that the tests of `eddy send` and of package send publish
// to — a kinesalite stream, pstest topics, an Event Hubs fake — and reads back what reached them,
// so that those tests state only what they send and what must arrive.
package sendtest

import (
	"context"
	"errors"
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
	"gocloud.dev/gcp"
	"gocloud.dev/pubsub/gcppubsubv2"

	"github.com/eddyhq/eddy/internal/standin"
)

// Region is the AWS region the Kinesis stand-in is set up with (kinesalite accepts any).
const Region = "us-east-1"

// Record is one record read back from a stand-in: its payload, its key (partition key or ordering
// key, "" for none) and the shard or partition it was read from.
type Record struct {
	Data, Key, Partition string
}

// Kinesalite starts kinesalite, points the AWS SDK's environment (credentials, region) at it for
// the rest of the test, and creates stream with the given number of shards, waiting until it is
// active. It returns kinesalite's endpoint and a client for reading back.
func Kinesalite(ctx context.Context, t testing.TB, stream string, shards int32) (endpoint string, kc *kinesis.Client) {
	t.Helper()
	endpoint = standin.Kinesalite(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", Region)
	kc = kinesis.New(kinesis.Options{Region: Region, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	for {
		d, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: &stream})
		if err != nil {
			t.Fatal(err)
		}
		if d.StreamDescription.StreamStatus == types.StreamStatusActive {
			return endpoint, kc
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stream %s not active: %v", stream, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ReadKinesis reads every record of stream from the trim horizon, shard by shard, each shard's in
// stream order.
func ReadKinesis(ctx context.Context, t testing.TB, kc *kinesis.Client, stream string) []Record {
	t.Helper()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		t.Fatal(err)
	}
	var back []Record
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				back = append(back, Record{string(r.Data), aws.ToString(r.PartitionKey), *sh.ShardId})
			}
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return back
}

// PubSub starts an in-process Pub/Sub server (pstest), points PUBSUB_EMULATOR_HOST at it for the
// rest of the test and creates the topics (names under projects/project/topics/). The server is
// closed when the test ends; its Messages are what was published.
func PubSub(ctx context.Context, t testing.TB, project string, topics ...string) *pstest.Server {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	admin, err := gcppubsubv2.Client(ctx, gcp.ProjectID(project), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, name := range topics {
		if _, err := admin.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + name}); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// ReadEventHub reads every event of hub on the given partitions from the earliest, through the
// connection string conn, partition by partition, each partition's in order. A partition is read
// until a second passes without an event.
func ReadEventHub(ctx context.Context, t testing.TB, conn, hub string, partitions ...string) []Record {
	t.Helper()
	cons, err := azeventhubs.NewConsumerClientFromConnectionString(conn, hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close(ctx)
	var back []Record
	for _, part := range partitions {
		pc, err := cons.NewPartitionClient(part, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			evs, err := pc.ReceiveEvents(rctx, 500, nil)
			rcancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				pc.Close(ctx)
				t.Fatal(err)
			}
			for _, e := range evs {
				back = append(back, Record{string(e.Body), aws.ToString(e.PartitionKey), part})
			}
			if len(evs) == 0 {
				break
			}
		}
		pc.Close(ctx)
	}
	return back
}
