// Package eddytest tests an eddy function the way net/http/httptest tests a handler: in a few lines,
// with the stream cut the way serverless runtimes cut it.
//
//	func TestAlarms(t *testing.T) {
//		fn, _ := eddy.Load("eddy.yaml") // or an &eddy.Function{...} written in Go
//		eddytest.Run(t, fn, "testdata/events.ndjson", eddytest.Partitions(4), eddytest.Batch(7))
//	}
//
// Run spreads the events over partitions by key, as a keyed stream (Kinesis shards, ordering keys,
// Event Hubs partition keys) does, and runs each partition three ways: in one invocation, in
// invocations of Batch records, and in invocations of Batch records with the state saved and
// restored into a fresh engine between them, as the next invocation of a stateless function does.
// The three must give the same outputs byte for byte; those outputs (and the dead letters) must
// equal the golden file, testdata/<TestName>.golden, which `go test -update` rewrites.
package eddytest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/spec"
)

// updateFlag is the -update flag; another package of the test binary may have defined it already.
func updateFlag() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite eddytest golden files instead of comparing with them")
	}
}

type config struct {
	partitions int
	batch      int
	golden     string
	now        time.Time
	opts       spec.Options
}

// Option changes how Run runs the function.
type Option func(*config)

// Partitions spreads the events over n partitions by a hash of their key (default 1). Events
// without a key of their own (a spec whose key is $key, or no key) all go to one partition.
func Partitions(n int) Option { return func(c *config) { c.partitions = max(1, n) } }

// Batch is the number of records of one invocation in the split runs (default 7).
func Batch(n int) Option { return func(c *config) { c.batch = max(1, n) } }

// Golden names the golden file (default testdata/<TestName>.golden, with '/' in subtest names
// replaced by '_').
func Golden(path string) Option { return func(c *config) { c.golden = path } }

// With compiles the function with the hooks only Go can give (custom aggregates, key and time
// functions, decision handlers, reference-table loaders).
func With(o spec.Options) Option { return func(c *config) { c.opts = o } }

// DefaultNow is the processing time of every invocation unless Now says otherwise: one fixed time,
// so runs are deterministic, and after any event a test holds, so input.max_future dead-letters
// none of them (a time close to today's would turn tomorrow's fixtures into dead letters). Set Now
// to test max_future itself.
var DefaultNow = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// Now sets the processing time of every invocation (default DefaultNow).
func Now(t time.Time) Option { return func(c *config) { c.now = t } }

// Run runs fn over the newline-delimited events in the file at events (plain or gzip) and checks
// the outputs as the package doc says. It returns the output lines (window results, decisions, late
// events, then dead letters, partition by partition).
func Run(t testing.TB, fn *spec.Function, events string, opts ...Option) []string {
	t.Helper()
	c := config{partitions: 1, batch: 7, now: DefaultNow}
	for _, o := range opts {
		o(&c)
	}
	if c.golden == "" {
		c.golden = filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".golden")
	}
	f, err := os.Open(events)
	if err != nil {
		t.Fatalf("eddytest: %v", err)
	}
	defer f.Close()
	recs, err := ReadRecords(f, filepath.Base(events))
	if err != nil {
		t.Fatalf("eddytest: %v", err)
	}
	got, err := outputs(fn, c.opts, recs, c.partitions, c.batch, c.now)
	if err != nil {
		t.Fatalf("eddytest: %v", err)
	}
	CompareGolden(t, c.golden, got)
	return got
}

