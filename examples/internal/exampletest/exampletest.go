// Package exampletest is the harness of the examples' tests, built on the public test kit
// core/eddytest so that the examples are tested the way users test their functions: the committed
// events.ndjson and expected.ndjson are golden files (eddytest.CompareGolden; -update, eddytest's
// flag, rewrites them), the records are read by eddytest.ReadRecords, and the deliveries that must
// agree (partitions, batch splits, state restores) are eddytest.Outputs'.
//
// The scenario checks read typed outputs eddytest does not give (window results, which most
// examples do not emit, late events, dead letters), so the harness also runs the spec the way
// `eddy dev` does: through the in-memory broker of adapters/local, partitioned by the spec's key,
// in small ordered batches through the Runner with the state in a mem:// store between batches,
// then drained and flushed. Only the examples' tests import it.
package exampletest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/eddytest"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state"
	_ "github.com/eddyhq/eddy/core/state/memstate"
)

// Options says what Run runs and how the broker delivers it.
type Options struct {
	// Spec is the path of the function's eddy.yaml.
	Spec string
	// Edit, if not nil, changes the loaded spec before it is compiled: a variant of the committed
	// function.
	Edit func(*spec.Function)
	// Name names the records as `eddy dev --input NAME` does (NAME:LINE), so that the late
	// output, the dead letters and the pattern decisions' ids (which fold in the matched records'
	// ids) are those of the README's command.
	Name string
	// Events is the newline-delimited input.
	Events []byte
	// Partitions and BatchSize configure the broker: the records are partitioned by the spec's
	// key and consumed in batches of at most BatchSize.
	Partitions, BatchSize int
}

// Outputs is everything a run produced, in an order that does not depend on how the partitions
// interleaved: decisions and late events by time, key (then rule and id); windows by end, key and
// revision; dead letters by line.
type Outputs struct {
	Decisions []*core.Decision
	Windows   []*core.WindowResult
	Late      []*core.Late
	Failures  []*core.Failure
}

// Load loads the spec at path, changes it with edit if edit is not nil, and compiles it.
func Load(tb testing.TB, path string, edit func(*spec.Function)) (*spec.Function, *spec.Compiled) {
	tb.Helper()
	f, err := spec.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	if edit != nil {
		edit(f)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return f, c
}

// records splits events into records named as `eddy dev --input name` names them.
func records(tb testing.TB, events []byte, name string) []core.Record {
	tb.Helper()
	recs, err := eddytest.ReadRecords(bytes.NewReader(events), name)
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

// collector is the runner's Sink and DeadLetter; partitions emit concurrently. Outputs are
// copied as they arrive: the pipeline may reuse them after Emit returns.
type collector struct {
	mu  sync.Mutex
	out Outputs
}

func (c *collector) Emit(_ context.Context, outs []core.Output) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range outs {
		switch o := core.CloneOutput(o).(type) {
		case *core.Decision:
			// CloneOutput copies the values, not the top-k lists inside them.
			for i := range o.Values {
				o.Values[i].Items = slices.Clone(o.Values[i].Items)
			}
			c.out.Decisions = append(c.out.Decisions, o)
		case *core.WindowResult:
			c.out.Windows = append(c.out.Windows, o)
		case *core.Late:
			c.out.Late = append(c.out.Late, o)
		}
	}
	return nil
}

func (c *collector) EmitFailures(_ context.Context, fs []*core.Failure) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Failures = append(c.out.Failures, fs...)
	return nil
}

