package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eddyhq/eddy/core/metrics"
)

// eddy dev serves /metrics (Prometheus text) and /metrics.json on its ingest address and on
// --metrics: after the sample readings are sent and processed, the counters add up to them.
func TestDevServesMetrics(t *testing.T) {
	dir := t.TempDir()
	spec, _ := os.ReadFile("testdata/alarms.yaml")
	if err := os.WriteFile(filepath.Join(dir, "eddy.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	input, _ := filepath.Abs("testdata/readings.ndjson")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, eddyBin, "dev", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--partitions", "3")
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	ingestRe := regexp.MustCompile(`ingest on (http://[0-9.:]+)/events`)
	metricsRe := regexp.MustCompile(`metrics on (http://[0-9.:]+)/metrics`)
	var ingest, metricsAddr string
	var log []string
	for (ingest == "" || metricsAddr == "") && sc.Scan() {
		log = append(log, sc.Text())
		if m := ingestRe.FindStringSubmatch(sc.Text()); m != nil {
			ingest = m[1]
		}
		if m := metricsRe.FindStringSubmatch(sc.Text()); m != nil {
			metricsAddr = m[1]
		}
	}
	if ingest == "" || metricsAddr == "" {
		t.Fatalf("no ingest or metrics address in stderr: %q", log)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if r := eddy(t, "", "send", "--to", ingest, "--input", input, "--wait", "--chunk", "50"); r.code != 0 {
		t.Fatalf("send: exit %d: %s", r.code, r.stderr)
	}
	for _, base := range []string{ingest, metricsAddr} {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s/metrics does not parse: %v", base, err)
		}
		sum := func(name string) (s float64, series int) {
			for _, m := range fams[name].GetMetric() {
				s += m.GetCounter().GetValue()
				series++
			}
			return s, series
		}
		// 181 lines, one of which has a bad ts (dead-lettered), across the 3 partitions.
		if n, series := sum("eddy_records_total"); n != 181 || series > 3 || series < 1 {
			t.Errorf("%s: records %v over %d series, want 181 over at most 3 partitions", base, n, series)
		}
		if n, _ := sum("eddy_dead_letters_total"); n != 1 {
			t.Errorf("%s: dead letters %v, want 1", base, n)
		}
		if n, _ := sum("eddy_events_total"); n != 180 {
			t.Errorf("%s: events %v, want 180", base, n)
		}
		if n, _ := sum("eddy_outputs_total"); n < 1 {
			t.Errorf("%s: no outputs counted", base)
		}
		if len(fams["eddy_watermark_lag_seconds"].GetMetric()) == 0 {
			t.Errorf("%s: no watermark lag", base)
		}
	}
	resp, err := http.Get(metricsAddr + "/metrics.json")
	if err != nil {
		t.Fatal(err)
	}
	var snap metrics.Snapshot
	err = json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var recs int64
	for _, p := range snap.Partitions {
		if p.Function != "alarms" {
			t.Errorf("function %q, want alarms", p.Function)
		}
		if p.StoreRoundTrips < 2*p.Batches {
			t.Errorf("partition %s: %d round trips for %d batches", p.Partition, p.StoreRoundTrips, p.Batches)
		}
		recs += p.Records
	}
	if recs != 181 {
		t.Errorf("/metrics.json records %d, want 181", recs)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dev: %v", err)
	}
}
