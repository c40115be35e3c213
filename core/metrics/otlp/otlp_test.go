package otlp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/metrics/otlp"
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

func rec(off int, key string, ts time.Time) core.Record {
	return core.Record{ID: fmt.Sprint(off), Offset: fmt.Sprint(off), Time: t0.Add(time.Duration(62+off) * time.Second),
		Data: fmt.Appendf(nil, `{"key":%q,"ts":%d}`, key, ts.UnixMilli())}
}

// knownBatch: 6 records, 5 events, 2 window results, 1 decision, 1 late event, 1 dead letter;
// watermark t0+61s, newest arrival t0+68s, processed at t0+70s.
func knownBatch() core.Batch {
	bad := rec(4, "", t0)
	bad.Data = []byte("not json")
	return core.Batch{Partition: "p-1", Now: t0.Add(70 * time.Second), Records: []core.Record{
		rec(1, "a", t0.Add(1*time.Second)), rec(2, "a", t0.Add(2*time.Second)), rec(3, "b", t0.Add(3*time.Second)),
		bad, rec(5, "a", t0.Add(61*time.Second)), rec(6, "b", t0.Add(5*time.Second)),
	}}
}

// collector is an OTLP/HTTP receiver: it decodes every request's protobuf body.
type collector struct {
	mu      sync.Mutex
	reqs    []*colmetricpb.ExportMetricsServiceRequest
	headers []http.Header
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req colmetricpb.ExportMetricsServiceRequest
	if r.URL.Path != "/v1/metrics" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf POST to /v1/metrics", http.StatusBadRequest)
		return
	}
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, &req)
	c.headers = append(c.headers, r.Header.Clone())
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Write(out)
}

// last returns the metrics of the last request by name, and the service name of its resource.
func (c *collector) last(t *testing.T) (map[string]*metricpb.Metric, string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) == 0 {
		t.Fatal("no export received")
	}
	out := map[string]*metricpb.Metric{}
	service := ""
	for _, rm := range c.reqs[len(c.reqs)-1].ResourceMetrics {
		for _, a := range rm.Resource.GetAttributes() {
			if a.Key == "service.name" {
				service = a.Value.GetStringValue()
			}
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				out[m.Name] = m
			}
		}
	}
	return out, service
}

func attrs(kv []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, a := range kv {
		m[a.Key] = a.Value.GetStringValue()
	}
	return m
}

