// Package fntest is the test support shared by the ready-made functions under functions/: each
// one is a Go constructor and an eddy.yaml that must describe the same function, and must give the
// same outputs whether a stream arrives in one invocation or in many with the state saved and
// restored in between, as a serverless runtime runs it.
package fntest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/eddytest"
	"github.com/eddyhq/eddy/core/spec"
)

// SpecFile is the spec every function keeps beside its Go package; tests run in the package
// directory, so the relative path finds it.
const SpecFile = "eddy.yaml"

// Load loads the package's eddy.yaml, failing t if it does not pass spec.Load's validation.
func Load(t testing.TB) *spec.Function {
	t.Helper()
	f, err := spec.Load(SpecFile)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// SameAsSpec fails t unless fromGo (what the package's constructor returned, with err) is exactly
// the package's eddy.yaml and the file compiles, so the file passes everything `eddy validate`
// checks. It returns the function loaded from the file.
func SameAsSpec(t testing.TB, fromGo *spec.Function, err error) *spec.Function {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	fromYAML := Load(t)
	if !reflect.DeepEqual(fromGo, fromYAML) {
		t.Fatalf("Go:   %+v\nYAML: %+v", fromGo, fromYAML)
	}
	if _, err := fromYAML.Compile(spec.Options{}); err != nil {
		t.Fatal(err)
	}
	return fromYAML
}

// Run compiles f and processes recs on partition "0" in batches of n records (one batch for
// n <= 0), each batch with the given processing time, then flushes. Between batches it snapshots
// the pipeline and restores the state into a fresh one, as the next invocation of a serverless
// runtime does. It passes every output to observe (when not nil) and returns them all as JSON
// lines, failing t on an error, a record failure or an output that is not valid JSON.
func Run(t testing.TB, f *spec.Function, recs []core.Record, n int, now time.Time, observe func(core.Output)) []string {
	t.Helper()
	if n <= 0 {
		n = len(recs)
	}
	c, err := historical(f).Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.NewPipeline()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	emit := func(o core.Output) {
		line := o.AppendJSON(nil)
		if !json.Valid(line) {
			t.Errorf("invalid JSON output: %s", line)
		}
		lines = append(lines, string(line))
		if observe != nil {
			observe(o)
		}
	}
	ctx := context.Background()
	for len(recs) > 0 {
		k := min(n, len(recs))
		res, err := p.Run(ctx, core.Batch{Partition: "0", Records: recs[:k], Now: now}, emit)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failures) > 0 {
			t.Fatalf("failures: %v", res.Failures[0])
		}
		recs = recs[k:]
		state, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if p, err = c.NewPipeline(); err != nil {
			t.Fatal(err)
		}
		if err := p.Restore(state); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Flush(ctx, emit); err != nil {
		t.Fatal(err)
	}
	return lines
}

// SpecAgrees fails t unless the package's eddy.yaml gives exactly want (the outputs of the Go
// constructor's function on the same records) through eddytest, which runs it in one batch, in
// batches of n, and in batches of n with the state saved and restored in between, and fails unless
// all three agree: so the file, the Go code and a stream cut into invocations all agree.
func SpecAgrees(t testing.TB, want []string, recs []core.Record, n int, now time.Time) {
	t.Helper()
	Splits(t, Load(t), want, recs, n, now)
}

// Splits fails t unless f gives exactly want on recs in one batch, in batches of n, and in batches
// of n with the state restored in between (eddytest.Outputs on one partition), and no record
// fails.
func Splits(t testing.TB, f *spec.Function, want []string, recs []core.Record, n int, now time.Time) {
	t.Helper()
	got, err := eddytest.Outputs(historical(f), recs, 1, n, now)
	if err != nil {
		t.Fatal(err)
	}
	Equal(t, fmt.Sprintf("outputs in one batch and in batches of %d with the state restored in between (eddytest)", n), got, want)
}

// Records makes n records whose payloads are payload(0), ..., payload(n-1), with ids and offsets
// "1" to "n", as the lines of an input file are numbered.
func Records(n int, payload func(i int) []byte) []core.Record {
	recs := make([]core.Record, n)
	for i := range recs {
		id := strconv.Itoa(i + 1)
		recs[i] = core.Record{ID: id, Offset: id, Data: payload(i)}
	}
	return recs
}

// Equal fails t unless got and want are the same lines in the same order, printing both under
// what (say "decisions" or "one batch against batches of 7").
func Equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Values formats named values as "name=value ..." in their order, for readable expectations.
func Values(vs []core.NamedValue) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%s=%v", v.Name, v.Num)
	}
	return strings.Join(s, " ")
}

// Benchmark measures f on recs, decoding included, and reports events/s: each iteration makes a
// fresh pipeline from one compiled function, as a runtime makes one per partition, and runs recs
// as one batch processed at now, then flushes.
func Benchmark(b *testing.B, f *spec.Function, recs []core.Record, now time.Time) {
	b.Helper()
	c, err := historical(f).Compile(spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	emit := func(core.Output) {}
	b.ReportAllocs()
	for b.Loop() {
		p, err := c.NewPipeline()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Run(ctx, core.Batch{Partition: "0", Records: recs, Now: now}, emit); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Flush(ctx, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// historical lifts input.max_future for test data that spans more than an hour past the one
// processing time the tests pass, unless the spec sets it.
func historical(f *spec.Function) *spec.Function {
	if f.Input.MaxFuture != 0 {
		return f
	}
	c := *f
	c.Input.MaxFuture = 100 * 365 * 24 * time.Hour
	return &c
}