// CompareGolden fails t unless lines equal the golden file; with -update it writes the file.
func CompareGolden(t testing.TB, golden string, lines []string) {
	t.Helper()
	text := strings.Join(lines, "\n")
	if len(lines) > 0 {
		text += "\n"
	}
	if updateFlag() {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("eddytest: no golden file %s: run `go test -run '%s' -update` to write it, then review it", golden, t.Name())
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != text {
		t.Errorf("eddytest: outputs differ from %s (`go test -update` rewrites it):\n%s", golden, lineDiff(strings.Split(strings.TrimSuffix(string(want), "\n"), "\n"), lines))
	}
}

// lineDiff shows the first differing lines with a few of their neighbours.
func lineDiff(want, got []string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines, want %d; first difference at line %d\n", len(got), len(want), i+1)
	for j := i; j < i+3; j++ {
		if j < len(want) {
			fmt.Fprintf(&b, "- %s\n", want[j])
		}
		if j < len(got) {
			fmt.Fprintf(&b, "+ %s\n", got[j])
		}
	}
	return b.String()
}

// ReadRecords reads newline-delimited records (plain or gzip) named "NAME:LINE" with the line as
// offset, as `eddy replay` numbers them.
func ReadRecords(r io.Reader, name string) ([]core.Record, error) {
	lines, err := codec.NewLines(r, name)
	if err != nil {
		return nil, err
	}
	var recs []core.Record
	for {
		var rec core.Record
		if !lines.Next(&rec) {
			break
		}
		recs = append(recs, rec)
	}
	return recs, lines.Err()
}

// Outputs runs fn over recs spread over n partitions, each three ways (one invocation; invocations
// of batch records; the same with the state saved and restored in between), fails unless the three
// agree, and returns the outputs as JSON lines: each partition's outputs, then its dead letters.
func Outputs(fn *spec.Function, recs []core.Record, n, batch int, now time.Time) ([]string, error) {
	return outputs(fn, spec.Options{}, recs, n, batch, now)
}

func outputs(fn *spec.Function, opts spec.Options, recs []core.Record, n, batch int, now time.Time) ([]string, error) {
	c, err := fn.Compile(opts)
	if err != nil {
		return nil, err
	}
	parts, err := partition(fn, recs, n)
	if err != nil {
		return nil, err
	}
	var all []string
	for i, p := range parts {
		name := strconv.Itoa(i)
		whole, err := runPartition(c, fn.Name, name, p, len(p), false, now)
		if err != nil {
			return nil, err
		}
		for _, restore := range []bool{false, true} {
			split, err := runPartition(c, fn.Name, name, p, batch, restore, now)
			if err != nil {
				return nil, err
			}
			if d := firstDiff(whole, split); d != "" {
				how := "in invocations of %d records"
				if restore {
					how += " with the state restored between them"
				}
				return nil, fmt.Errorf("partition %s: outputs "+how+" differ from one invocation: %s", name, batch, d)
			}
		}
		all = append(all, whole...)
	}
	return all, nil
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) || i < len(b); i++ {
		switch {
		case i >= len(a):
			return "extra " + b[i]
		case i >= len(b):
			return "missing " + a[i]
		case a[i] != b[i]:
			return fmt.Sprintf("%s\ninstead of\n%s", b[i], a[i])
		}
	}
	return ""
}

// partition spreads recs over n partitions by their key as the function reads it.
func partition(fn *spec.Function, recs []core.Record, n int) ([][]core.Record, error) {
	parts := make([][]core.Record, n)
	if n == 1 || fn.Input.Key == "" || strings.HasPrefix(fn.Input.Key, "$") {
		parts[0] = recs
		return parts, nil
	}
	dec, err := codec.New(codec.Config{Format: fn.Input.Format, Key: fn.Input.Key, ProcessingTime: true})
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	var ev core.Event
	for _, r := range recs {
		i := 0
		if dec.Decode("", &r, time.Time{}, &ev) == nil {
			h := fnv.New32a()
			h.Write([]byte(ev.Key))
			i = int(h.Sum32() % uint32(n))
		}
		parts[i] = append(parts[i], r)
	}
	return parts, nil
}

func runPartition(c *spec.Compiled, function, partition string, recs []core.Record, batch int, restore bool, now time.Time) ([]string, error) {
	p, err := c.NewPipeline()
	if err != nil {
		return nil, err
	}
	var outs, dead []string
	emit := func(o core.Output) {
		if b, ok := c.AppendOutput(nil, o); ok {
			outs = append(outs, string(b))
		}
	}
	ctx := context.Background()
	for len(recs) > 0 {
		k := min(batch, len(recs))
		b := core.Batch{Partition: partition, Records: append([]core.Record(nil), recs[:k]...), Now: now}
		res, err := p.Run(ctx, b, emit)
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", partition, err)
		}
		for _, f := range res.Failures {
			f.Function, f.Partition = function, partition
			dead = append(dead, string(sink.AppendDeadLetter(nil, f)))
		}
		recs = recs[k:]
		if restore {
			state, err := p.Snapshot()
			if err != nil {
				return nil, err
			}
			if p, err = c.NewPipeline(); err != nil {
				return nil, err
			}
			if err := p.Restore(state); err != nil {
				return nil, fmt.Errorf("partition %s: restore: %w", partition, err)
			}
		}
	}
	if _, err := p.Flush(ctx, emit); err != nil {
		return nil, err
	}
	return append(outs, dead...), nil
}

// Lines splits JSON lines text, for comparing outputs read from elsewhere with Run's.
func Lines(b []byte) []string {
	var out []string
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(l) > 0 {
			out = append(out, string(l))
		}
	}
	return out
}
