//go:build unix

package kinesissink_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/adapters/aws/kinesissink"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/sink/sinktest"
	"github.com/eddyhq/eddy/internal/standin"
)

func client(ep string) *kinesis.Client {
	return kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
}

var streams atomic.Int64

// newStream makes a stream of two shards and reads every record that lands on it into a
// collector, shard by shard in sequence order, until the test ends.
func newStream(t *testing.T, kc *kinesis.Client) (string, *sinktest.Collector) {
	ctx := context.Background()
	name := fmt.Sprintf("out-%d", streams.Add(1))
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	if err := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 20 * time.Millisecond }).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &name}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &name})
	if err != nil {
		t.Fatal(err)
	}
	c := &sinktest.Collector{}
	// Readers stop between calls, never in the middle of one: kinesalite can die when a client
	// drops a connection it is answering on.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &name, ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			iter := it.ShardIterator
			for iter != nil {
				out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
				if err != nil {
					t.Errorf("GetRecords: %v", err)
					return
				}
				for _, r := range out.Records {
					c.Add(sinktest.Received{Body: r.Data, Key: aws.ToString(r.PartitionKey)})
				}
				iter = out.NextShardIterator
				wait := time.Duration(0)
				if len(out.Records) == 0 {
					wait = 20 * time.Millisecond
				}
				select {
				case <-stop:
					return
				case <-time.After(wait):
				}
			}
		})
	}
	return name, c
}

// rejecting makes kinesalite's answers reject the records of some partition keys, as
// PutRecords does when it throttles: kinesalite cannot be made to.
type rejecting struct {
	kinesissink.API
	mu   sync.Mutex
	keys []string
}

func (r *rejecting) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	r.mu.Lock()
	keys := r.keys
	r.mu.Unlock()
	var pass []types.PutRecordsRequestEntry
	for _, rec := range in.Records {
		if !slices.Contains(keys, aws.ToString(rec.PartitionKey)) {
			pass = append(pass, rec)
		}
	}
	if len(keys) == 0 {
		return r.API.PutRecords(ctx, in, opts...)
	}
	cp := *in
	cp.Records = pass
	out := &kinesis.PutRecordsOutput{}
	var got []types.PutRecordsResultEntry
	if len(pass) > 0 {
		o, err := r.API.PutRecords(ctx, &cp, opts...)
		if err != nil {
			return nil, err
		}
		got = o.Records
	}
	for _, rec := range in.Records {
		if slices.Contains(keys, aws.ToString(rec.PartitionKey)) {
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("Rate exceeded for shard")})
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
		} else {
			out.Records, got = append(out.Records, got[0]), got[1:]
		}
	}
	return out, nil
}

func TestConformance(t *testing.T) {
	kc := client(standin.Kinesalite(t))
	sinktest.Run(t, sinktest.Harness{
		Features: sinktest.Features{Key: true},
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			name, c := newStream(t, kc)
			api := &rejecting{API: kc}
			return &sinktest.Destination{Sink: kinesissink.New(api, name), Read: c.Read, Reject: func(keys ...string) {
				api.mu.Lock()
				api.keys = keys
				api.mu.Unlock()
			}}
		},
	})
}

// Opened by URL as a deployed function does; a message without a key gets a hash of its id as
// partition key, so equal outputs land on one shard and different ones spread.
func TestOpenURL(t *testing.T) {
	ep := standin.Kinesalite(t)
	kc := client(ep)
	name, c := newStream(t, kc)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	ctx := context.Background()
	s, err := sink.Open(ctx, "kinesis://"+name+"?region=us-east-1&endpoint="+ep)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &core.WindowResult{Function: "f", Start: t0, End: t0.Add(time.Minute)}
	if err := s.Emit(ctx, []core.Output{w}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Read(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := sink.Message(w, nil)
	if got[0].Key != kinesissink.PartitionKey(m) || got[0].Key == "" || string(got[0].Body) != string(m.Body) {
		t.Fatalf("got key %q body %s", got[0].Key, got[0].Body)
	}
	for _, u := range []string{"kinesis://", "kinesis://s/x", "kinesis://s?shard=1", "kinesis://s?endpoint=nope"} {
		if _, err := sink.Open(ctx, u); err == nil {
			t.Errorf("%s opened", u)
		}
	}
}

// A stream that does not exist fails the send with the service's error, after the retries.
func TestMissingStream(t *testing.T) {
	kc := client(standin.Kinesalite(t))
	err := sink.New(kinesissink.New(kc, "missing"), &sink.Options{MaxAttempts: 2, Backoff: time.Millisecond}).
		Send(context.Background(), []*driver.Message{{ID: "x", Key: "k", Body: []byte(`{}`)}})
	if err == nil {
		t.Fatal("sent to a missing stream")
	}
}

func TestPartitionKey(t *testing.T) {
	long := strings.Repeat("ü", 257)
	for _, c := range []struct {
		m    driver.Message
		want func(string) bool
	}{
		{driver.Message{ID: "a", Key: "k"}, func(k string) bool { return k == "k" }},
		{driver.Message{ID: "a"}, func(k string) bool { return len(k) == 32 }},
		{driver.Message{ID: "a", Key: strings.Repeat("ü", 256)}, func(k string) bool { return utf8.RuneCountInString(k) == 256 }},
		{driver.Message{ID: "a", Key: long}, func(k string) bool { return len(k) == 32 && k != long }},
	} {
		if k := kinesissink.PartitionKey(&c.m); !c.want(k) {
			t.Errorf("%+v: partition key %q", c.m, k)
		}
	}
	if kinesissink.PartitionKey(&driver.Message{ID: "a"}) == kinesissink.PartitionKey(&driver.Message{ID: "b"}) {
		t.Error("keyless messages of different ids share a partition key")
	}
}
