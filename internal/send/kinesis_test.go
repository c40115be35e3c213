package send

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// flakyKinesis rejects chosen records (by data) a number of times each, and records every call.
type flakyKinesis struct {
	mu      sync.Mutex
	rejects map[string]int // data → how many more times to reject it
	calls   [][]string     // the data of each call
	stored  []string
	keys    map[string]string // data → partition key
	callErr error
}

func (f *flakyKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.callErr != nil {
		return nil, f.callErr
	}
	var call []string
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0)}
	for _, r := range in.Records {
		d := string(r.Data)
		call = append(call, d)
		if f.rejects[d] > 0 {
			f.rejects[d]--
			*out.FailedRecordCount++
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("Rate exceeded for shard shardId-000000000001")})
			continue
		}
		f.stored = append(f.stored, d)
		f.keys[d] = *r.PartitionKey
		out.Records = append(out.Records, types.PutRecordsResultEntry{SequenceNumber: aws.String("1"), ShardId: aws.String("shardId-000000000000")})
	}
	f.calls = append(f.calls, call)
	return out, nil
}

func messages(n int, keys int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{ID: fmt.Sprintf("events.ndjson:%d", i+1), Key: fmt.Sprintf("sensor-%d", i%keys),
			Data: fmt.Appendf(nil, `{"sensor":"sensor-%d","n":%d}`, i%keys, i)}
	}
	return msgs
}

// PutRecords rejects some records: exactly those are sent again (and nothing else), every record
// ends up stored once with its key, and the stats count the retries.
func TestKinesisRetriesOnlyRejectedRecords(t *testing.T) {
	msgs := messages(1203, 7)
	f := &flakyKinesis{rejects: map[string]int{}, keys: map[string]string{}}
	// Records 10 and 700 are rejected twice, 1202 once.
	f.rejects[string(msgs[10].Data)] = 2
	f.rejects[string(msgs[700].Data)] = 2
	f.rejects[string(msgs[1202].Data)] = 1
	k := NewKinesis(f, "in", Options{Backoff: time.Millisecond})
	st, err := k.Publish(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{Sent: 1203, Retried: 5}) {
		t.Fatalf("stats %+v, want 1203 sent, 5 retried", st)
	}
	// Chunks of 500, 500, 203; each followed by resends of only the rejected records.
	var sizes []int
	for _, c := range f.calls {
		sizes = append(sizes, len(c))
	}
	if fmt.Sprint(sizes) != "[500 1 1 500 1 1 203 1]" {
		t.Fatalf("call sizes %v", sizes)
	}
	if f.calls[1][0] != string(msgs[10].Data) || f.calls[4][0] != string(msgs[700].Data) || f.calls[7][0] != string(msgs[1202].Data) {
		t.Fatalf("resent %q %q %q", f.calls[1], f.calls[4], f.calls[7])
	}
	if len(f.stored) != len(msgs) {
		t.Fatalf("%d records stored, want %d", len(f.stored), len(msgs))
	}
	for _, m := range msgs {
		if f.keys[string(m.Data)] != m.Key {
			t.Fatalf("%s stored with key %q, want %q", m.ID, f.keys[string(m.Data)], m.Key)
		}
	}
}

// A record still rejected after MaxAttempts is reported by its line, the others are sent.
func TestKinesisGivesUp(t *testing.T) {
	msgs := messages(20, 3)
	f := &flakyKinesis{rejects: map[string]int{string(msgs[4].Data): 100}, keys: map[string]string{}}
	k := NewKinesis(f, "in", Options{Backoff: time.Millisecond, MaxAttempts: 3})
	st, err := k.Publish(context.Background(), msgs)
	if err == nil || !strings.Contains(err.Error(), "events.ndjson:5") || !strings.Contains(err.Error(), "ProvisionedThroughputExceededException") ||
		!strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("error %v", err)
	}
	if st != (Stats{Sent: 19, Failed: 1, Retried: 2}) {
		t.Fatalf("stats %+v", st)
	}
	// A failing call (no such stream) fails every chunk at once, without retrying per record.
	f = &flakyKinesis{callErr: errors.New("ResourceNotFoundException: Stream in not found"), keys: map[string]string{}}
	st, err = NewKinesis(f, "in", Options{}).Publish(context.Background(), messages(1200, 3))
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") || st.Failed != 1200 || st.Sent != 0 {
		t.Fatalf("stats %+v, error %v", st, err)
	}
}

// Chunks stay under 5 MiB, records over 1 MiB and keys over 256 characters are refused by line,
// and a message without a key gets a stable hash of its data.
func TestKinesisLimits(t *testing.T) {
	big := make([]Message, 12)
	for i := range big {
		big[i] = Message{ID: fmt.Sprint("in:", i+1), Key: "k", Data: []byte(strings.Repeat("x", 900<<10))}
	}
	f := &flakyKinesis{rejects: map[string]int{}, keys: map[string]string{}}
	if _, err := NewKinesis(f, "s", Options{}).Publish(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.calls {
		size := 0
		for _, d := range c {
			size += len(d) + 1
		}
		if size > KinesisMaxBytes || len(c) == 0 {
			t.Fatalf("a call of %d bytes", size)
		}
	}
	if len(f.calls) != 3 {
		t.Fatalf("%d calls for 12 records of 900 KiB, want 3 (5 a call)", len(f.calls))
	}
	for _, c := range []struct {
		m    Message
		want string
	}{
		{Message{ID: "in:3", Key: "k", Data: make([]byte, 1<<20)}, "in:3: 1048577 bytes"},
		{Message{ID: "in:4", Key: strings.Repeat("é", 257), Data: []byte("{}")}, "in:4: the key"},
	} {
		if _, err := NewKinesis(f, "s", Options{}).Publish(context.Background(), []Message{c.m}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	f = &flakyKinesis{rejects: map[string]int{}, keys: map[string]string{}}
	if _, err := NewKinesis(f, "s", Options{}).Publish(context.Background(), []Message{{ID: "a", Data: []byte(`{"a":1}`)}, {ID: "b", Data: []byte(`{"a":2}`)}}); err != nil {
		t.Fatal(err)
	}
	if k := f.keys[`{"a":1}`]; k != HashKey([]byte(`{"a":1}`)) || len(k) != 16 || k == f.keys[`{"a":2}`] {
		t.Fatalf("hash keys %v", f.keys)
	}
}

func BenchmarkKinesisPublish(b *testing.B) {
	msgs := messages(5000, 100)
	api := discardKinesis{}
	k := NewKinesis(api, "s", Options{})
	b.ReportAllocs()
	b.SetBytes(int64(len(msgs[0].Data)) * int64(len(msgs)))
	for b.Loop() {
		if _, err := k.Publish(context.Background(), msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "events/s")
}

type discardKinesis struct{}

func (discardKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0), Records: make([]types.PutRecordsResultEntry, len(in.Records))}, nil
}
