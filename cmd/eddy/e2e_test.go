package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/examples/bench"
	"github.com/eddyhq/eddy/internal/demo"
)

// eddyBin is the binary the end-to-end tests run, built once by TestMain.
var eddyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eddy-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	eddyBin = filepath.Join(dir, "eddy")
	build := exec.Command("go", "build", "-tags", eddyTags, "-o", eddyBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build eddy: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func eddy(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, eddyBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func writeW1Input(t *testing.T, evs []bench.Event, gz bool) string {
	t.Helper()
	name := "w1.ndjson"
	if gz {
		name += ".gz"
	}
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var w interface {
		Write([]byte) (int, error)
	} = f
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(f)
		w = zw
	}
	bw := bufio.NewWriter(w)
	var b []byte
	for _, e := range evs {
		b = append(e.AppendJSON(b[:0]), '\n')
		bw.Write(b)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	f.Close()
	return path
}

// eddy replay over a generated W1 input gives exactly the core's results, in the same order,
// plain or gzip-compressed.
func TestReplayMatchesCore(t *testing.T) {
	evs := bench.Generate(3, 150_000, 200)
	p, err := bench.Build(bench.W1)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	emit := func(o core.Output) { want = append(want, string(o.AppendJSON(nil))) }
	if _, err := p.Run(context.Background(), core.Batch{Partition: "p", Records: bench.Records(evs), Now: time.Now()}, emit); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Flush(context.Background(), emit); err != nil {
		t.Fatal(err)
	}
	for _, gz := range []bool{false, true} {
		in := writeW1Input(t, evs, gz)
		outFile := filepath.Join(t.TempDir(), "out.ndjson")
		r := eddy(t, "", "replay", "--spec", "../../examples/bench/w1.yaml", "--input", in, "--output", outFile)
		if r.code != 0 {
			t.Fatalf("gzip %v: exit %d: %s", gz, r.code, r.stderr)
		}
		out, err := os.ReadFile(outFile)
		if err != nil {
			t.Fatal(err)
		}
		got := lines(string(out))
		if !slices.Equal(got, want) {
			t.Fatalf("gzip %v: %d results, core %d; first got %q want %q", gz, len(got), len(want), first(got), first(want))
		}
		if !strings.Contains(r.stderr, "150000 events") || !strings.Contains(r.stderr, fmt.Sprintf("%d window results", len(want))) ||
			!strings.Contains(r.stderr, "events/s") {
			t.Fatalf("summary: %q", r.stderr)
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// The decisions testdata/readings.ndjson must produce with testdata/alarms.yaml, worked out by
// hand: sensor-c is hot in its first 10 s, sensor-a from 20 s to 40 s, sensor-b never.
var wantDecisions = []string{
	"sensor-a firing 2025-11-25T16:00:20.000Z",
	"sensor-a resolved 2025-11-25T16:00:40.000Z",
	"sensor-c firing 2025-11-25T16:00:00.000Z",
	"sensor-c resolved 2025-11-25T16:00:10.000Z",
}

func decisions(t *testing.T, out string) (summary []string, raw []string) {
	t.Helper()
	for _, l := range lines(out) {
		var d struct {
			Type, Key, State string
			Window           struct{ Start string }
		}
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		if d.Type == "decision" {
			summary = append(summary, d.Key+" "+d.State+" "+d.Window.Start)
			raw = append(raw, l)
		}
	}
	slices.Sort(summary)
	slices.Sort(raw)
	return summary, raw
}

// eddy dev over a sample file prints the expected decisions (the same, ids included, as a
// replay), dead-letters the bad record, and exits 0 at the end of the file.
func TestDevSampleFile(t *testing.T) {
	r := eddy(t, "", "dev", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson", "--batch-size", "7")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got, raw := decisions(t, r.stdout)
	if !slices.Equal(got, wantDecisions) {
		t.Fatalf("decisions %q, want %q\nstderr: %s", got, wantDecisions, r.stderr)
	}
	rep := eddy(t, "", "replay", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson")
	if _, rawReplay := decisions(t, rep.stdout); !slices.Equal(raw, rawReplay) {
		t.Fatalf("dev and replay decisions differ:\n%s\n%s", raw, rawReplay)
	}
	if !strings.Contains(r.stderr, `dead letter: record "testdata/readings.ndjson:41" field "ts"`) {
		t.Fatalf("no dead letter for the bad record in stderr: %s", r.stderr)
	}
	if n := len(lines(r.stdout)); n != 18+4 {
		t.Fatalf("%d output lines, want 18 windows and 4 decisions", n)
	}
}

// eddy dev with a scaffolded project's eddy.yaml in the working directory, fed through its HTTP
// ingest endpoint by eddy send, then interrupted: it finishes, flushes and prints the decisions.
func TestDevHTTPIngestAndSend(t *testing.T) {
	dir := t.TempDir()
	spec, _ := os.ReadFile("testdata/alarms.yaml")
	if err := os.WriteFile(filepath.Join(dir, "eddy.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	input, _ := filepath.Abs("testdata/readings.ndjson")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, eddyBin, "dev", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	addr := ""
	re := regexp.MustCompile(`ingest on (http://[0-9.:]+)/events`)
	var log []string
	for sc.Scan() {
		log = append(log, sc.Text())
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatalf("no ingest address in stderr: %q", log)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	resp, err := http.Get(addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	if r := eddy(t, "", "send", "--to", addr, "--input", input, "--wait", "--chunk", "50"); r.code != 0 || !strings.Contains(r.stderr, "sent 181 events") {
		t.Fatalf("send: exit %d: %s", r.code, r.stderr)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dev: %v", err)
	}
	got, _ := decisions(t, out.String())
	if !slices.Equal(got, wantDecisions) {
		t.Fatalf("decisions %q, want %q", got, wantDecisions)
	}
}

// A broken spec: every problem with file:line:column, exit code 1.
func TestValidateBrokenSpec(t *testing.T) {
	r := eddy(t, "", "validate", "testdata/broken.yaml")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", r.code, r.stderr)
	}
	for _, want := range []string{"testdata/broken.yaml:3:3: input.formt: unknown field (did you mean format?)", "testdata/broken.yaml:7:13: window.tumbling:"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r := eddy(t, "", "validate", "../../examples/bench/w1.yaml", "testdata/alarms.yaml"); r.code != 0 || !strings.Contains(r.stdout, "ok: function alarms") ||
		!strings.Contains(r.stdout, "partitioning: messages without a transport key are partitioned by their event key") {
		t.Fatalf("valid specs: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// Usage errors exit 2 and say what to do; --help shows an example on every command.
func TestUsageAndHelp(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"replay", "--bogus"}, {"replay"}, {"generate-event", "ibm", "{}"}, {"dev", "extra"},
		{"new"}, {"new", "x"}, {"new", "Bad_Name", "--cloud", "aws"}, {"new", "ok-name", "--cloud", "ibm"}, {"deploy"}, {"deploy", "--cloud", "ibm"},
		{"deploy", "--cloud", "azure", "--tool", "sam"}} {
		if r := eddy(t, "", args...); r.code != 2 || !strings.Contains(r.stderr, "eddy: ") {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	for _, c := range []string{"dev", "replay", "validate", "send", "generate-event", "new", "deploy"} {
		r := eddy(t, "", c, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "eddy "+c) {
			t.Errorf("%s --help: exit %d, no example:\n%s", c, r.code, r.stdout)
		}
	}
	if r := eddy(t, "", "replay", "--spec", "testdata/none.yaml", "--input", "-"); r.code != 1 || !strings.Contains(r.stderr, "none.yaml") {
		t.Errorf("missing spec: exit %d: %s", r.code, r.stderr)
	}
}

var sampleEvents = []string{
	`{"key":"sensor-0001","ts":1764086400000,"value":81.5}`,
	`{"key":"sensor-0002","ts":1764086400350,"value":12.0}`,
	`{"key":"sensor-0001","ts":1764086401200,"value":84.25}`,
}

// generate-event aws decodes with aws-lambda-go's KinesisEvent and equals the sample's records.
func TestGenerateEventAWS(t *testing.T) {
	r := eddy(t, "", append([]string{"generate-event", "aws", "--at", "2025-11-25T16:00:01.987Z", "--region", "us-east-2",
		"--stream", "lambda-stream", "--shard", "shardId-000000000006"}, sampleEvents...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got, sample events.KinesisEvent
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile("testdata/samples/aws-kinesis-event.json")
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 3 {
		t.Fatalf("%d records", len(got.Records))
	}
	for i, rec := range got.Records {
		if string(rec.Kinesis.Data) != sampleEvents[i] {
			t.Errorf("record %d data %q", i, rec.Kinesis.Data)
		}
		s := sample.Records[i]
		rec.Kinesis.ApproximateArrivalTimestamp.Time = rec.Kinesis.ApproximateArrivalTimestamp.UTC()
		s.Kinesis.ApproximateArrivalTimestamp.Time = s.Kinesis.ApproximateArrivalTimestamp.UTC()
		if fmt.Sprint(rec) != fmt.Sprint(s) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, rec, s)
		}
	}
}

// generate-event gcp writes the sample delivery byte for byte; structured mode parses as a
// CloudEvent with the same data.
func TestGenerateEventGCP(t *testing.T) {
	args := []string{"generate-event", "gcp", "--at", "2025-11-25T16:00:01.987Z", "--topic", "telemetry", "--attr", "origin=sensor-gw",
		"--message-id", "2070443601311540", sampleEvents[0]}
	r := eddy(t, "", args...)
	sample, _ := os.ReadFile("testdata/samples/gcp-pubsub-cloudevent.http")
	if r.code != 0 || r.stdout != string(sample) {
		t.Fatalf("exit %d:\n%s\nwant:\n%s", r.code, r.stdout, sample)
	}
	r = eddy(t, "", append(args, "--mode", "structured")...)
	var ce struct {
		SpecVersion string `json:"specversion"`
		ID, Type    string
		Data        struct {
			Message struct {
				Data        []byte
				OrderingKey string
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &ce); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if ce.SpecVersion != "1.0" || ce.ID != "2070443601311540" || ce.Type != "google.cloud.pubsub.topic.v1.messagePublished" ||
		string(ce.Data.Message.Data) != sampleEvents[0] || ce.Data.Message.OrderingKey != "sensor-0001" {
		t.Fatalf("structured: %+v", ce)
	}
}

// generate-event azure matches the sample except for its random guid and the byte offsets.
func TestGenerateEventAzure(t *testing.T) {
	r := eddy(t, "", append([]string{"generate-event", "azure", "--at", "2025-11-25T16:00:02.25Z", "--interval", "1s",
		"--hub", "telemetry", "--partition", "2", "--sequence-number", "59", "--offset", "616008"}, sampleEvents...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	sample, _ := os.ReadFile("testdata/samples/azure-eventhubs-customhandler.json")
	norm := func(s string) string {
		s = regexp.MustCompile(`"RandGuid": "[^"]*"`).ReplaceAllString(s, "")
		s = regexp.MustCompile(`"UtcNow": "[^"]*"`).ReplaceAllString(s, "")
		return regexp.MustCompile(`616[0-9]{3}`).ReplaceAllString(s, "OFFSET")
	}
	if norm(r.stdout) != norm(string(sample))+"\n" {
		t.Fatalf("got:\n%s\nwant:\n%s", r.stdout, sample)
	}
	// Decoding twice, as the adapter does, gives the events back.
	var body struct{ Data struct{ Events string } }
	if err := json.Unmarshal([]byte(r.stdout), &body); err != nil {
		t.Fatal(err)
	}
	var evs []string
	if err := json.Unmarshal([]byte(body.Data.Events), &evs); err != nil || !slices.Equal(evs, sampleEvents) {
		t.Fatalf("events %q: %v", evs, err)
	}
}

// eddy dev --demo, the README's first command: the embedded function over the embedded telemetry,
// through 4 partitions of the in-memory broker, decides exactly what the same function decides in
// one in-process pipeline, ids included.
func TestDevDemo(t *testing.T) {
	r := eddy(t, "", "dev", "--demo")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	_, got := decisions(t, r.stdout)
	f, err := spec.Parse("demo.yaml", demo.Spec)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Build()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	emit := func(o core.Output) {
		if o.Type() == "decision" {
			want = append(want, string(o.AppendJSON(nil)))
		}
	}
	ctx := context.Background()
	if _, err := p.Run(ctx, core.Batch{Partition: "0", Records: demo.Telemetry(12, 5)}, emit); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Flush(ctx, emit); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if len(want) != 4 || !slices.Equal(got, want) {
		t.Fatalf("dev --demo decisions:\n%s\nin-process:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// generate-event keys the events as the spec does: by its input.key, not by a field named "key"
// (it once ignored the spec); --key still wins, and a $key spec asks for --key.
func TestGenerateEventSpecKey(t *testing.T) {
	dir := t.TempDir()
	sp := filepath.Join(dir, "eddy.yaml")
	must(t, os.WriteFile(sp, []byte("name: m\ninput: {key: machine, time: ts, time_format: unix_ms}\nwindow: {tumbling: 10s}\naggregates: [{name: n, count: true}]\n"), 0o644))
	ev := `{"machine":"press-7","ts":1764086400000,"key":"not-this"}`
	keyOf := func(r result) string {
		var got events.KinesisEvent
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got.Records) != 1 {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		return got.Records[0].Kinesis.PartitionKey
	}
	if k := keyOf(eddy(t, "", "generate-event", "aws", "--spec", sp, ev)); k != "press-7" {
		t.Errorf("--spec: partition key %q, want press-7", k)
	}
	if k := keyOf(eddy(t, "", "generate-event", "aws", "--spec", sp, "--key", "key", ev)); k != "not-this" {
		t.Errorf("--key wins: partition key %q, want not-this", k)
	}
	must(t, os.WriteFile(sp, []byte("name: m\ninput: {key: $key, time: ts, time_format: unix_ms}\nwindow: {tumbling: 10s}\naggregates: [{name: n, count: true}]\n"), 0o644))
	if r := eddy(t, "", "generate-event", "aws", "--spec", sp, ev); r.code != 2 || !strings.Contains(r.stderr, "pass --key") {
		t.Errorf("$key spec: exit %d: %s", r.code, r.stderr)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
