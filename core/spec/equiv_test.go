package spec

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/internal/pipeline"
)

const equivYAML = `name: equiv
input:
  format: json
  key: key
  time: ts
  time_format: unix_ms
  out_of_order: 2s
window:
  sliding: {size: 10s, slide: 5s}
  allowed_lateness: 1s
aggregates:
  - {name: n, count: true}
  - {name: avg, avg: value}
  - {name: hi, max: value}
  - {name: p90, p90: value}
  - {name: sd, op: stddev, field: value}
rules:
  - name: hot
    when: avg > 60.0
    clear: avg < 40.0
    for: 2
    keep_firing_for: 5s
    severity: warning
    emit_pending: true
anomalies:
  - {name: burst, aggregate: n, method: ewma, alpha: 0.3, threshold: 2.5}
crossovers:
  - {name: trend, of: avg, fast: 2, slow: 4, average: ema, min_spread: 0.01, severity: info}
patterns:
  - name: spike
    steps:
      - {name: high, where: value > 90.0, min_times: 2, max_times: 3}
      - {name: low, where: value < 10.0}
    within: 5s
    contiguity: strict
limits:
  cost_limit: 50000
`

// equivGo is equivYAML written in Go.
func equivGo() *Function {
	return &Function{
		Name:  "equiv",
		Input: Input{Format: "json", Key: "key", Time: "ts", TimeFormat: "unix_ms", OutOfOrder: 2 * time.Second},
		Window: Window{
			Sliding:         &Sliding{Size: 10 * time.Second, Slide: 5 * time.Second},
			AllowedLateness: time.Second,
		},
		Aggregates: []Aggregate{
			{Name: "n", Op: "count"},
			{Name: "avg", Op: "avg", Field: "value"},
			{Name: "hi", Op: "max", Field: "value"},
			{Name: "p90", Op: "quantile", Field: "value", Q: 0.9},
			{Name: "sd", Op: "stddev", Field: "value"},
		},
		Rules: []Rule{{Name: "hot", When: "avg > 60.0", Clear: "avg < 40.0", For: Windows(2), KeepFiringFor: For(5 * time.Second),
			Severity: "warning", EmitPending: true}},
		Anomalies:  []Anomaly{{Name: "burst", Aggregate: "n", Method: "ewma", Alpha: 0.3, Threshold: 2.5}},
		Crossovers: []Crossover{{Name: "trend", Of: "avg", Fast: 2, Slow: 4, Average: rule.EMA, MinSpread: 0.01, Severity: "info"}},
		Patterns: []Pattern{{Name: "spike", Within: 5 * time.Second, Contiguity: "strict", Steps: []Step{
			{Name: "high", Where: "value > 90.0", MinTimes: 2, MaxTimes: 3},
			{Name: "low", Where: "value < 10.0"},
		}}},
		Limits: Limits{CostLimit: 50000},
	}
}

// genBatches makes batches of W-style JSON events: 20 keys, time advancing ~50 ms per event with up
// to 3 s of disorder (so some are late), values that make rules, anomalies and patterns fire.
func genBatches(seed uint64, n, perBatch int) []core.Batch {
	rng := rand.New(rand.NewPCG(seed, 1))
	base := int64(1_700_000_000_000)
	var batches []core.Batch
	var recs []core.Record
	for i := range n {
		base += rng.Int64N(100)
		ts := base - rng.Int64N(3000)
		v := rng.Float64() * 100
		if rng.IntN(4) == 0 {
			v = 91 + rng.Float64()*9
		}
		recs = append(recs, core.Record{ID: fmt.Sprint(i), Offset: fmt.Sprint(i),
			Data: fmt.Appendf(nil, `{"key":"sensor-%04d","ts":%d,"value":%.3f}`, rng.IntN(20), ts, v)})
		if len(recs) == perBatch {
			batches = append(batches, core.Batch{Partition: "0", Records: recs, Now: time.UnixMilli(base)})
			recs = nil
		}
	}
	if len(recs) > 0 {
		batches = append(batches, core.Batch{Partition: "0", Records: recs, Now: time.UnixMilli(base)})
	}
	return batches
}

