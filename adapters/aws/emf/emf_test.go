package emf_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/aws/emf"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state/memstate"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const testSpec = `
name: m1
input: {key: key, time: ts, time_format: unix_ms, out_of_order: 0s}
window: {tumbling: 60s}
aggregates:
  - {name: n, count: true}
rules:
  - {name: busy, when: n >= 2}
`

func newRunner(obs runner.Observer, sink runner.Sink) (*runner.Runner, error) {
	f, err := spec.Parse("m1.yaml", []byte(testSpec))
	if err != nil {
		return nil, err
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		return nil, err
	}
	return runner.New(runner.Config{Function: "m1", Store: memstate.New(nil), Observer: obs, Sink: sink,
		New: func(string) (runner.Processor, error) { return c.NewPipeline() }})
}

func rec(off int, key string, ts time.Time) core.Record {
	return core.Record{ID: fmt.Sprint(off), Offset: fmt.Sprint(off), Time: t0.Add(time.Duration(62+off) * time.Second),
		Data: fmt.Appendf(nil, `{"key":%q,"ts":%d}`, key, ts.UnixMilli())}
}

// knownBatch: 6 records, 5 events, 2 window results, 1 decision, 1 late event, 1 dead letter;
// watermark t0+61s, newest arrival t0+68s, processed at t0+70s.
func knownBatch() core.Batch {
	bad := rec(4, "", t0)
	bad.Data = []byte("not json")
	return core.Batch{Partition: "shardId-000000000001", Now: t0.Add(70 * time.Second), Records: []core.Record{
		rec(1, "a", t0.Add(1*time.Second)), rec(2, "a", t0.Add(2*time.Second)), rec(3, "b", t0.Add(3*time.Second)),
		bad, rec(5, "a", t0.Add(61*time.Second)), rec(6, "b", t0.Add(5*time.Second)),
	}}
}

// CloudWatch's standard units, the only ones EMF accepts.
var units = map[string]bool{}

func init() {
	for _, u := range strings.Fields(`Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes
		Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second
		Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second
		Terabits/Second Count/Second None`) {
		units[u] = true
	}
}

var namespaceRE = regexp.MustCompile(`^[a-zA-Z0-9._#:/-]+$`)

// validate checks one log line against the EMF specification: a single JSON object whose _aws
// member has an integer Timestamp (ms) and CloudWatchMetrics directives with a valid Namespace,
// dimension sets of at most 30 keys naming string members of 1 to 1024 characters, at most 100
// metric definitions with only Name, Unit (a standard unit) and StorageResolution (1 or 60), each
// naming a number (or an array of at most 100 numbers) at the root. It returns the root.
func validate(t *testing.T, line []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, line)
	}
	if dec.More() {
		t.Fatalf("data after the JSON object: %s", line)
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %s", line)
	}
	for k := range aws {
		if k != "Timestamp" && k != "CloudWatchMetrics" {
			t.Errorf("_aws has member %q the spec does not define", k)
		}
	}
	ts, ok := aws["Timestamp"].(json.Number)
	if _, err := ts.Int64(); !ok || err != nil {
		t.Errorf("_aws.Timestamp %v is not an integer number of ms", aws["Timestamp"])
	}
	dirs, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(dirs) == 0 {
		t.Fatalf("_aws.CloudWatchMetrics is not a non-empty array: %s", line)
	}
	for _, d := range dirs {
		dir, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("directive %v is not an object", d)
		}
		for k := range dir {
			if k != "Namespace" && k != "Dimensions" && k != "Metrics" {
				t.Errorf("directive has member %q the spec does not define", k)
			}
		}
		if ns, _ := dir["Namespace"].(string); !namespaceRE.MatchString(ns) || len(ns) > 1024 {
			t.Errorf("namespace %q", dir["Namespace"])
		}
		dimSets, ok := dir["Dimensions"].([]any)
		if !ok {
			t.Fatalf("Dimensions is not an array")
		}
		for _, ds := range dimSets {
			set, ok := ds.([]any)
			if !ok || len(set) > 30 {
				t.Fatalf("dimension set %v: not an array of at most 30 keys", ds)
			}
			for _, k := range set {
				name, _ := k.(string)
				v, ok := root[name].(string)
				if !ok || len(v) < 1 || len(v) > 1024 {
					t.Errorf("dimension %q: root member %v is not a string of 1 to 1024 characters", name, root[name])
				}
			}
		}
		mets, ok := dir["Metrics"].([]any)
		if !ok || len(mets) > 100 {
			t.Fatalf("Metrics: not an array of at most 100")
		}
		for _, m := range mets {
			def, ok := m.(map[string]any)
			if !ok {
				t.Fatalf("metric definition %v is not an object", m)
			}
			for k, v := range def {
				switch k {
				case "Name":
				case "Unit":
					if !units[v.(string)] {
						t.Errorf("unit %q is not a CloudWatch unit", v)
					}
				case "StorageResolution":
					if n := v.(json.Number).String(); n != "1" && n != "60" {
						t.Errorf("storage resolution %s", n)
					}
				default:
					t.Errorf("metric definition has member %q the spec does not define", k)
				}
			}
			name, _ := def["Name"].(string)
			if len(name) < 1 || len(name) > 1024 {
				t.Errorf("metric name %q", name)
			}
			switch v := root[name].(type) {
			case json.Number:
			case []any:
				if len(v) > 100 {
					t.Errorf("metric %s has %d values", name, len(v))
				}
				for _, x := range v {
					if _, ok := x.(json.Number); !ok {
						t.Errorf("metric %s: value %v is not a number", name, x)
					}
				}
			default:
				t.Errorf("metric %s: root member %v is not a number", name, root[name])
			}
		}
	}
	return root
}

