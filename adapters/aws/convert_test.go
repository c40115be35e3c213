package aws_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/core"
)

func rec(shard, seq string, data []byte) events.KinesisEventRecord {
	var r events.KinesisEventRecord
	r.EventID = shard + ":" + seq
	r.Kinesis.SequenceNumber = seq
	r.Kinesis.PartitionKey = "pk"
	r.Kinesis.Data = data
	r.Kinesis.ApproximateArrivalTimestamp.Time = time.Unix(1764086401, 0)
	return r
}

func TestBatchKPL(t *testing.T) {
	agg := aws.Aggregate([]aws.SubRecord{
		{PartitionKey: "a", Data: []byte("1")},
		{PartitionKey: "b", ExplicitHashKey: "99", Data: []byte("2"), Tags: map[string]string{"t": "v"}},
	})
	broken := append([]byte{}, aws.KPLMagic...)
	broken = append(broken, 0x00) // a bad tag...
	broken = append(broken, md5Of([]byte{0x00})...)
	ev := events.KinesisEvent{Records: []events.KinesisEventRecord{
		rec("shardId-1", "10", []byte("plain")), rec("shardId-1", "11", agg), rec("shardId-1", "12", broken),
	}}
	b, err := aws.Batch(&ev, time.Unix(5, 0))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1764086401, 0)
	want := []core.Record{
		{ID: "10", Offset: "10", Key: "pk", Time: at, Data: []byte("plain")},
		{ID: "11:0", Offset: "11", Key: "a", Time: at, Data: []byte("1")},
		{ID: "11:1", Offset: "11", Key: "b", Time: at, Data: []byte("2"), Attrs: map[string]string{"t": "v", aws.AttrExplicitHashKey: "99"}},
	}
	if b.Partition != "shardId-1" || !b.Now.Equal(time.Unix(5, 0)) || len(b.Records) != 4 {
		t.Fatalf("batch %+v", b)
	}
	if !reflect.DeepEqual(b.Records[:3], want) {
		t.Fatalf("records\n got %+v\nwant %+v", b.Records[:3], want)
	}
	if r := b.Records[3]; r.ID != "12" || !strings.Contains(r.Attrs[aws.AttrKPLError], "tag") {
		t.Fatalf("broken aggregate: %+v", r)
	}
	// A failed user record is reported by its aggregate's sequence number, lowest first, once.
	fs := []*core.Failure{{Record: b.Records[3]}, {Record: b.Records[2]}, {Record: b.Records[1]}}
	got := aws.ItemFailures(fs)
	if !reflect.DeepEqual(got, []events.KinesisBatchItemFailure{{ItemIdentifier: "11"}, {ItemIdentifier: "12"}}) {
		t.Fatalf("item failures %+v", got)
	}
}

func TestBatchErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		recs []events.KinesisEventRecord
		want string
	}{
		"two shards":  {[]events.KinesisEventRecord{rec("s1", "1", nil), rec("s2", "2", nil)}, `shard "s2" in a batch of shard "s1"`},
		"no seq":      {[]events.KinesisEventRecord{rec("s1", "", nil)}, "kinesis.sequenceNumber"},
		"bad seq":     {[]events.KinesisEventRecord{rec("s1", "12a", nil)}, "not a decimal sequence number"},
		"leading 0":   {[]events.KinesisEventRecord{rec("s1", "012", nil)}, "not a decimal sequence number"},
		"bad eventID": {[]events.KinesisEventRecord{func() events.KinesisEventRecord { r := rec("s1", "1", nil); r.EventID = "x"; return r }()}, "eventID"},
	} {
		_, err := aws.Batch(&events.KinesisEvent{Records: tc.recs}, time.Time{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	low, err := aws.Checkpoint(events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: "100"}, {ItemIdentifier: "99"}, {ItemIdentifier: "1000"}}})
	if err != nil || low != "99" {
		t.Fatalf("lowest = %q %v, want 99", low, err)
	}
	if low, err := aws.Checkpoint(events.KinesisEventResponse{}); low != "" || err != nil {
		t.Fatalf("success = %q %v", low, err)
	}
	if _, err := aws.Checkpoint(events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: "1"}, {}}}); err == nil {
		t.Fatal("an empty identifier did not fail the batch")
	}
}

func FuzzKinesisEvent(f *testing.F) {
	f.Add([]byte(`{"Records":[{"eventID":"shardId-1:5","kinesis":{"sequenceNumber":"5","data":"eyJ9","partitionKey":"k","approximateArrivalTimestamp":1.5}}]}`))
	f.Add([]byte(`{"Records":[{"eventID":"s:1","kinesis":{"sequenceNumber":"1","data":"84mawg=="}},{"eventID":"t:2","kinesis":{"sequenceNumber":"2"}}]}`))
	f.Add([]byte(`{"Records":[]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var ev events.KinesisEvent
		if json.Unmarshal(payload, &ev) != nil {
			return
		}
		b, err := aws.Batch(&ev, time.Time{})
		if err != nil {
			return
		}
		if len(ev.Records) > 0 && b.Partition == "" {
			t.Fatal("records without a partition")
		}
		prev := ""
		var fs []*core.Failure
		for _, r := range b.Records {
			if r.Offset == "" || r.ID == "" || core.CompareOffsets(r.Offset, prev) < 0 && prev != "" && !strings.HasPrefix(r.ID, r.Offset) {
				t.Fatalf("record %+v", r)
			}
			fs = append(fs, &core.Failure{Record: r})
		}
		for _, f := range aws.ItemFailures(fs) {
			if f.ItemIdentifier == "" {
				t.Fatal("an empty itemIdentifier")
			}
		}
	})
}
