package azure_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/azure"
)

func sample(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "azure-eventhubs-customhandler.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeInvocationSample(t *testing.T) {
	inv, err := azure.DecodeInvocation(sample(t), azure.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Partition.PartitionID != "2" || inv.Partition.EventHubName != "telemetry" || inv.Retry != nil {
		t.Fatalf("partition %+v retry %+v", inv.Partition, inv.Retry)
	}
	if len(inv.Records) != 3 {
		t.Fatalf("%d records", len(inv.Records))
	}
	r := inv.Records[1]
	if r.ID != "60" || r.Offset != "60" || r.Key != "sensor-0002" || string(r.Data) != `{"key":"sensor-0002","ts":1764086400350,"value":12.0}` {
		t.Fatalf("record %+v", r)
	}
	if want := time.Date(2025, 11, 25, 16, 0, 3, 250e6, time.UTC); !r.Time.Equal(want) {
		t.Fatalf("time %v, want %v", r.Time, want)
	}
	if b := inv.Batch(time.Unix(5, 0)); b.Partition != "2" || len(b.Records) != 3 || !b.Now.Equal(time.Unix(5, 0)) {
		t.Fatalf("batch %+v", b)
	}
}

// The host has sent metadata both once and twice encoded; either must decode the same.
func TestDecodeInvocationEncodings(t *testing.T) {
	once := `{"Data":{"events":["{\"a\":1}","plain text",{"b":2}]},"Metadata":{
		"PartitionContext":{"PartitionId":"0"},
		"SequenceNumberArray":[7,8,9],
		"PartitionKeyArray":[null,"k",null],
		"EnqueuedTimeUtcArray":["2025-11-25T16:00:02.25Z","2025-11-25T16:00:02.5+00:00","2025-11-25T16:00:03"],
		"PropertiesArray":[{"s":"x","n":3},{},{"o":{"p":true}}],
		"RetryContext":{"RetryCount":1,"MaxRetryCount":3}}}`
	inv, err := azure.DecodeInvocation([]byte(once), azure.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, r := range inv.Records {
		got = append(got, r.Offset+"|"+r.Key+"|"+string(r.Data)+"|"+r.Attrs["s"]+r.Attrs["n"]+r.Attrs["o"]+"|"+r.Time.Format(time.RFC3339Nano))
	}
	want := []string{
		`7||{"a":1}|x3|2025-11-25T16:00:02.25Z`,
		`8|k|plain text||2025-11-25T16:00:02.5Z`,
		`9||{"b":2}|{"p":true}|2025-11-25T16:00:03Z`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if inv.Retry == nil || inv.Retry.RetryCount != 1 || inv.Retry.Final() {
		t.Fatalf("retry %+v", inv.Retry)
	}
	// Without SequenceNumberArray the system properties give the sequence numbers.
	sys := `{"Data":{"ev":"[\"x\"]"},"Metadata":{"PartitionContext":"{\"PartitionId\":\"3\"}",
		"SystemPropertiesArray":"[{\"x-opt-sequence-number\":42,\"PartitionKey\":\"pk\",\"EnqueuedTimeUtc\":\"2025-01-01T00:00:00\"}]"}}`
	inv, err = azure.DecodeInvocation([]byte(sys), azure.DecodeOptions{Binding: "ev"})
	if err != nil {
		t.Fatal(err)
	}
	if r := inv.Records[0]; r.Offset != "42" || r.Key != "pk" || string(r.Data) != "x" || r.Time.Year() != 2025 || inv.Partition.PartitionID != "3" {
		t.Fatalf("record %+v", r)
	}
	// Binary bodies are base64.
	bin := `{"Data":{"events":["aGVsbG8="]},"Metadata":{"PartitionContext":{"PartitionId":"1"},"SequenceNumberArray":[1]}}`
	inv, err = azure.DecodeInvocation([]byte(bin), azure.DecodeOptions{Binary: true})
	if err != nil || string(inv.Records[0].Data) != "hello" {
		t.Fatalf("binary: %v %+v", err, inv)
	}
}

func TestDecodeInvocationErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`nope`, "body: not a JSON object"},
		{`{"Data":{},"Metadata":{}}`, `Data.events: missing (Data has nothing)`},
		{`{"Data":{"evs":"[]"},"Metadata":{}}`, `Data.events: missing (Data has "evs")`},
		{`{"Data":{"events":"{}"},"Metadata":{}}`, `Data.events: not an array of events`},
		{`{"Data":{"events":[]},"Metadata":{}}`, `Metadata.PartitionContext: missing`},
		{`{"Data":{"events":["a"]},"Metadata":{"PartitionContext":{"PartitionId":"0"}}}`, `Metadata.SequenceNumberArray[0]: no sequence number`},
		{`{"Data":{"events":["a"]},"Metadata":{"PartitionContext":{"PartitionId":"0"},"SequenceNumberArray":[1,2]}}`, `Metadata.SequenceNumberArray: 2 entries for 1 events`},
		{`{"Data":{"events":["a"]},"Metadata":{"PartitionContext":{"PartitionId":"0"},"SequenceNumberArray":[-1]}}`, `sequence number "-1" is not a non-negative integer`},
		{`{"Data":{"events":["a"]},"Metadata":{"PartitionContext":{"PartitionId":"0"},"SequenceNumberArray":[1],"EnqueuedTimeUtcArray":["yesterday"]}}`, `Metadata.EnqueuedTimeUtcArray[0]: time "yesterday" is not RFC 3339`},
	} {
		_, err := azure.DecodeInvocation([]byte(tc.body), azure.DecodeOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.body, err, tc.want)
		}
	}
}

func FuzzDecodeInvocation(f *testing.F) {
	f.Add(sample(f))
	f.Add([]byte(`{"Data":{"events":["{\"a\":1}"]},"Metadata":{"PartitionContext":{"PartitionId":"0"},"SequenceNumberArray":"[1]"}}`))
	f.Add([]byte(`{"Data":{"events":"\"[\\\"x\\\"]\""},"Metadata":{"PartitionContext":{"PartitionId":"0"},"SystemPropertiesArray":[{"SequenceNumber":3}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		inv, err := azure.DecodeInvocation(body, azure.DecodeOptions{})
		if err != nil {
			return
		}
		if inv.Partition.PartitionID == "" {
			t.Fatal("no partition id")
		}
		for _, r := range inv.Records {
			if r.Offset == "" || r.ID != r.Offset || strings.HasPrefix(r.Offset, "-") {
				t.Fatalf("record %+v", r)
			}
		}
		if _, err := json.Marshal(inv); err != nil {
			t.Fatal(err)
		}
	})
}