// Run runs the spec over the events: published in file order to the local broker, partitioned by
// the spec's key, consumed in batches with the state saved and restored between them, without
// processing-time ticks (the outcome must depend on the events alone), and flushed at the end. It
// fails t if a batch fails, if the delivery was not what o asks for (keys spread over the
// partitions, many small batches) or if a decision is emitted twice.
func Run(t testing.TB, o Options) *Outputs {
	t.Helper()
	if o.Partitions < 1 || o.BatchSize < 1 {
		t.Fatalf("exampletest.Run: %d partitions, batches of %d: both must be at least 1", o.Partitions, o.BatchSize)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, c := Load(t, o.Spec, o.Edit)
	keyDec, err := codec.New(codec.Config{Format: f.Input.Format, Key: f.Input.Key, ProcessingTime: true})
	if err != nil {
		t.Fatal(err)
	}
	var keyMu sync.Mutex
	var keyEv core.Event
	partitionKey := func(rec *core.Record) string {
		keyMu.Lock()
		defer keyMu.Unlock()
		if keyDec.Decode("", rec, time.Time{}, &keyEv) != nil {
			return rec.ID // dead-lettered by the pipeline; any partition will do
		}
		return keyEv.Key
	}
	store, err := state.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	col := &collector{}
	var bmu sync.Mutex
	batches := map[string]int{}
	b, err := local.New(local.Config{
		Runner: runner.Config{
			Function: c.Name(), Store: store, Sink: col, DeadLetter: col,
			New: func(string) (runner.Processor, error) { return c.NewPipeline() },
		},
		Partitions: o.Partitions, BatchSize: o.BatchSize, MaxWait: time.Millisecond,
		TickInterval: -1,
		PartitionKey: partitionKey,
		OnBatch: func(bi local.BatchInfo) {
			if bi.Err != nil {
				t.Errorf("partition %s batch %s..%s: %v", bi.Partition, bi.First, bi.Last, bi.Err)
			}
			if bi.Records > 0 {
				bmu.Lock()
				batches[bi.Partition]++
				bmu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	recs := records(t, o.Events, o.Name)
	if err := b.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	bmu.Lock()
	defer bmu.Unlock()
	if o.Partitions > 1 && len(batches) < 2 {
		t.Errorf("%d of %d partitions received records", len(batches), o.Partitions)
	}
	total := 0
	for _, n := range batches {
		total += n
	}
	if total < len(recs)/o.BatchSize {
		t.Errorf("%d batches for %d records of at most %d", total, len(recs), o.BatchSize)
	}

	out := &col.out
	seen := map[string]bool{}
	for _, d := range out.Decisions {
		if seen[d.ID] {
			t.Errorf("decision %s emitted twice", d.ID)
		}
		seen[d.ID] = true
	}
	slices.SortFunc(out.Decisions, func(a, b *core.Decision) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.ID, b.ID))
	})
	// Within a key, late events and window revisions arrive in a deterministic order: keep it.
	slices.SortStableFunc(out.Late, func(a, b *core.Late) int { return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Key, b.Key)) })
	slices.SortStableFunc(out.Windows, func(a, b *core.WindowResult) int {
		return cmp.Or(a.End.Compare(b.End), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Revision, b.Revision))
	})
	slices.SortStableFunc(out.Failures, func(a, b *core.Failure) int { return cmp.Compare(line(a), line(b)) })
	return out
}

// line is the line number in a dead letter's record id, NAME:LINE.
func line(f *core.Failure) int {
	n, _ := strconv.Atoi(f.Record.ID[strings.LastIndexByte(f.Record.ID, ':')+1:])
	return n
}

// DecisionLines returns the decisions as JSON lines, the lines of expected.ndjson.
func (o *Outputs) DecisionLines() []string {
	s := make([]string, len(o.Decisions))
	for i, d := range o.Decisions {
		s[i] = string(d.AppendJSON(nil))
	}
	return s
}

// DeadLetters returns the dead letters' messages (record, field, reason), sorted as strings.
func (o *Outputs) DeadLetters() []string {
	s := make([]string, len(o.Failures))
	for i, f := range o.Failures {
		s[i] = f.Error()
	}
	slices.Sort(s)
	return s
}

// deliveries are how Example.Check cuts the stream, for eddytest.Outputs (which runs each partition
// in one invocation, in invocations of batch records, and the same with the state restored between
// them, and fails unless the three agree) and for the local broker: several partitions in small
// batches (the first, whose late events and dead letters the others must reproduce), one partition
// in big batches, a batch per record, and more partitions than most examples have keys for.
var deliveries = []struct{ partitions, batch int }{{4, 7}, {1, 1000}, {3, 1}, {8, 13}}

// now is the processing time of eddytest's invocations, after every example's events (a later event
// is dead-lettered: spec.Input.MaxFuture); the examples decide on event time alone.
var now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// delivery is what eddytest.Outputs gave for one delivery, in an order that does not depend on the
// partitions: the decision lines in Outputs.Decisions' order, the late events' records, keys and
// times (the watermark they met, their partition and offset depend on the delivery), the dead
// letters' records, fields and reasons.
type delivery struct {
	decisions  []string
	late, dead []string
}

