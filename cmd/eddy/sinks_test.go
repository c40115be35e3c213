package main

import (
	"strings"
	"testing"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/memsink"
)

// eddy dev --output URL and --dead-letter URL send outputs and dead letters under the wire
// contract to any registered transport; stdout then stays empty.
func TestDevOutputURL(t *testing.T) {
	code, stdout, stderr := runEnv(t, "", false, "dev", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson",
		"--batch-size", "7", "--output", "mem://dev-outputs", "--dead-letter", "mem://dev-dead-letters")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Fatalf("outputs also went to stdout: %s", stdout)
	}
	types := map[string]int{}
	for _, m := range memsink.Named("dev-outputs").Messages() {
		types[m.Metadata[sink.MetaType]]++
		if m.ID == "" || m.Metadata[sink.MetaID] != m.ID || m.Metadata[sink.MetaFunction] == "" {
			t.Fatalf("message without the contract's metadata: %+v", m)
		}
	}
	if types["window"] != 18 || types["decision"] != 4 || len(types) != 2 {
		t.Fatalf("outputs by type %v, want 18 windows and 4 decisions", types)
	}
	dl := memsink.Named("dev-dead-letters").Messages()
	if len(dl) != 1 || dl[0].Metadata[sink.MetaRecord] != "testdata/readings.ndjson:41" || dl[0].Metadata[sink.MetaField] != "ts" ||
		!strings.Contains(string(dl[0].Body), `"data_base64":`) {
		t.Fatalf("dead letters %+v", dl)
	}
	if !strings.Contains(stderr, "1 records dead-lettered to mem://dev-dead-letters") {
		t.Fatalf("stderr: %s", stderr)
	}
}

// A URL of an unknown scheme is an error naming the registered ones, not a file.
func TestDevOutputBadURL(t *testing.T) {
	code, _, stderr := runEnv(t, "", false, "dev", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson",
		"--output", "kinesis://")
	if code == 0 || !strings.Contains(stderr, "--output") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// eddy send --to any registered transport publishes the events as they are, keyed.
func TestSendToRegisteredURL(t *testing.T) {
	code, _, stderr := runEnv(t, "", false, "send", "--to", "mem://sent-events", "--key", "k-1", `{"n":1}`, `{"n":2}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := memsink.Named("sent-events").Messages()
	if len(got) != 2 || got[0].Key != "k-1" || string(got[1].Body) != `{"n":2}` || len(got[0].Metadata) != 0 {
		t.Fatalf("got %+v", got)
	}
	if !strings.Contains(stderr, "sent 2 events to mem://sent-events") {
		t.Fatalf("stderr: %s", stderr)
	}
}
