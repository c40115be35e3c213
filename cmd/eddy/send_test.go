//go:build unix

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/internal/ehfake"
	"github.com/eddyhq/eddy/internal/send/sendtest"
)

// readingKeys returns testdata/readings.ndjson's lines and the key field of each.
func readingKeys(t *testing.T) (lines, keys []string) {
	t.Helper()
	data, err := os.ReadFile("testdata/readings.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var v struct{ Key string }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		lines, keys = append(lines, l), append(keys, v.Key)
	}
	return lines, keys
}

var summaryRE = regexp.MustCompile(`sent (\d+) events to \S+ in \S+ \(\d+ events/s\): (\d+) failed, (\d+) retried`)

// eddy send --to kinesis:// with --spec puts every line of the input on the stream, keyed by the
// spec's input.key, and prints a summary; a bad record stops it with the record's line and field.
func TestSendKinesis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream := "readings"
	ep, kc := sendtest.Kinesalite(ctx, t, stream, 1)
	to := "kinesis://" + stream + "?endpoint=" + ep
	code, _, stderr := runEnv(t, "", false, "send", "--to", to, "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson", "--chunk", "50")
	m := summaryRE.FindStringSubmatch(stderr)
	if code != 0 || m == nil || m[1] != "181" || m[2] != "0" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines, keys := readingKeys(t)
	var gotLines, gotKeys []string
	for _, r := range sendtest.ReadKinesis(ctx, t, kc, stream) {
		gotLines, gotKeys = append(gotLines, r.Data), append(gotKeys, r.Key)
	}
	// One shard: the stream's order is the input's.
	if !slices.Equal(gotLines, lines) || !slices.Equal(gotKeys, keys) {
		t.Fatalf("stream holds %d records, keys %q…", len(gotLines), gotKeys[:min(5, len(gotKeys))])
	}

	// A record without its key: nothing from its chunk on is sent, and the error names it.
	bad := filepath.Join(t.TempDir(), "bad.ndjson")
	if err := os.WriteFile(bad, []byte(lines[0]+"\n\n"+`{"sensor":"sensor-a","ts":1,"value":1}`+"\n"+lines[1]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runEnv(t, "", false, "send", "--to", to, "--spec", "testdata/alarms.yaml", "--input", bad)
	if code != 1 || !strings.Contains(stderr, bad+":3") || !strings.Contains(stderr, `"key"`) || !strings.Contains(stderr, "sent 0 events") {
		t.Fatalf("bad record: exit %d: %s", code, stderr)
	}

	// Usage mistakes exit 2.
	for _, args := range [][]string{
		{"send", "--to", to, "--wait", "{}"},
		{"send", "--to", "http://127.0.0.1:1", "--spec", "testdata/alarms.yaml", "{}"},
		{"send", "--to", "nats://x", "{}"},
	} {
		if code, _, stderr := runEnv(t, "", false, args...); code != 2 {
			t.Errorf("%q: exit %d: %s", args, code, stderr)
		}
	}
}

// eddy send --to gcppubsub://…?ordering=true publishes the events given as arguments with --key
// as ordering key.
func TestSendPubSub(t *testing.T) {
	srv := sendtest.PubSub(context.Background(), t, "p", "in")
	evs := []string{`{"key":"a","ts":1,"value":1}`, `{"key":"b","ts":2,"value":2}`, `{"key":"a","ts":3,"value":3}`}
	code, _, stderr := runEnv(t, "", false, append([]string{"send", "--to", "gcppubsub://projects/p/topics/in?ordering=true", "--key", "line-7"}, evs...)...)
	if m := summaryRE.FindStringSubmatch(stderr); code != 0 || m == nil || m[1] != "3" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	for _, m := range srv.Messages() {
		if m.OrderingKey != "line-7" {
			t.Errorf("ordering key %q", m.OrderingKey)
		}
		got = append(got, string(m.Data))
	}
	if !slices.Equal(got, evs) {
		t.Fatalf("published %q", got)
	}
	// Missing topic: exit 1 with the events' names.
	code, _, stderr = runEnv(t, "", false, "send", "--to", "gcppubsub://projects/p/topics/missing", `{"key":"a"}`)
	if code != 1 || !strings.Contains(stderr, "argument 1") || !strings.Contains(stderr, "1 failed") {
		t.Fatalf("missing topic: exit %d: %s", code, stderr)
	}
}

// eddy send --to eventhubs:// with EVENTHUB_CONNECTION_STRING sends each event with its spec key
// as partition key: read back from the hub's partitions, every line is there once with its key.
func TestSendEventHubs(t *testing.T) {
	conn := ehfake.Start(t, "readings:2")
	t.Setenv("EVENTHUB_CONNECTION_STRING", conn)
	host := strings.TrimPrefix(strings.Split(conn, ";")[0], "Endpoint=sb://")
	code, _, stderr := runEnv(t, "", false, "send", "--to", "eventhubs://"+host+"/readings", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson")
	if m := summaryRE.FindStringSubmatch(stderr); code != 0 || m == nil || m[1] != "181" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := map[string][]string{}
	for _, r := range sendtest.ReadEventHub(ctx, t, conn, "readings", "0", "1") {
		got[r.Key] = append(got[r.Key], r.Data)
	}
	lines, keys := readingKeys(t)
	want := map[string][]string{}
	for i, l := range lines {
		want[keys[i]] = append(want[keys[i]], l)
	}
	if len(got) != len(want) {
		t.Fatalf("keys %d, want %d", len(got), len(want))
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("key %s: %d events read back, want %d in input order", k, len(got[k]), len(w))
		}
	}
}