func deliver(t testing.TB, fn *spec.Function, recs []core.Record, partitions, batch int) delivery {
	t.Helper()
	// Every output, window results too, whatever the spec writes: eddytest.Outputs checks that the
	// cuts of a partition agree on them. (Not the partitionings: early results depend on a
	// partition's watermark.)
	all := *fn
	all.Outputs.Include = nil
	lines, err := eddytest.Outputs(&all, recs, partitions, batch, now)
	if err != nil {
		t.Fatal(err)
	}
	var d delivery
	var ds []Decision
	for _, l := range lines {
		var o struct {
			Decision
			Type, Record, Field, Reason string
		}
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("output %s: %v", l, err)
		}
		switch o.Type {
		case "decision":
			o.Line = l
			ds = append(ds, o.Decision)
		case "late":
			d.late = append(d.late, o.Record+" "+o.Key+" "+o.Time.UTC().Format(time.RFC3339Nano))
		case "deadletter":
			d.dead = append(d.dead, o.Record+" "+o.Field+" "+o.Reason)
		}
	}
	// The order of Run's Outputs.Decisions, which expected.ndjson has.
	slices.SortFunc(ds, func(a, b Decision) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.ID, b.ID))
	})
	for _, x := range ds {
		d.decisions = append(d.decisions, x.Line)
	}
	slices.Sort(d.late)
	slices.Sort(d.dead)
	return d
}

// Example is one function of an example and its dataset: a directory holding eddy.yaml,
// events.ndjson (made by a generator) and expected.ndjson (the decisions of a run over it).
type Example struct {
	// Dir is the directory, relative to the test's package ("" for the package's own).
	Dir string
	// Name is the path the README's command reads events.ndjson by, from the repository root:
	// the records are named after it (see Options.Name).
	Name string
	// Generate makes events.ndjson.
	Generate func() []byte
}

func (e Example) path(file string) string { return filepath.Join(e.Dir, file) }

// Options returns the Options that run the example's function over events.
func (e Example) Options(events []byte, partitions, batchSize int) Options {
	return Options{Spec: e.path("eddy.yaml"), Name: e.Name, Events: events, Partitions: partitions, BatchSize: batchSize}
}

// Dataset returns events.ndjson after checking that it is what Generate makes (with -update it
// writes it first).
func (e Example) Dataset(t testing.TB) []byte {
	t.Helper()
	return Dataset(t, e.path("events.ndjson"), e.Generate())
}

// Check checks the example's function over Dataset under each of a few deliveries, a subtest
// each (see deliveries). eddytest.Outputs must give the same outputs, window results included,
// however the partitions' records are split into invocations and whether the state is restored
// between them; its decisions must equal expected.ndjson byte for byte (with -update they rewrite
// it), and its late events and dead letters must be the first delivery's. The scenario checks read
// typed outputs (window results, late events, dead letters) that eddytest does not give, so the
// function also runs through the local broker with the same partitions and batches, as `eddy dev`
// runs it: its decisions must equal expected.ndjson too, and scenarios, if not nil, checks its
// outputs.
func (e Example) Check(t *testing.T, scenarios func(*testing.T, *Outputs)) {
	t.Helper()
	events := e.Dataset(t)
	fn, _ := Load(t, e.path("eddy.yaml"), nil)
	recs := records(t, events, e.Name)
	var first *delivery
	for _, d := range deliveries {
		t.Run(fmt.Sprintf("partitions=%d,batch=%d", d.partitions, d.batch), func(t *testing.T) {
			got := deliver(t, fn, recs, d.partitions, d.batch)
			golden(t, e.path("expected.ndjson"), got.decisions)
			if first == nil {
				first = &got
			}
			if !slices.Equal(got.late, first.late) {
				t.Errorf("late events differ from the first delivery's:\n%s\nfirst:\n%s", strings.Join(got.late, "\n"), strings.Join(first.late, "\n"))
			}
			if !slices.Equal(got.dead, first.dead) {
				t.Errorf("dead letters differ from the first delivery's:\n%s\nfirst:\n%s", strings.Join(got.dead, "\n"), strings.Join(first.dead, "\n"))
			}
			out := Run(t, e.Options(events, d.partitions, d.batch))
			golden(t, e.path("expected.ndjson"), out.DecisionLines())
			if scenarios != nil {
				scenarios(t, out)
			}
		})
	}
}

