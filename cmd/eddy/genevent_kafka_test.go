package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/aws"
)

// generate-event aws-kafka writes a Lambda Kafka event the aws adapter decodes back to the events,
// their keys, offsets and arrival times; --kafka-source self-managed changes the event source.
func TestGenerateEventAWSKafka(t *testing.T) {
	for _, c := range []struct{ source, want string }{{"msk", "aws:kafka"}, {"self-managed", "SelfManagedKafka"}} {
		code, out, stderr := runEnv(t, "", false, "generate-event", "aws-kafka", "--input", "testdata/readings.ndjson",
			"--topic", "telemetry", "--partition", "3", "--offset", "40", "--at", "2025-11-25T16:00:00Z", "--kafka-source", c.source)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		ev, err := aws.DecodeKafkaEvent([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		if ev.EventSource != c.want || !aws.IsKafkaEvent([]byte(out)) {
			t.Fatalf("eventSource %q, want %q", ev.EventSource, c.want)
		}
		bs, err := aws.KafkaBatches(ev, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		lines, keys := readingKeys(t)
		if len(bs) != 1 || bs[0].Partition != "telemetry-3" || len(bs[0].Records) != len(lines) {
			t.Fatalf("batches: %d, partition %q", len(bs), bs[0].Partition)
		}
		for i, r := range bs[0].Records {
			if string(r.Data) != lines[i] || r.Key != keys[i] || r.Offset != strconv.Itoa(40+i) ||
				!r.Time.Equal(time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC).Add(time.Duration(i)*10*time.Millisecond)) {
				t.Fatalf("record %d: %+v", i, r)
			}
		}
	}
	code, _, stderr := runEnv(t, "", false, "generate-event", "aws-kafka", "--kafka-source", "cloud", `{"key":"a"}`)
	if code != 2 || !strings.Contains(stderr, "msk or self-managed") {
		t.Errorf("bad --kafka-source: exit %d: %s", code, stderr)
	}
}