// outputs runs p over the batches and a flush, returning every output's JSON, one per line.
func outputs(t testing.TB, p *pipeline.Pipeline, batches []core.Batch) []byte {
	t.Helper()
	ctx := context.Background()
	var b []byte
	for _, batch := range batches {
		res, err := p.Process(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Outputs {
			b = append(o.AppendJSON(b), '\n')
		}
	}
	if _, err := p.Flush(ctx, func(o core.Output) { b = append(o.AppendJSON(b), '\n') }); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestYAMLAndGoAreEquivalent(t *testing.T) {
	fy, err := Parse("equiv.yaml", []byte(equivYAML))
	if err != nil {
		t.Fatal(err)
	}
	fg := equivGo()
	if !reflect.DeepEqual(fy, fg) {
		t.Fatalf("YAML decodes to\n%+v\nGo literal is\n%+v", fy, fg)
	}
	py, err := fy.Build()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := fg.Build()
	if err != nil {
		t.Fatal(err)
	}
	batches := genBatches(7, 20000, 500)
	oy, og := outputs(t, py, batches), outputs(t, pg, batches)
	if !bytes.Equal(oy, og) {
		t.Fatalf("outputs differ: %d bytes from YAML, %d from Go", len(oy), len(og))
	}
	// The comparison means something only if every kind of output occurred.
	for _, s := range []string{`"type":"window"`, `"rule":"hot","key":"sensor-0000","state":"pending"`, `"state":"firing"`,
		`"state":"resolved"`, `"rule":"burst"`, `"rule":"spike"`, `"type":"late"`,
		`"rule":"trend","key":"sensor-0000","state":"golden"`, `"rule":"trend","key":"sensor-0000","state":"death"`} {
		if !bytes.Contains(oy, []byte(s)) {
			t.Errorf("no output contains %s", s)
		}
	}
}

// Pipelines from one Compiled are independent: concurrent partitions give what one pipeline alone
// gives.
func TestCompiledConcurrentPipelines(t *testing.T) {
	c, err := equivGo().Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	batches := genBatches(11, 5000, 250)
	p, err := c.NewPipeline()
	if err != nil {
		t.Fatal(err)
	}
	want := outputs(t, p, batches)
	var wg sync.WaitGroup
	got := make([][]byte, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := c.NewPipeline()
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = outputs(t, p, batches)
		}()
	}
	wg.Wait()
	for i, g := range got {
		if !bytes.Equal(g, want) {
			t.Errorf("pipeline %d: outputs differ from a lone pipeline's", i)
		}
	}
}

func TestCompileDoesNotAliasFunction(t *testing.T) {
	f := equivGo()
	c, err := f.Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	batches := genBatches(3, 3000, 300)
	p1, _ := c.NewPipeline()
	want := outputs(t, p1, batches)
	f.Aggregates[1].Field = "other"
	f.Rules[0].When = "avg > 1000.0"
	p2, _ := c.NewPipeline()
	if got := outputs(t, p2, batches); !bytes.Equal(got, want) {
		t.Fatal("changing the Function after Compile changed the Compiled")
	}
}

func TestOutputsSelection(t *testing.T) {
	f := equivGo()
	f.Outputs = Outputs{Format: "cloudevents", Include: []string{"decision"}, Source: "urn:test"}
	c, err := f.Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &core.WindowResult{Function: "equiv", Key: "k", Start: time.Unix(0, 0), End: time.Unix(10, 0)}
	if b, ok := c.AppendOutput(nil, w); ok || len(b) != 0 {
		t.Errorf("window result written: %s", b)
	}
	d := &core.Decision{ID: "id1", Function: "equiv", Rule: "hot", Key: "k", State: "firing", Time: time.Unix(10, 0)}
	b, ok := c.AppendOutput(nil, d)
	if !ok || !bytes.HasPrefix(b, []byte(`{"specversion":"1.0","id":"id1","source":"urn:test","type":"dev.eddy.decision"`)) {
		t.Errorf("decision written as %s", b)
	}
	f.Outputs = Outputs{}
	c, _ = f.Compile(Options{})
	if b, ok := c.AppendOutput(nil, w); !ok || !bytes.Equal(b, w.AppendJSON(nil)) {
		t.Errorf("default outputs wrote %s", b)
	}
}

func TestOptions(t *testing.T) {
	f := equivGo()
	f.Input.Key, f.Input.Time, f.Input.TimeFormat = "", "", ""
	f.Patterns = nil
	var calls int
	var mu sync.Mutex
	opts := Options{
		KeyFunc: func(ev *core.Event) (string, error) { return "all", nil },
		TimeFunc: func(ev *core.Event) (time.Time, error) {
			mu.Lock()
			calls++
			mu.Unlock()
			return time.UnixMilli(1_700_000_000_000 + int64(ev.Pos.Offset[0]-'0')*1000), nil
		},
	}
	if err := f.Validate(); err == nil {
		t.Fatal("Validate accepted a function without a time source")
	}
	c, err := f.Compile(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.NewPipeline()
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Process(context.Background(), core.Batch{Records: []core.Record{
		{ID: "a", Offset: "1", Data: []byte(`{"value":1}`)}, {ID: "b", Offset: "9", Data: []byte(`{"value":3}`)}}})
	if err != nil || res.Stats.Events != 2 || calls != 2 {
		t.Fatalf("events %d, TimeFunc calls %d, err %v", res.Stats.Events, calls, err)
	}
	// A handler sees every window result after the built-in rules.
	var results int
	opts.Handlers = []rule.Handler{rule.HandlerFunc(func(ctx context.Context, r *core.WindowResult, emit rule.Emit) error {
		mu.Lock()
		results++
		mu.Unlock()
		emit(rule.NewDecision(r, "custom", "seen", "info"))
		return nil
	})}
	c, err = f.Compile(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, _ = c.NewPipeline()
	if _, err := p.Process(context.Background(), core.Batch{Records: []core.Record{{ID: "a", Offset: "1", Data: []byte(`{"value":1}`)}}}); err != nil {
		t.Fatal(err)
	}
	var custom int
	if _, err := p.Flush(context.Background(), func(o core.Output) {
		if d, ok := o.(*core.Decision); ok && d.Rule == "custom" {
			custom++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if results == 0 || custom != results {
		t.Errorf("handler saw %d results and emitted %d decisions", results, custom)
	}
	f.Input.Key = "key"
	if _, err := f.Compile(opts); err == nil || err.Error() != "input.key: set, and Options.KeyFunc computes the key too (keep one)" {
		t.Errorf("key and KeyFunc: %v", err)
	}
}
