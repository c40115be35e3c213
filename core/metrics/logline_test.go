package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
)

func TestLogExporterKnownBatch(t *testing.T) {
	var buf bytes.Buffer
	r := newRunner(t, metrics.NewLogExporter(&buf))
	if _, err := r.Run(context.Background(), knownBatch()); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("want one line: %s", buf.String())
	}
	for k, want := range map[string]any{
		"severity": "INFO", "message": metrics.LogMessage, "time": "2026-01-01T00:01:10Z", "function": "m1",
		"partition": "shard-1", "kind": "batch", "records": 6.0, "skipped": 0.0, "events": 5.0, "windows": 2.0,
		"decisions": 1.0, "late": 1.0, "deadLetters": 1.0, "batchErrors": 0.0, "stateConflicts": 0.0,
		"storeRoundTrips": 2.0, "watermark": "2026-01-01T00:01:01.000Z", "watermarkLagSeconds": 9.0, "iteratorAgeMs": 2000.0,
	} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	if sb, _ := line["stateBytes"].(float64); sb <= 0 {
		t.Errorf("stateBytes %v", line["stateBytes"])
	}
	if _, ok := line["commitLatencyMs"].(float64); !ok {
		t.Errorf("commitLatencyMs %v", line["commitLatencyMs"])
	}
}

func TestLogExporterFailedBatch(t *testing.T) {
	var buf bytes.Buffer
	r, err := runner.New(runner.Config{Function: "m1", Store: memstate.New(nil), Observer: metrics.NewLogExporter(&buf), Sink: failingSink{},
		New: func(string) (runner.Processor, error) { return newCounterPipeline(t) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), knownBatch()); err == nil {
		t.Fatal("no error")
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["severity"] != "ERROR" || line["batchErrors"] != 1.0 || !strings.Contains(line["error"].(string), "sink down") {
		t.Errorf("line %v", line)
	}
	if _, ok := line["watermarkLagSeconds"]; ok {
		t.Error("a failed batch reports a lag")
	}
}

// Concurrent partitions write whole lines.
func TestLogExporterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	exp := metrics.NewLogExporter(&buf)
	r := newRunner(t, exp)
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			b := knownBatch()
			b.Partition = strings.Repeat("p", i+1)
			for range 5 {
				if _, err := r.Run(context.Background(), b); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", n, err, sc.Bytes())
		}
		n++
	}
	if n != 20 {
		t.Errorf("%d lines, want 20", n)
	}
}
