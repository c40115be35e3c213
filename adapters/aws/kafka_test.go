package aws_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/aws"
)

// The vendor samples decode: MSK (aws-lambda-go's fixture, signed header bytes), self-managed
// (the Lambda developer guide's), and the legacy self-managed shape (partition as a string, a
// header value as base64 text).
func TestKafkaSamples(t *testing.T) {
	for _, c := range []struct {
		file, part, off, key, data, header string
	}{
		{"testdata/aws-msk-kafka-event.json", "AWSKafkaTopic-0", "0", "8d5596b4-1813-4238-b24b-6dad8e3d1c0c", "8d5596b4-1813-4238-b24b-6dad8e3d1c0c", "v\xdc\x00\x7f\x80"},
		{"testdata/aws-selfmanaged-kafka-event.json", "mytopic-0", "15", "", "Hello, this is a test.", "headerValue"},
		{"testdata/aws-selfmanaged-kafka-event-legacy.json", "mytopic-0", "15", "", "Hello, this is a test.", "headerValue"},
	} {
		payload := readFile(t, c.file)
		if !aws.IsKafkaEvent(payload) {
			t.Fatalf("%s: not recognized as a Kafka event", c.file)
		}
		ev, err := aws.DecodeKafkaEvent(payload)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		bs, err := aws.KafkaBatches(ev, fixedNow)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if len(bs) != 1 || bs[0].Partition != c.part || len(bs[0].Records) != 1 {
			t.Fatalf("%s: batches %+v", c.file, bs)
		}
		r := bs[0].Records[0]
		if r.ID != c.off || r.Offset != c.off || string(r.Data) != c.data || r.Attrs["headerKey"] != c.header || r.Time.IsZero() {
			t.Errorf("%s: record %+v", c.file, r)
		}
		if c.key != "" && r.Key != c.key {
			t.Errorf("%s: key %q, want %q", c.file, r.Key, c.key)
		}
	}
}

// kafkaPayload builds a Lambda Kafka event with the given values on partitions of topic "telemetry",
// offsets from first.
func kafkaPayload(t testing.TB, source string, parts map[int][]string, first int) []byte {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `{"eventSource":%q,"eventSourceArn":"arn:aws:kafka:us-east-1:000000000000:cluster/c/1","bootstrapServers":"b-1:9092","records":{`, source)
	n := 0
	for p, vals := range parts {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		fmt.Fprintf(&b, `"telemetry-%d":[`, p)
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			var key struct{ Key string }
			json.Unmarshal([]byte(v), &key)
			fmt.Fprintf(&b, `{"topic":"telemetry","partition":%d,"offset":%d,"timestamp":%d,"timestampType":"CREATE_TIME","key":%q,"value":%q,"headers":[{"source":[116,101,115,116]}]}`,
				p, first+i, fixedNow.UnixMilli(), base64.StdEncoding.EncodeToString([]byte(key.Key)), base64.StdEncoding.EncodeToString([]byte(v)))
		}
		b.WriteByte(']')
	}
	b.WriteString("}}")
	return []byte(b.String())
}

