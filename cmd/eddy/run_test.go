//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// consume reads every record of topic until a quiet second.
func consume(t *testing.T, addrs []string, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			return recs
		}
		recs = append(recs, fs.Records()...)
	}
}

// eddy send --to kafka:// puts the events on a topic keyed by the spec's key; eddy run consumes it
// as a group member, writes the outputs a direct run of each partition makes to an output topic
// and an undecodable record to the dead-letter topic, and exits 0 on SIGINT (context end).
func TestRunKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "readings", "results", "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	broker := addrs[0]
	code, _, stderr := runEnv(t, "", false, "send", "--to", "kafka://"+broker+"/readings", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson")
	if m := summaryRE.FindStringSubmatch(stderr); code != 0 || m == nil || m[1] != "181" || m[2] != "0" {
		t.Fatalf("send: exit %d: %s", code, stderr)
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("readings"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pcl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("sensor-a"), Value: []byte("{not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pcl.Close()
	in := consume(t, addrs, "readings")
	if len(in) != 182 {
		t.Fatalf("topic holds %d records, want 182", len(in))
	}
	byPart := map[string][]core.Record{}
	keys := map[string]map[string]bool{}
	for _, r := range in {
		p := kafka.Partition(r.Topic, r.Partition)
		byPart[p] = append(byPart[p], kafka.Record(r))
		if keys[string(r.Key)] == nil {
			keys[string(r.Key)] = map[string]bool{}
		}
		keys[string(r.Key)][p] = true
	}
	for k, ps := range keys {
		if len(ps) != 1 {
			t.Errorf("key %s spread over partitions %v", k, ps)
		}
	}
	_, comp, err := loadSpec("testdata/alarms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	wantDL := 0
	for p, recs := range byPart {
		pl, err := comp.NewPipeline()
		if err != nil {
			t.Fatal(err)
		}
		res, err := pl.Process(context.Background(), core.Batch{Partition: p, Records: recs, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Outputs {
			want[sink.OutputID(o)] = true
		}
		wantDL += len(res.Failures)
	}
	if len(want) == 0 {
		t.Fatal("the reference made no outputs")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, []string{"run",
			"--from", "kafka://" + broker + "/readings?group=alarms", "--spec", "testdata/alarms.yaml",
			"--state", t.TempDir(), "--output", "kafka://" + broker + "/results", "--dead-letter", "kafka://" + broker + "/dlq", "--tick", "1h"})
	}()
	deadline := time.Now().Add(60 * time.Second)
	var got map[string]bool
	for {
		got = map[string]bool{}
		for _, r := range consume(t, addrs, "results") {
			for _, h := range r.Headers {
				if h.Key == sink.MetaID {
					got[string(h.Value)] = true
				}
			}
		}
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("eddy run: exit %d: %s", code, errb.String())
	}
	for id := range want {
		if !got[id] {
			t.Errorf("output %s missing", id)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d outputs, want %d", len(got), len(want))
	}
	dl := consume(t, addrs, "dlq")
	poison := false
	for _, r := range dl {
		if !bytes.Contains(r.Value, []byte(`"partition":"readings-`)) {
			t.Errorf("dead letter names no partition: %s", r.Value)
		}
		poison = poison || bytes.Contains(r.Value, []byte(`"data":"{not json"`))
	}
	if len(dl) != wantDL || !poison {
		t.Fatalf("dead letters: %d records (want %d, the undecodable one among them: %v), first %s", len(dl), wantDL, poison, firstValue(dl))
	}
	if !strings.Contains(errb.String(), "partitions assigned") {
		t.Errorf("stderr lacks the assignment:\n%s", errb.String())
	}
}

func firstValue(rs []*kgo.Record) string {
	if len(rs) == 0 {
		return ""
	}
	return string(rs[0].Value)
}

// Bad --from is a usage error; an unreachable broker ends run with exit 1 and a clear message
// after its bounded attempts.
func TestRunKafkaErrors(t *testing.T) {
	code, _, stderr := runEnv(t, "", false, "run", "--from", "http://x/y", "--spec", "testdata/alarms.yaml")
	if code != 2 || !strings.Contains(stderr, "kafka://BROKER1,BROKER2/TOPIC") {
		t.Errorf("bad --from: exit %d: %s", code, stderr)
	}
	code, _, stderr = runEnv(t, "", false, "run", "--from", "kafka://127.0.0.1:1/readings", "--spec", "testdata/alarms.yaml",
		"--state", t.TempDir(), "--connect-attempts", "2")
	if code != 1 || !strings.Contains(stderr, "no broker reachable after 2 attempts") {
		t.Errorf("unreachable broker: exit %d: %s", code, stderr)
	}
}

// eddy dev --from kafka:// reads a topic from its start into the local broker: once interrupted, it
// has written what the same events from a file make (outputs and dead letters).
func TestDevFromKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "readings"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	broker := c.ListenAddrs()[0]
	if code, _, stderr := runEnv(t, "", false, "send", "--to", "kafka://"+broker+"/readings", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson"); code != 0 {
		t.Fatalf("send: %s", stderr)
	}
	dir := t.TempDir()
	fileOut := dir + "/file.ndjson"
	if code, _, stderr := runEnv(t, "", false, "dev", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson", "--output", fileOut); code != 0 {
		t.Fatalf("dev --input: %s", stderr)
	}
	kafkaOut := dir + "/kafka.ndjson"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errb},
			[]string{"dev", "--spec", "testdata/alarms.yaml", "--from", "kafka://" + broker + "/readings", "--output", kafkaOut, "--max-wait", "10ms"})
	}()
	// Wait until the output stops growing: every record read and processed.
	deadline := time.Now().Add(60 * time.Second)
	size, still := int64(-1), 0
	for still < 10 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		fi, err := os.Stat(kafkaOut)
		if err != nil || fi.Size() == 0 {
			continue
		}
		if fi.Size() == size {
			still++
		} else {
			size, still = fi.Size(), 0
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("dev --from: exit %d: %s", code, errb.String())
	}
	want, got := sortedLines(t, fileOut), sortedLines(t, kafkaOut)
	if len(want) == 0 || strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Fatalf("dev --from kafka wrote %d lines, dev --input %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

func sortedLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(ls)
	return ls
}