func num(t *testing.T, root map[string]any, name string) float64 {
	t.Helper()
	n, ok := root[name].(json.Number)
	if !ok {
		t.Fatalf("no metric %s in %v", name, root)
	}
	f, _ := n.Float64()
	return f
}

func TestKnownBatchDocument(t *testing.T) {
	var buf bytes.Buffer
	exp, err := emf.New(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRunner(exp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), knownBatch()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines, want one per invocation: %s", n, buf.String())
	}
	root := validate(t, buf.Bytes())
	aws := root["_aws"].(map[string]any)
	if ts, _ := aws["Timestamp"].(json.Number).Int64(); ts != t0.Add(70*time.Second).UnixMilli() {
		t.Errorf("timestamp %d, want the batch time", ts)
	}
	dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if dir["Namespace"] != "eddy" {
		t.Errorf("namespace %v", dir["Namespace"])
	}
	if got := fmt.Sprint(dir["Dimensions"]); got != "[[Function] [Function Partition]]" {
		t.Errorf("dimensions %s", got)
	}
	if root["Function"] != "m1" || root["Partition"] != "shardId-000000000001" || root["Kind"] != "batch" {
		t.Errorf("function %v partition %v kind %v", root["Function"], root["Partition"], root["Kind"])
	}
	if root["Watermark"] != "2026-01-01T00:01:01.000Z" {
		t.Errorf("watermark %v", root["Watermark"])
	}
	for name, want := range map[string]float64{
		emf.Records: 6, emf.Skipped: 0, emf.Events: 5, emf.Windows: 2, emf.Decisions: 1, emf.Late: 1,
		emf.DeadLetters: 1, emf.BatchErrors: 0, emf.Conflicts: 0, emf.StoreRoundTrips: 2,
		emf.WatermarkLag: 9, emf.IteratorAge: 2000,
	} {
		if got := num(t, root, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if num(t, root, emf.StateBytes) <= 0 || num(t, root, emf.CommitLatency) <= 0 {
		t.Errorf("state bytes %v commit latency %v", root[emf.StateBytes], root[emf.CommitLatency])
	}
}

type failingSink struct{}

func (failingSink) Emit(context.Context, []core.Output) error { return errors.New("sink down") }

func TestFailedBatchDocument(t *testing.T) {
	var buf bytes.Buffer
	exp, err := emf.New(&buf, &emf.Options{Namespace: "acme/eddy", NoPartitionDimension: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRunner(exp, failingSink{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), knownBatch()); err == nil {
		t.Fatal("no error from a failing sink")
	}
	root := validate(t, buf.Bytes())
	dir := root["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if dir["Namespace"] != "acme/eddy" || fmt.Sprint(dir["Dimensions"]) != "[[Function]]" {
		t.Errorf("namespace %v dimensions %v", dir["Namespace"], dir["Dimensions"])
	}
	if num(t, root, emf.BatchErrors) != 1 || num(t, root, emf.Records) != 0 {
		t.Errorf("errors %v records %v, want 1 and 0", root[emf.BatchErrors], root[emf.Records])
	}
	if e, _ := root["Error"].(string); !strings.Contains(e, "sink down") {
		t.Errorf("error %q", root["Error"])
	}
	if _, ok := root[emf.WatermarkLag]; ok {
		t.Error("a failed batch reports a watermark lag")
	}
}

func TestBadNamespace(t *testing.T) {
	for _, ns := range []string{"has space", "ünïcode", strings.Repeat("x", 256)} {
		if _, err := emf.New(&bytes.Buffer{}, &emf.Options{Namespace: ns}); err == nil || !strings.Contains(err.Error(), "namespace") {
			t.Errorf("namespace %q: err %v", ns, err)
		}
	}
}

// Concurrent partitions write whole lines, never interleaved ones.
func TestConcurrentLines(t *testing.T) {
	var buf bytes.Buffer
	exp, err := emf.New(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRunner(exp, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			b := knownBatch()
			b.Partition = fmt.Sprintf("shard-%d", i)
			for range 3 {
				if _, err := r.Run(context.Background(), b); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		validate(t, sc.Bytes())
		n++
	}
	if n != 24 {
		t.Errorf("%d lines, want 24", n)
	}
}

func TestEmptyPartitionDimension(t *testing.T) {
	var buf bytes.Buffer
	exp, _ := emf.New(&buf, nil)
	exp.Observe(context.Background(), &runner.Observation{Function: "f", Now: t0})
	root := validate(t, buf.Bytes())
	if root["Partition"] != "-" {
		t.Errorf("partition %v, want -", root["Partition"])
	}
}