func sensorEvents(key string, n int, t0 int64, value float64) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"key":%q,"ts":%d,"value":%g}`, key, t0+int64(i)*300, value)
	}
	return out
}

// Handler.Invoke serves a Kafka event beside Kinesis: each topic-partition through the runner,
// an undecodable record dead-lettered naming its topic-partition and offset while the batch goes
// on, the response an empty batchItemFailures; the same event again (Lambda's retry) applies
// nothing twice.
func TestKafkaHandler(t *testing.T) {
	h, c := newHandler(t, false)
	t0 := fixedNow.Add(-time.Minute).UnixMilli()
	p0 := append(sensorEvents("s1", 12, t0, 70), "not json")
	p3 := sensorEvents("s2", 12, t0, 40)
	payload := kafkaPayload(t, "aws:kafka", map[int][]string{0: p0, 3: p3}, 100)
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp aws.KafkaResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 ||
		resp.Partitions != 2 || resp.Records != 25 || resp.Failed != 1 {
		t.Fatalf("response %s (%v)", out, err)
	}
	if !strings.Contains(string(out), `"batchItemFailures":[]`) {
		t.Errorf("response %s lacks an empty batchItemFailures", out)
	}
	if len(c.failures) != 1 {
		t.Fatalf("%d dead letters", len(c.failures))
	}
	f := c.failures[0]
	if f.Partition != "telemetry-0" || f.Record.Offset != "112" || f.Record.ID != "112" || string(f.Record.Data) != "not json" || f.Record.Attrs["source"] != "test" {
		t.Errorf("dead letter %+v", f)
	}
	n := len(c.outs)
	if n == 0 {
		t.Fatal("no outputs")
	}
	var hot bool
	for _, o := range c.outs {
		hot = hot || strings.Contains(o, `"rule":"hot"`) && strings.Contains(o, `"key":"s1"`)
	}
	if !hot {
		t.Errorf("no hot decision for s1 in %v", c.outs)
	}
	if _, err := h.Invoke(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	if len(c.outs) != n || len(c.failures) != 1 {
		t.Errorf("the retried event emitted %d outputs and %d dead letters more", len(c.outs)-n, len(c.failures)-1)
	}
	// The self-managed source, on another topic-partition, with an output outage: the invocation
	// fails (Lambda retries it whole).
	c.err = errors.New("output down")
	if _, err := h.Invoke(context.Background(), kafkaPayload(t, "SelfManagedKafka", map[int][]string{1: sensorEvents("s3", 12, t0, 90)}, 0)); err == nil {
		t.Fatal("an output outage did not fail the invocation")
	}
}

// Bad Kafka payloads fail with an error naming the partition key, the record and the field.
func TestKafkaDecodeErrors(t *testing.T) {
	for _, c := range []struct{ payload, want string }{
		{`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":"x","offset":1}]}}`, `records["t-0"][0]`},
		{`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"h":[1,999]}]}]}}`, "not a byte"},
		{`{"eventSource":"aws:kafka","records":{"t-0":[{"partition":0,"offset":-1}]}}`, "negative"},
	} {
		ev, err := aws.DecodeKafkaEvent([]byte(c.payload))
		if err == nil {
			_, err = aws.KafkaBatches(ev, fixedNow)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.payload, err, c.want)
		}
	}
}

// FuzzKafkaEvent: the decoder never panics, and what decodes turns into batches holding every
// record, in offset order per partition.
func FuzzKafkaEvent(f *testing.F) {
	for _, name := range []string{"testdata/aws-msk-kafka-event.json", "testdata/aws-selfmanaged-kafka-event.json", "testdata/aws-selfmanaged-kafka-event-legacy.json"} {
		f.Add(readFile(f, name))
	}
	f.Add([]byte(`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":0,"offset":2,"value":"!!"},{"topic":"t","partition":0,"offset":1}]}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := aws.DecodeKafkaEvent(payload)
		if err != nil {
			return
		}
		bs, err := aws.KafkaBatches(ev, fixedNow)
		if err != nil {
			return
		}
		want := 0
		for _, rs := range ev.Records {
			want += len(rs)
		}
		got := 0
		for _, b := range bs {
			got += len(b.Records)
			for i := 1; i < len(b.Records); i++ {
				if len(b.Records[i].Offset) < len(b.Records[i-1].Offset) ||
					(len(b.Records[i].Offset) == len(b.Records[i-1].Offset) && b.Records[i].Offset < b.Records[i-1].Offset) {
					t.Fatalf("partition %s out of offset order: %s after %s", b.Partition, b.Records[i].Offset, b.Records[i-1].Offset)
				}
			}
		}
		if got != want {
			t.Fatalf("%d records in batches, %d in the event", got, want)
		}
	})
}