// value returns the value of the data point of m whose attributes include want.
func value(t *testing.T, m *metricpb.Metric, want map[string]string) float64 {
	t.Helper()
	if m == nil {
		t.Fatal("metric missing")
	}
	match := func(kv []*commonpb.KeyValue) bool {
		got := attrs(kv)
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
	switch d := m.Data.(type) {
	case *metricpb.Metric_Sum:
		if !d.Sum.IsMonotonic {
			t.Errorf("%s: not monotonic", m.Name)
		}
		for _, p := range d.Sum.DataPoints {
			if match(p.Attributes) {
				return float64(p.GetAsInt()) + p.GetAsDouble()
			}
		}
	case *metricpb.Metric_Gauge:
		for _, p := range d.Gauge.DataPoints {
			if match(p.Attributes) {
				return float64(p.GetAsInt()) + p.GetAsDouble()
			}
		}
	case *metricpb.Metric_Histogram:
		for _, p := range d.Histogram.DataPoints {
			if match(p.Attributes) {
				return float64(p.Count)
			}
		}
	}
	t.Fatalf("%s: no data point with %v", m.Name, want)
	return 0
}

func TestExportKnownBatch(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	// The standard variables configure the exporter.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer test-token")
	t.Setenv("OTEL_SERVICE_NAME", "m1-service")
	ctx := context.Background()
	exp, err := otlp.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close(ctx)
	f, err := spec.Parse("m1.yaml", []byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{Function: "m1", Store: memstate.New(nil), Observer: exp,
		New: func(string) (runner.Processor, error) { return c.NewPipeline() }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, knownBatch()); err != nil {
		t.Fatal(err)
	}
	ms, service := col.last(t)
	if service != "m1-service" {
		t.Errorf("service.name %q, want OTEL_SERVICE_NAME's", service)
	}
	if h := col.headers[0].Get("Authorization"); h != "Bearer test-token" {
		t.Errorf("authorization header %q, want OTEL_EXPORTER_OTLP_HEADERS'", h)
	}
	part := map[string]string{"function": "m1", "partition": "p-1"}
	for name, want := range map[string]float64{
		"eddy.records": 6, "eddy.events": 5, "eddy.late_events": 1, "eddy.dead_letters": 1, "eddy.batches": 1,
		"eddy.store.round_trips": 2, "eddy.watermark.lag": 9, "eddy.iterator.age": 2, "eddy.commit.duration": 1,
	} {
		if got := value(t, ms[name], part); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for typ, want := range map[string]float64{"window": 2, "decision": 1, "late": 1} {
		if got := value(t, ms["eddy.outputs"], map[string]string{"function": "m1", "partition": "p-1", "type": typ}); got != want {
			t.Errorf("outputs %s = %v, want %v", typ, got, want)
		}
	}
	if ms["eddy.watermark.lag"].Unit != "s" || ms["eddy.state.size"].Unit != "By" {
		t.Errorf("units %q %q", ms["eddy.watermark.lag"].Unit, ms["eddy.state.size"].Unit)
	}
	// A redelivery: counters are cumulative across exports.
	if _, err := r.Run(ctx, knownBatch()); err != nil {
		t.Fatal(err)
	}
	ms, _ = col.last(t)
	if got := value(t, ms["eddy.records"], part); got != 12 {
		t.Errorf("records after the redelivery = %v, want 12 (cumulative)", got)
	}
	if got := value(t, ms["eddy.records.skipped"], part); got != 6 {
		t.Errorf("skipped = %v, want 6", got)
	}
}

// With an interval, observations within it are not exported until Flush; nothing is lost.
func TestIntervalAndFlush(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	ctx := context.Background()
	exp, err := otlp.New(ctx, &otlp.Options{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	o := &runner.Observation{Function: "f", Partition: "0", Now: t0, Attempts: 1, StoreCalls: 2,
		Result: core.Result{Stats: core.Stats{Records: 3, Events: 3}}}
	for range 3 {
		exp.Observe(ctx, o)
	}
	col.mu.Lock()
	n := len(col.reqs)
	col.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d exports for 3 observations within the interval, want 1 (the first)", n)
	}
	if err := exp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ms, _ := col.last(t)
	if got := value(t, ms["eddy.records"], map[string]string{"function": "f"}); got != 9 {
		t.Errorf("records after Close = %v, want 9", got)
	}
}

// An unreachable receiver costs a logged warning, never the batch.
func TestExportFailureDoesNotFailTheBatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad request", http.StatusBadRequest)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	ctx := context.Background()
	exp, err := otlp.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{Function: "f", Store: memstate.New(nil), Observer: exp,
		New: func(string) (runner.Processor, error) { return nopProc{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, core.Batch{Partition: "0", Now: t0, Records: []core.Record{{ID: "1", Offset: "1"}}}); err != nil {
		t.Fatalf("the batch failed with the receiver: %v", err)
	}
	if err := exp.Flush(ctx); err == nil {
		t.Error("Flush to a failing receiver succeeded")
	}
}

type nopProc struct{}

func (nopProc) Restore([]byte) error { return nil }
func (nopProc) Process(_ context.Context, b core.Batch) (core.Result, error) {
	return core.Result{Stats: core.Stats{Records: len(b.Records)}}, nil
}
func (nopProc) Tick(context.Context, time.Time) (core.Result, error) { return core.Result{}, nil }
func (nopProc) Snapshot() ([]byte, error)                            { return nil, nil }
