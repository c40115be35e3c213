package eddy_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy"
	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/eddytest"
	"github.com/eddyhq/eddy/core/spec"
)

// Every adapter's Start takes an env.Function; a compiled spec is also a Keyer, so keyless
// transports can partition by the event key.
var (
	_ env.Function = (*eddy.Compiled)(nil)
	_ env.Keyer    = (*eddy.Compiled)(nil)
	_ env.Function = eddy.ProcessorFunc("", nil)
)

// A Go Function, its YAML and env.ParseSpec (what the adapters ran before) give the same outputs,
// and Run reports undecodable records with the field at fault instead of stopping.
func TestGoYAMLAndAdapterAgree(t *testing.T) {
	ctx := context.Background()
	goFn := &eddy.Function{
		Name:       "press",
		Input:      eddy.Input{Key: "machine", Time: "ts", TimeFormat: "unix"},
		Window:     eddy.Window{Tumbling: 10 * time.Second},
		Aggregates: []eddy.Aggregate{{Name: "n", Op: eddy.Count}, {Name: "hi", Op: eddy.Max, Field: "temp"}},
		Rules:      []eddy.Rule{{Name: "hot", When: "hi > 85.0", For: eddy.Windows(2)}},
	}
	yaml := "name: press\ninput: {key: machine, time: ts, time_format: unix}\nwindow: {tumbling: 10s}\n" +
		"aggregates: [{name: n, count: true}, {name: hi, max: temp}]\nrules: [{name: hot, when: hi > 85.0, for: 2}]\n"
	yamlFn, err := eddy.Parse("eddy.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 60 {
		in.WriteString(`{"machine":"m` + string(rune('0'+i%3)) + `","ts":` + itoa(1767225600+i) + `,"temp":` + itoa(80+i%20) + "}\n")
	}
	in.WriteString(`{"machine":"m1","ts":"yesterday","temp":1}` + "\n")
	recs, err := eddy.ReadRecords(strings.NewReader(in.String()), "events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	run := func(fn *eddy.Function) (string, eddy.Result) {
		var b strings.Builder
		res, err := eddy.Run(ctx, fn, recs, func(o eddy.Output) { b.Write(o.AppendJSON(nil)); b.WriteByte('\n') })
		if err != nil {
			t.Fatal(err)
		}
		return b.String(), res
	}
	a, res := run(goFn)
	b, _ := run(yamlFn)
	if a != b {
		t.Fatalf("Go and YAML differ:\n%s\n---\n%s", a, b)
	}
	if res.Stats.Events != 60 || res.Stats.Failed != 1 || len(res.Failures) != 1 || res.Failures[0].Field != "ts" {
		t.Fatalf("stats %+v, failures %v: want 60 events and the bad ts named", res.Stats, res.Failures)
	}
	if !strings.Contains(a, `"rule":"hot"`) {
		t.Fatalf("no decision in\n%s", a)
	}
	// The adapters' old path: env.ParseSpec's processor gives the same outputs.
	old, err := env.ParseSpec("eddy.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	c, err := eddy.Compile(ctx, goFn)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != old.Name() || !reflect.DeepEqual(c.KeyConfig(), old.(env.Keyer).KeyConfig()) {
		t.Fatalf("name %q key config %+v, env.ParseSpec: %q %+v", c.Name(), c.KeyConfig(), old.Name(), old.(env.Keyer).KeyConfig())
	}
	for _, f := range []env.Function{c, old} {
		p, err := f.NewProcessor("0")
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Process(ctx, core.Batch{Partition: "0", Records: recs, Now: time.Now()})
		if err != nil || res.Stats.Events != 60 {
			t.Fatalf("%T: %+v %v", f, res.Stats, err)
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// Compile's errors are the spec's, with every problem and its path.
func TestCompileErrors(t *testing.T) {
	_, err := eddy.Compile(context.Background(), &eddy.Function{Name: "x", Input: eddy.Input{Key: "k"},
		Window: eddy.Window{Tumbling: time.Minute}, Aggregates: []eddy.Aggregate{{Name: "a", Op: "median", Field: "v"}}})
	var es spec.Errors
	if !errors.As(err, &es) || len(es) < 2 {
		t.Fatalf("error %v: want spec.Errors naming input.time and the op", err)
	}
	for _, want := range []string{"input", "aggregates[0].op", "median"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := eddy.Compile(context.Background(), &eddy.Function{}, eddy.Options{}, eddy.Options{}); err == nil {
		t.Error("two Options accepted")
	}
}

// ProcessorFunc runs a hand-written processor under the adapters' interface.
func TestProcessorFunc(t *testing.T) {
	c, err := eddy.Compile(context.Background(), &eddy.Function{Name: "inner", Input: eddy.Input{Key: "k", Time: "t"},
		Window: eddy.Window{Tumbling: time.Minute}, Aggregates: []eddy.Aggregate{{Name: "n", Op: eddy.Count}}})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	fn := eddy.ProcessorFunc("outer", func(p string) (eddy.Processor, error) { parts = append(parts, p); return c.NewProcessor(p) })
	if _, err := fn.NewProcessor("shard-7"); err != nil || fn.Name() != "outer" || len(parts) != 1 || parts[0] != "shard-7" {
		t.Fatalf("name %q parts %v err %v", fn.Name(), parts, err)
	}
}

// A custom aggregate without its Go function is a spec error naming the aggregate; with it, its
// partials survive the state's save and restore between invocations.
func TestCustomAggregate(t *testing.T) {
	ctx := context.Background()
	fn := &eddy.Function{Name: "swings", Input: eddy.Input{Key: "s", Time: "ts", TimeFormat: "unix"},
		Window: eddy.Window{Tumbling: time.Minute}, Aggregates: []eddy.Aggregate{{Name: "swing", Op: eddy.Custom, Field: "p"}}}
	if _, err := eddy.Compile(ctx, fn); err == nil || !strings.Contains(err.Error(), `aggregates[0].op: custom aggregate "swing" has no Go function`) {
		t.Fatalf("error %v", err)
	}
	c, err := eddy.Compile(ctx, fn, eddy.Options{Aggregates: map[string]eddy.AggregateFunc{"swing": eddy.AggregateFuncOf(newSpread)}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := eddy.ReadRecords(strings.NewReader(`{"s":"a","ts":1767225600,"p":3}
{"s":"a","ts":1767225610,"p":10}
{"s":"a","ts":1767225620,"p":1}
{"s":"a","ts":1767225700,"p":1}
`), "x")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	emit := func(res core.Result) {
		for _, o := range res.Outputs {
			got = append(got, string(o.AppendJSON(nil)))
		}
	}
	p, err := c.NewProcessor("0")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		res, err := p.Process(ctx, core.Batch{Partition: "0", Records: []core.Record{r}, Now: time.Unix(1767225700, 0)})
		if err != nil {
			t.Fatal(err)
		}
		emit(res)
		snap, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if p, err = c.NewProcessor("0"); err != nil {
			t.Fatal(err)
		}
		if err := p.Restore(snap); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], `"values":{"swing":9}`) {
		t.Fatalf("outputs %q: want the first minute's swing 10-1=9 across restores", got)
	}
}

// eddytest runs a function with Go hooks (eddytest.With): the custom aggregate gives the golden
// outputs in one invocation, in invocations of one record and across restores, on 2 partitions.
func TestCustomAggregateEddytest(t *testing.T) {
	fn := &eddy.Function{Name: "swings", Input: eddy.Input{Key: "symbol", Time: "ts", TimeFormat: "unix"},
		Window:     eddy.Window{Tumbling: time.Minute},
		Aggregates: []eddy.Aggregate{{Name: "swing", Op: eddy.Custom, Field: "price"}, {Name: "n", Op: eddy.Count}},
		Rules:      []eddy.Rule{{Name: "volatile", When: "swing > 5.0", EachWindow: true}}}
	opts := eddy.Options{Aggregates: map[string]eddy.AggregateFunc{"swing": eddy.AggregateFuncOf(newSpread)}}
	eddytest.Run(t, fn, "testdata/ticks.ndjson", eddytest.With(opts), eddytest.Partitions(2), eddytest.Batch(1))
}
