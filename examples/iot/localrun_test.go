package iot

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"os"
	"slices"
	"strconv"
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

var update = flag.Bool("update", false, "rewrite events.ndjson from the generator and expected.ndjson from the run")

// outputs is everything a run produced, sorted into what the tests look at.
type outputs struct {
	decisions []*core.Decision
	windows   []*core.WindowResult
	late      []*core.Late
	failures  []*core.Failure
}

// collector is the runner's Sink and DeadLetter; partitions emit concurrently.
type collector struct {
	mu  sync.Mutex
	out outputs
}

func (c *collector) Emit(_ context.Context, outs []core.Output) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range outs {
		switch o := core.CloneOutput(o).(type) {
		case *core.Decision:
			c.out.decisions = append(c.out.decisions, o)
		case *core.WindowResult:
			c.out.windows = append(c.out.windows, o)
		case *core.Late:
			c.out.late = append(c.out.late, o)
		}
	}
	return nil
}

func (c *collector) EmitFailures(_ context.Context, fs []*core.Failure) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.failures = append(c.out.failures, fs...)
	return nil
}

// runLocal runs the spec over the events as `eddy dev` does: records named as `eddy dev --input
// name` names them (pattern decision ids fold in the ids of the matched records), published in file order to the local
// broker, partitioned by the spec's key, consumed in batches of at most batch records with the
// state saved and restored between batches, and flushed at the end. Decisions come back sorted by
// time and key (the order of the partitions' interleaving is not deterministic; the order within a
// key is).
func runLocal(t *testing.T, specPath, name string, events []byte, partitions, batch int) *outputs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := spec.Load(specPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keyDec, err := codec.New(codec.Config{Format: f.Input.Format, Key: f.Input.Key, ProcessingTime: true})
	if err != nil {
		t.Fatal(err)
	}
	var ev core.Event
	partitionKey := func(rec *core.Record) string {
		if keyDec.Decode("", rec, time.Time{}, &ev) != nil {
			return rec.ID // dead-lettered by the pipeline; any partition will do
		}
		return ev.Key
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
		Partitions: partitions, BatchSize: batch, MaxWait: time.Millisecond,
		// No processing-time ticks: the outcome must depend on the events alone.
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
	lines, err := codec.NewLines(bytes.NewReader(events), name)
	if err != nil {
		t.Fatal(err)
	}
	var recs []core.Record
	var rec core.Record
	for lines.Next(&rec) {
		recs = append(recs, rec)
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
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
	// The run must have exercised what it claims to: keys spread over partitions, many small batches.
	if partitions > 1 && len(batches) < 2 {
		t.Errorf("%d of %d partitions received records", len(batches), partitions)
	}
	if total := sum(batches); total < len(recs)/batch {
		t.Errorf("%d batches for %d records of at most %d", total, len(recs), batch)
	}
	out := &col.out
	byTimeKey := func(ta, tb time.Time, ka, kb string) int {
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return cmp.Compare(ka, kb)
	}
	slices.SortStableFunc(out.decisions, func(a, b *core.Decision) int { return byTimeKey(a.Time, b.Time, a.Key, b.Key) })
	slices.SortStableFunc(out.late, func(a, b *core.Late) int { return byTimeKey(a.Time, b.Time, a.Key, b.Key) })
	slices.SortStableFunc(out.windows, func(a, b *core.WindowResult) int {
		if c := byTimeKey(a.End, b.End, a.Key, b.Key); c != 0 {
			return c
		}
		return cmp.Compare(a.Revision, b.Revision)
	})
	// Dead letters in line order (their ids are "NAME:LINE").
	line := func(f *core.Failure) int {
		n, _ := strconv.Atoi(f.Record.ID[strings.LastIndexByte(f.Record.ID, ':')+1:])
		return n
	}
	slices.SortStableFunc(out.failures, func(a, b *core.Failure) int { return cmp.Compare(line(a), line(b)) })
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// decisionLines is the decisions as JSON lines, the format of expected.ndjson.
func decisionLines(ds []*core.Decision) []byte {
	var b []byte
	for _, d := range ds {
		b = append(d.AppendJSON(b), '\n')
	}
	return b
}

// checkDataset compares the committed dataset with the generator's output (rewriting it with
// -update) and returns it.
func checkDataset(t *testing.T, path string, gen []byte) []byte {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, gen, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, gen) {
		t.Fatalf("%s differs from what the generator makes with the default seed: run go test -update", path)
	}
	return got
}

// checkGolden compares the decisions of a run with expected.ndjson (rewriting it with -update).
func checkGolden(t *testing.T, path string, ds []*core.Decision) {
	t.Helper()
	got := decisionLines(ds)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("decisions differ from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// brief is a decision as the scenario checks state it: rule key state time.
func brief(d *core.Decision) string {
	return d.Rule + " " + d.Key + " " + d.State + " " + d.Time.UTC().Format("15:04:05")
}

func briefs(ds []*core.Decision) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = brief(d)
	}
	return strings.Join(s, "\n")
}

func value(t *testing.T, r *core.WindowResult, name string) float64 {
	t.Helper()
	v, ok := r.Value(name)
	if !ok {
		t.Fatalf("window %s %s has no value %s", r.Key, r.End.Format(time.TimeOnly), name)
	}
	return v.Num
}

// failureLines returns the payloads of the dead-lettered records.
func failureLines(fs []*core.Failure) []string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f.Record.Data)
	}
	return s
}

// transitions is the decisions as rule key state, without times.
func transitions(ds []*core.Decision) []string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Rule + " " + d.Key + " " + d.State
	}
	return s
}
