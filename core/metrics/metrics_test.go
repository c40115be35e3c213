package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// t0 is the start of the known batch's first window.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const testSpec = `
name: m1
input: {key: key, time: ts, time_format: unix_ms, out_of_order: 0s}
window:
  tumbling: 60s
aggregates:
  - {name: n, count: true}
rules:
  - {name: busy, when: n >= 2}
`

// newRunner returns a runner of testSpec over a memory store, observed by obs.
func newRunner(t testing.TB, obs runner.Observer) *runner.Runner {
	t.Helper()
	r, err := buildRunner(obs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func buildRunner(obs runner.Observer) (*runner.Runner, error) {
	f, err := spec.Parse("m1.yaml", []byte(testSpec))
	if err != nil {
		return nil, err
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		return nil, err
	}
	return runner.New(runner.Config{Function: "m1", Store: memstate.New(nil), Observer: obs,
		New: func(string) (runner.Processor, error) { return c.NewPipeline() }})
}

func rec(off int, key string, ts time.Time) core.Record {
	return core.Record{ID: fmt.Sprint(off), Offset: fmt.Sprint(off),
		Data: fmt.Appendf(nil, `{"key":%q,"ts":%d}`, key, ts.UnixMilli())}
}

// knownBatch has 6 records: 4 events in the first window (a, a, b, then a past it that fires the
// window), one undecodable record, and one event for the closed window (late). It produces 2
// window results (a: n=2, b: n=1), 1 decision (busy for a), 1 late event and 1 dead letter. The
// watermark ends at t0+61s; the newest record arrived at t0+68s; the batch runs at t0+70s.
func knownBatch() core.Batch {
	recs := []core.Record{
		rec(1, "a", t0.Add(1*time.Second)),
		rec(2, "a", t0.Add(2*time.Second)),
		rec(3, "b", t0.Add(3*time.Second)),
		{ID: "4", Offset: "4", Data: []byte(`not json`)},
		rec(5, "a", t0.Add(61*time.Second)),
		rec(6, "b", t0.Add(5*time.Second)),
	}
	for i := range recs {
		recs[i].Time = t0.Add(time.Duration(63+i) * time.Second)
	}
	return core.Batch{Partition: "shard-1", Records: recs, Now: t0.Add(70 * time.Second)}
}

func TestRegistryCountsKnownBatch(t *testing.T) {
	reg := metrics.New()
	r := newRunner(t, reg)
	ctx := context.Background()
	res, err := r.Run(ctx, knownBatch())
	if err != nil {
		t.Fatal(err)
	}
	// Redelivery of the whole batch: every record is skipped, nothing is emitted.
	if _, err := r.Run(ctx, knownBatch()); err != nil {
		t.Fatal(err)
	}
	snap := reg.Snapshot()
	if len(snap) != 1 {
		t.Fatalf("got %d partitions, want 1", len(snap))
	}
	p := snap[0]
	if p.Function != "m1" || p.Partition != "shard-1" {
		t.Errorf("partition = %q/%q, want m1/shard-1", p.Function, p.Partition)
	}
	want := map[string][2]int64{
		"batches":         {p.Batches, 2},
		"records":         {p.Records, 12},
		"skipped":         {p.Skipped, 6},
		"events":          {p.Events, 5},
		"late":            {p.Late, 1},
		"deadLetters":     {p.DeadLetters, 1},
		"window outputs":  {p.Outputs["window"], 2},
		"decisions":       {p.Outputs["decision"], 1},
		"late outputs":    {p.Outputs["late"], 1},
		"errors":          {p.Errors, 0},
		"conflicts":       {p.Conflicts, 0},
		"storeRoundTrips": {p.StoreRoundTrips, 3}, // get+put, then get alone (all skipped)
		"commits":         {p.CommitLatency.Count, 1},
	}
	for name, gw := range want {
		if gw[0] != gw[1] {
			t.Errorf("%s = %d, want %d", name, gw[0], gw[1])
		}
	}
	// The counters agree with the Result the caller got.
	if int64(len(res.Outputs)) != p.Outputs["window"]+p.Outputs["decision"]+p.Outputs["late"] {
		t.Errorf("outputs %v, Result has %d", p.Outputs, len(res.Outputs))
	}
	if p.WatermarkLagSeconds == nil || *p.WatermarkLagSeconds != 9 {
		t.Errorf("watermark lag = %v, want 9 s (t0+70s - t0+61s)", p.WatermarkLagSeconds)
	}
	if !p.Watermark.Equal(t0.Add(61 * time.Second)) {
		t.Errorf("watermark = %v, want %v", p.Watermark, t0.Add(61*time.Second))
	}
	if p.IteratorAgeSeconds == nil || *p.IteratorAgeSeconds != 2 {
		t.Errorf("iterator age = %v, want 2 s (t0+70s - t0+68s)", p.IteratorAgeSeconds)
	}
	if p.StateBytes <= 0 {
		t.Errorf("state bytes = %d, want the committed envelope's size", p.StateBytes)
	}
	if !p.Updated.Equal(knownBatch().Now) {
		t.Errorf("updated = %v, want %v", p.Updated, knownBatch().Now)
	}
}

func TestStateBytesIsStoredSize(t *testing.T) {
	reg := metrics.New()
	store := memstate.New(nil)
	r, err := runner.New(runner.Config{Function: "m1", Store: store, Observer: reg,
		New: func(string) (runner.Processor, error) { return newCounterPipeline(t) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), knownBatch()); err != nil {
		t.Fatal(err)
	}
	e, err := store.Get(context.Background(), r.Key("shard-1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.Snapshot()[0].StateBytes; got != int64(len(e.Value)) {
		t.Errorf("state bytes = %d, stored value is %d bytes", got, len(e.Value))
	}
}

func newCounterPipeline(t testing.TB) (runner.Processor, error) {
	f, err := spec.Parse("m1.yaml", []byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c.NewPipeline()
}

// failingSink fails every emit: an infrastructure failure of the whole batch.
type failingSink struct{}

func (failingSink) Emit(context.Context, []core.Output) error { return fmt.Errorf("sink down") }

func TestRegistryCountsErrorsNotRecords(t *testing.T) {
	reg := metrics.New()
	r, err := runner.New(runner.Config{Function: "m1", Store: memstate.New(nil), Observer: reg, Sink: failingSink{},
		New: func(string) (runner.Processor, error) { return newCounterPipeline(t) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), knownBatch()); err == nil {
		t.Fatal("Run succeeded with a failing sink")
	}
	p := reg.Snapshot()[0]
	if p.Errors != 1 || p.Batches != 0 || p.Records != 0 || p.DeadLetters != 0 {
		t.Errorf("errors %d batches %d records %d dead letters %d; want 1 0 0 0 (the batch comes again)", p.Errors, p.Batches, p.Records, p.DeadLetters)
	}
	if p.StoreRoundTrips != 1 || p.CommitLatency.Count != 0 {
		t.Errorf("round trips %d commits %d, want 1 (the load) and 0", p.StoreRoundTrips, p.CommitLatency.Count)
	}
}

func TestTickObserved(t *testing.T) {
	reg := metrics.New()
	r := newRunner(t, reg)
	ctx := context.Background()
	b := knownBatch()
	b.Records = b.Records[:3] // a, a, b in the first window: nothing fires yet
	if _, err := r.Run(ctx, b); err != nil {
		t.Fatal(err)
	}
	// The spec has no idle timeout: a tick changes nothing, emits nothing, writes nothing.
	if _, err := r.Tick(ctx, "shard-1", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	p := reg.Snapshot()[0]
	if p.Ticks != 1 || p.Batches != 1 {
		t.Errorf("ticks %d batches %d, want 1 1", p.Ticks, p.Batches)
	}
	if p.StoreRoundTrips != 3 {
		t.Errorf("round trips %d, want 3 (get+put for the batch, get for the tick)", p.StoreRoundTrips)
	}
	// The watermark (t0+3s) is unchanged; the lag grows with processing time.
	if p.WatermarkLagSeconds == nil || *p.WatermarkLagSeconds != 297 {
		t.Errorf("lag after the tick = %v, want 297 s", p.WatermarkLagSeconds)
	}
}

func TestConcurrentPartitions(t *testing.T) {
	reg := metrics.New()
	r := newRunner(t, reg)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			b := knownBatch()
			b.Partition = fmt.Sprintf("p%d", i)
			for j := 0; j < 5; j++ {
				if _, err := r.Run(context.Background(), b); err != nil {
					t.Error(err)
				}
				_ = reg.Snapshot()
			}
		})
	}
	wg.Wait()
	snap := reg.Snapshot()
	if len(snap) != 8 {
		t.Fatalf("%d partitions, want 8", len(snap))
	}
	for _, p := range snap {
		if p.Batches != 5 || p.Records != 30 || p.Skipped != 24 || p.DeadLetters != 1 {
			t.Errorf("%s: batches %d records %d skipped %d dead letters %d; want 5 30 24 1", p.Partition, p.Batches, p.Records, p.Skipped, p.DeadLetters)
		}
	}
}

func TestPrometheusTextParses(t *testing.T) {
	reg := metrics.New()
	r := newRunner(t, reg)
	b := knownBatch()
	b.Partition = `odd "shard"\1` + "\n"
	if _, err := r.Run(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != metrics.PrometheusContentType {
		t.Errorf("content type %q", ct)
	}
	if f := expfmt.ResponseFormat(resp.Header); f.FormatType() != expfmt.TypeTextPlain {
		t.Errorf("format %v, want text", f)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	get := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Fatalf("no family %s", name)
		}
		for _, m := range f.Metric {
			lm := map[string]string{}
			for _, l := range m.Label {
				lm[l.GetName()] = l.GetValue()
			}
			match := lm["function"] == "m1" && lm["partition"] == b.Partition
			for k, v := range labels {
				match = match && lm[k] == v
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
		t.Fatalf("no series %s%v", name, labels)
		return math.NaN()
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"eddy_records_total", nil, 6},
		{"eddy_events_total", nil, 5},
		{"eddy_late_events_total", nil, 1},
		{"eddy_dead_letters_total", nil, 1},
		{"eddy_outputs_total", map[string]string{"type": "window"}, 2},
		{"eddy_outputs_total", map[string]string{"type": "decision"}, 1},
		{"eddy_outputs_total", map[string]string{"type": "late"}, 1},
		{"eddy_watermark_lag_seconds", nil, 9},
		{"eddy_iterator_age_seconds", nil, 2},
		{"eddy_store_round_trips_total", nil, 2},
		{"eddy_watermark_timestamp_seconds", nil, float64(t0.Add(61 * time.Second).Unix())},
	} {
		if got := get(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	h := fams["eddy_commit_latency_seconds"]
	if h == nil || len(h.Metric) != 1 || h.Metric[0].Histogram.GetSampleCount() != 1 {
		t.Fatalf("commit latency histogram: %v", h)
	}
	bk := h.Metric[0].Histogram.Bucket
	if n := len(bk); n != len(metrics.CommitBuckets)+1 {
		t.Fatalf("%d buckets, want %d and +Inf", n, len(metrics.CommitBuckets))
	}
	if last := bk[len(bk)-1]; !math.IsInf(last.GetUpperBound(), 1) || last.GetCumulativeCount() != 1 {
		t.Errorf("+Inf bucket = %v", last)
	}
	for i := 1; i < len(bk); i++ {
		if bk[i].GetCumulativeCount() < bk[i-1].GetCumulativeCount() {
			t.Errorf("buckets not cumulative: %v", bk)
		}
	}
	if st := get("eddy_state_bytes", nil); st <= 0 {
		t.Errorf("state bytes %v", st)
	}
}

func TestJSONSnapshot(t *testing.T) {
	reg := metrics.New()
	r := newRunner(t, reg)
	if _, err := r.Run(context.Background(), knownBatch()); err != nil {
		t.Fatal(err)
	}
	rr := httptest.NewRecorder()
	reg.JSONHandler().ServeHTTP(rr, httptest.NewRequest("GET", "/metrics.json", nil))
	if ct := rr.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	// Decode into a generic map: the field names are the contract dashboards read.
	var doc struct {
		Time       time.Time        `json:"time"`
		Partitions []map[string]any `json:"partitions"`
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, rr.Body)
	}
	if doc.Time.IsZero() || len(doc.Partitions) != 1 {
		t.Fatalf("snapshot: %s", rr.Body)
	}
	p := doc.Partitions[0]
	for k, want := range map[string]any{
		"function": "m1", "partition": "shard-1", "records": 6.0, "events": 5.0, "late": 1.0,
		"deadLetters": 1.0, "watermarkLagSeconds": 9.0, "iteratorAgeSeconds": 2.0, "batches": 1.0,
		"watermark": "2026-01-01T00:01:01Z", "storeRoundTrips": 2.0,
	} {
		if p[k] != want {
			t.Errorf("%s = %v, want %v", k, p[k], want)
		}
	}
	outs, _ := p["outputs"].(map[string]any)
	if outs["window"] != 2.0 || outs["decision"] != 1.0 || outs["late"] != 1.0 {
		t.Errorf("outputs = %v", p["outputs"])
	}
	cl, _ := p["commitLatency"].(map[string]any)
	if cl["count"] != 1.0 {
		t.Errorf("commitLatency = %v", cl)
	}
	if !strings.Contains(rr.Body.String(), `"stateBytes":`) {
		t.Errorf("no stateBytes: %s", rr.Body)
	}
}

func TestNoWatermarkNoLagSeries(t *testing.T) {
	reg := metrics.New()
	r := newRunner(t, reg)
	// Only an undecodable record: no event, so no watermark and no lag yet.
	b := core.Batch{Partition: "p", Now: t0, Records: []core.Record{{ID: "1", Offset: "1", Data: []byte("{")}}}
	if _, err := r.Run(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := reg.WritePrometheus(&sb); err != nil {
		t.Fatal(err)
	}
	text := sb.String()
	if strings.Contains(text, "eddy_watermark_lag_seconds{") || strings.Contains(text, "eddy_iterator_age_seconds{") {
		t.Errorf("lag or age series without a watermark or arrival time:\n%s", text)
	}
	if !strings.Contains(text, `eddy_dead_letters_total{function="m1",partition="p"} 1`+"\n") {
		t.Errorf("dead letter not counted:\n%s", text)
	}
}

func TestTee(t *testing.T) {
	if metrics.Tee(nil, nil) != nil {
		t.Error("Tee of nils is not nil")
	}
	a, b := metrics.New(), metrics.New()
	r := newRunner(t, metrics.Tee(a, nil, b))
	if _, err := r.Run(context.Background(), knownBatch()); err != nil {
		t.Fatal(err)
	}
	if a.Snapshot()[0].Records != 6 || b.Snapshot()[0].Records != 6 {
		t.Error("Tee did not hand the observation to both")
	}
}
