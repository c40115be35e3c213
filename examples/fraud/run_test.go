package fraud

// The harness below runs the example's spec the way `eddy dev` does: the in-memory broker of
// adapters/local partitions the records by the spec's key, delivers them in small ordered batches
// through the Runner (state in a mem:// store between batches), and at the end drains and closes
// every window.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state"
	_ "github.com/eddyhq/eddy/core/state/memstate"
)

// inputName is the path the README's command reads events.ndjson by, from the repository root.
const inputName = "examples/fraud/events.ndjson"

var update = flag.Bool("update", false, "regenerate events.ndjson and expected.ndjson")

// decision is the part of a decision line the scenario checks read.
type decision struct {
	ID       string         `json:"id"`
	Rule     string         `json:"rule"`
	Key      string         `json:"key"`
	State    string         `json:"state"`
	Severity string         `json:"severity"`
	Time     time.Time      `json:"time"`
	Window   span           `json:"window"`
	Values   map[string]any `json:"values"`
	line     string
}

type span struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

type lateLine struct {
	Key  string    `json:"key"`
	Time time.Time `json:"time"`
}

// collector is the sink and the dead-letter output of a run. Outputs are encoded as they arrive:
// the pipeline may reuse them after Emit returns.
type collector struct {
	mu        sync.Mutex
	decisions []string
	windows   []string
	late      []string
	dead      []string
}

func (c *collector) Emit(_ context.Context, outs []core.Output) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range outs {
		l := string(o.AppendJSON(nil))
		switch o.Type() {
		case "decision":
			c.decisions = append(c.decisions, l)
		case "window":
			c.windows = append(c.windows, l)
		case "late":
			c.late = append(c.late, l)
		}
	}
	return nil
}

func (c *collector) EmitFailures(_ context.Context, fs []*core.Failure) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range fs {
		c.dead = append(c.dead, f.Error())
	}
	return nil
}

// result is what one run produced, decisions in a canonical order (the partitions interleave
// freely, so arrival order is not part of the contract).
type result struct {
	decisions []decision
	windows   []string
	late      []lateLine
	dead      []string
}

func (r *result) decisionLines() []byte {
	var b bytes.Buffer
	for _, d := range r.decisions {
		b.WriteString(d.line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func loadSpec(t testing.TB) (*spec.Function, *spec.Compiled) {
	t.Helper()
	f, err := spec.Load("eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

// run delivers data through the local broker with the given partitions and batch size.
func run(t *testing.T, data []byte, partitions, batchSize int) *result {
	t.Helper()
	ctx := context.Background()
	f, c := loadSpec(t)
	keyDec, err := codec.New(codec.Config{Format: f.Input.Format, Key: f.Input.Key, ProcessingTime: true})
	if err != nil {
		t.Fatal(err)
	}
	var keyMu sync.Mutex
	var keyEv core.Event
	partitionKey := func(rec *core.Record) string {
		keyMu.Lock()
		defer keyMu.Unlock()
		if err := keyDec.Decode("", rec, time.Time{}, &keyEv); err != nil {
			return rec.ID // it will be dead-lettered; any partition will do
		}
		return keyEv.Key
	}
	store, err := state.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	col := &collector{}
	b, err := local.New(local.Config{
		Runner: runner.Config{
			Function: c.Name(), Store: store, Sink: col, DeadLetter: col,
			New: func(string) (runner.Processor, error) { return c.NewPipeline() },
		},
		Partitions: partitions, BatchSize: batchSize, MaxWait: time.Millisecond, PartitionKey: partitionKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Records are named as `eddy dev --input examples/fraud/events.ndjson` names them (path
	// and line), so that the late output and the dead letters name the records as the README's
	// command does.
	lines, err := codec.NewLines(bytes.NewReader(data), inputName)
	if err != nil {
		t.Fatal(err)
	}
	var rec core.Record
	for lines.Next(&rec) {
		if err := b.Publish(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := b.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Flush(dctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	r := &result{windows: col.windows, dead: col.dead}
	seen := map[string]bool{}
	for _, l := range col.decisions {
		var d decision
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("decision %s: %v", l, err)
		}
		if seen[d.ID] {
			t.Errorf("decision %s emitted twice", d.ID)
		}
		seen[d.ID] = true
		d.line = l
		r.decisions = append(r.decisions, d)
	}
	slices.SortFunc(r.decisions, func(a, b decision) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Key+"\x00"+a.Rule+"\x00"+a.ID, b.Key+"\x00"+b.Rule+"\x00"+b.ID)
	})
	for _, l := range col.late {
		var ll lateLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("late %s: %v", l, err)
		}
		r.late = append(r.late, ll)
	}
	slices.Sort(r.dead)
	return r
}

func dataset(t *testing.T) []byte {
	t.Helper()
	want := Generate(Seed, Accounts)
	if *update {
		if err := os.WriteFile("events.ndjson", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("events.ndjson differs from Generate(%d, %d): run go test ./examples/fraud -update, or go run ./examples/fraud/cmd/gen -o examples/fraud/events.ndjson", Seed, Accounts)
	}
	return got
}

// TestExpectedDecisions runs the spec over events.ndjson on 4 partitions in batches of 7 and
// compares the decisions with expected.ndjson byte for byte (-update rewrites it).
func TestExpectedDecisions(t *testing.T) {
	r := run(t, dataset(t), 4, 7)
	got := r.decisionLines()
	if *update {
		if err := os.WriteFile("expected.ndjson", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("expected.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("decisions differ from expected.ndjson (%d vs %d lines) at line %d:\ngot:  %s\nwant: %s\n(go test ./examples/fraud -update rewrites it)", len(gl)-1, len(wl)-1, i+1, g, w)
			}
		}
	}
}

// TestDeliveryDoesNotMatter: how records are partitioned and batched changes nothing in the
// decisions, the late output or the dead letters.
func TestDeliveryDoesNotMatter(t *testing.T) {
	data := dataset(t)
	base := run(t, data, 4, 7)
	for _, d := range []struct{ partitions, batch int }{{1, 1000}, {3, 1}, {8, 13}} {
		r := run(t, data, d.partitions, d.batch)
		if !bytes.Equal(r.decisionLines(), base.decisionLines()) {
			t.Errorf("%d partitions, batches of %d: decisions differ from 4 partitions, batches of 7", d.partitions, d.batch)
		}
		if !slices.Equal(r.late, base.late) || !slices.Equal(r.dead, base.dead) {
			t.Errorf("%d partitions, batches of %d: late %v dead %v; with 4/7: late %v dead %v", d.partitions, d.batch, r.late, r.dead, base.late, base.dead)
		}
	}
}

// BenchmarkFunction measures the function alone over the dataset (decoding, windows, aggregates,
// rules and patterns; no broker, no state store), in batches of 100 records.
func BenchmarkFunction(b *testing.B) {
	ctx := context.Background()
	_, c := loadSpec(b)
	data, err := os.ReadFile("events.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	lines, err := codec.NewLines(bytes.NewReader(data), inputName)
	if err != nil {
		b.Fatal(err)
	}
	var recs []core.Record
	for {
		var rec core.Record
		if !lines.Next(&rec) {
			break
		}
		recs = append(recs, rec)
	}
	outputs := 0
	emit := func(core.Output) { outputs++ }
	b.ReportAllocs()
	for b.Loop() {
		p, err := c.NewPipeline()
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(recs); i += 100 {
			if _, err := p.Run(ctx, core.Batch{Partition: "0", Records: recs[i:min(i+100, len(recs))]}, emit); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := p.Flush(ctx, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(outputs)/float64(b.N), "outputs/op")
}