// golden is eddytest.CompareGolden, failing on no decisions too: a run that decides nothing would
// match an empty golden file.
func golden(t testing.TB, path string, decisions []string) {
	t.Helper()
	if len(decisions) == 0 {
		t.Fatalf("no decisions for %s", path)
	}
	eddytest.CompareGolden(t, path, decisions)
}

// lines splits newline-terminated text into its lines; eddytest.CompareGolden joins them back,
// byte for byte.
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// Benchmark measures the function alone over events.ndjson (decoding, windows, aggregates, rules
// and patterns; no broker, no state store), in batches of 100 records. It reports records/s and
// outputs/op.
func (e Example) Benchmark(b *testing.B) {
	ctx := context.Background()
	_, c := Load(b, e.path("eddy.yaml"), nil)
	data, err := os.ReadFile(e.path("events.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	recs := records(b, data, e.Name)
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

// Dataset returns the committed dataset at path after checking that it is generated, the
// generator's output (with -update, eddytest.CompareGolden writes generated there first).
func Dataset(t testing.TB, path string, generated []byte) []byte {
	t.Helper()
	if len(generated) == 0 || generated[len(generated)-1] != '\n' {
		t.Fatalf("the generator of %s makes %d bytes, not newline-terminated lines", path, len(generated))
	}
	eddytest.CompareGolden(t, path, lines(generated))
	if t.Failed() {
		t.Fatalf("%s is not what the generator makes with the default seed (the example's cmd/gen writes it too)", path)
	}
	return generated
}

// Decision is a decision line as the scenario checks read it: its JSON decoded, values as
// encoding/json gives them (numbers are float64).
type Decision struct {
	ID       string         `json:"id"`
	Rule     string         `json:"rule"`
	Key      string         `json:"key"`
	State    string         `json:"state"`
	Severity string         `json:"severity"`
	Time     time.Time      `json:"time"`
	Window   Span           `json:"window"`
	Values   map[string]any `json:"values"`
	// Line is the decision's JSON line, without its newline.
	Line string `json:"-"`
}

// Span is a decision's window.
type Span struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Late is a late event as the scenario checks read it.
type Late struct {
	Key  string    `json:"key"`
	Time time.Time `json:"time"`
}

// View is a run's outputs as JSON lines, as the examples that check their scenarios on the
// encoded outputs read them.
type View struct {
	// Decisions are in the order of Outputs.Decisions.
	Decisions []Decision
	// Windows are the window results' JSON lines.
	Windows []string
	Late    []Late
	// Dead is Outputs.DeadLetters.
	Dead []string
}

// View encodes the outputs and decodes them back into a View.
func (o *Outputs) View(t testing.TB) *View {
	t.Helper()
	v := &View{Dead: o.DeadLetters()}
	for _, l := range o.DecisionLines() {
		dv := Decision{Line: l}
		if err := json.Unmarshal([]byte(l), &dv); err != nil {
			t.Fatalf("decision %s: %v", l, err)
		}
		v.Decisions = append(v.Decisions, dv)
	}
	for _, w := range o.Windows {
		v.Windows = append(v.Windows, string(w.AppendJSON(nil)))
	}
	for _, l := range o.Late {
		v.Late = append(v.Late, Late{Key: l.Key, Time: l.Time})
	}
	return v
}

// brief is a decision as the scenario checks state it: rule, key, state and time of day.
func brief(d *core.Decision) string {
	return d.Rule + " " + d.Key + " " + string(d.State) + " " + d.Time.UTC().Format("15:04:05")
}

// Briefs is the decisions in brief, one a line.
func Briefs(ds []*core.Decision) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = brief(d)
	}
	return strings.Join(s, "\n")
}

// Transitions is the decisions as rule, key and state, without times: what other seeds of a
// generator must reproduce.
func Transitions(ds []*core.Decision) []string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Rule + " " + d.Key + " " + string(d.State)
	}
	return s
}

// Value returns the window result's numeric value name, failing t if it has none.
func Value(t testing.TB, r *core.WindowResult, name string) float64 {
	t.Helper()
	v, ok := r.Value(name)
	if !ok {
		t.Fatalf("window %s %s has no value %s", r.Key, r.End.Format(time.TimeOnly), name)
	}
	return v.Num
}

// FailureLines returns the payloads of the dead-lettered records.
func FailureLines(fs []*core.Failure) []string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f.Record.Data)
	}
	return s
}
