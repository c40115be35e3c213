package rule

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/reftable"
)

// refSet opens a Set with table limits holding data (CSV keyed by machine).
func refSet(t testing.TB, data map[string]string, defaultKey string) (*reftable.Set, *string) {
	t.Helper()
	cur := data["limits"]
	loader := reftable.LoaderFunc(func(_ context.Context, src string) ([]byte, error) { return []byte(cur), nil })
	s, err := reftable.Open(context.Background(), []reftable.Spec{{Name: "limits", Source: "mem:limits", Key: "machine", DefaultKey: defaultKey}},
		reftable.Options{Loader: loader})
	if err != nil {
		t.Fatal(err)
	}
	return s, &cur
}

const limitsV1 = "machine,max,model\nm1,80,A\nm2,90,B\n*,85,unknown\n"

func decideAll(t testing.TB, e *Engine, rs ...*core.WindowResult) []*core.Decision {
	t.Helper()
	var out []*core.Decision
	for _, r := range rs {
		if err := e.Decide(context.Background(), r, func(d *core.Decision) { out = append(out, d) }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestReferenceLookup(t *testing.T) {
	ref, cur := refSet(t, map[string]string{"limits": limitsV1}, "*")
	s := mustCompile(t, Config{
		Aggregates: []Aggregate{{Name: "avg"}},
		Thresholds: []Threshold{{Name: "hot", Condition: "avg > ref.limits[key].max", EachWindow: true,
			Enrich: []string{"limits.max", "limits.model"}}},
		Reference: ref,
	})
	e := s.NewEngine()
	// m1 (limit 80) and m3 (no row: the "*" row, 85) fire at 83; m2 (limit 90) does not.
	ds := decideAll(t, e, win("m1", 0, time.Minute, 0, "avg", 83.0), win("m2", 0, time.Minute, 0, "avg", 83.0),
		win("m3", 0, time.Minute, 0, "avg", 86.0))
	v1 := reftable.Version([]byte(limitsV1))
	var got []string
	for _, d := range ds {
		got = append(got, string(d.AppendJSON(nil)))
	}
	if len(ds) != 2 || ds[0].Key != "m1" || ds[1].Key != "m3" {
		t.Fatalf("decisions:\n%s", strings.Join(got, "\n"))
	}
	if !strings.Contains(got[0], `"values":{"avg":83,"limits.max":80,"limits.model":"A"},"ref":{"limits":"`+v1+`"}`) {
		t.Errorf("m1: %s", got[0])
	}
	if !strings.Contains(got[1], `"limits.max":85,"limits.model":"unknown"`) {
		t.Errorf("m3 (default row): %s", got[1])
	}
	// The version is part of the id: the same window and table give the same id, another table
	// version another id.
	w := core.Span{Start: ds[0].Window.Start, End: ds[0].Window.End}
	if ds[0].ID != core.DecisionIDRef(ds[0].Function, "hot", "m1", w, "firing", 0, []core.TableVersion{{Table: "limits", Version: v1}}) ||
		ds[0].ID == core.DecisionID(ds[0].Function, "hot", "m1", w, "firing", 0) {
		t.Errorf("id %s does not carry the table version", ds[0].ID)
	}
	again := decideAll(t, s.NewEngine(), win("m1", 0, time.Minute, 0, "avg", 83.0))
	if again[0].ID != ds[0].ID {
		t.Errorf("replay with the same table: id %s, first run %s", again[0].ID, ds[0].ID)
	}
	*cur = strings.Replace(limitsV1, "m1,80", "m1,81", 1)
	if err := ref.Refresh(context.Background(), "limits"); err != nil {
		t.Fatal(err)
	}
	other := decideAll(t, s.NewEngine(), win("m1", 0, time.Minute, 0, "avg", 83.0))
	if other[0].ID == ds[0].ID || other[0].Ref[0].Version == v1 {
		t.Errorf("another table version kept id %s / version %s", other[0].ID, other[0].Ref[0].Version)
	}
}

// A rule that does not read a table has no ref member and the ids it always had.
func TestReferenceUnusedKeepsIDs(t *testing.T) {
	ref, _ := refSet(t, map[string]string{"limits": limitsV1}, "")
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "avg"}},
		Thresholds: []Threshold{{Name: "hot", Condition: "avg > 80.0", EachWindow: true}}, Reference: ref})
	ds := decideAll(t, s.NewEngine(), win("m1", 0, time.Minute, 0, "avg", 83.0))
	if len(ds[0].Ref) != 0 || ds[0].ID != core.DecisionID(ds[0].Function, "hot", "m1", ds[0].Window, "firing", 0) {
		t.Errorf("decision %s", ds[0].AppendJSON(nil))
	}
}

// Without a default row a missing key is an evaluation error naming the table and the key; `in`
// guards it.
func TestReferenceMissingKey(t *testing.T) {
	ref, _ := refSet(t, map[string]string{"limits": limitsV1}, "")
	s := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "avg"}},
		Thresholds: []Threshold{
			{Name: "strict", Condition: "avg > ref.limits[key].max", EachWindow: true},
			{Name: "guarded", Condition: "avg > (key in ref.limits ? ref.limits[key].max : 95.0)", EachWindow: true},
		}, Reference: ref})
	var ds []*core.Decision
	err := s.NewEngine().Decide(context.Background(), win("zz", 0, time.Minute, 0, "avg", 96.0), func(d *core.Decision) { ds = append(ds, d) })
	if err == nil || !strings.Contains(err.Error(), `rule "strict"`) || !strings.Contains(err.Error(), "no such key: zz") {
		t.Errorf("missing key: %v", err)
	}
	if len(ds) != 1 || ds[0].Rule != "guarded" {
		t.Errorf("guarded rule: %v", ds)
	}
}

// Undeclared tables and columns are compile-time errors.
func TestReferenceCompileErrors(t *testing.T) {
	ref, _ := refSet(t, map[string]string{"limits": limitsV1}, "")
	for _, c := range []struct {
		th   Threshold
		want string
	}{
		{Threshold{Name: "r", Condition: "avg > ref.nope[key].max"}, "undeclared reference to 'ref"},
		{Threshold{Name: "r", Condition: "avg > 1.0", Enrich: []string{"nope.max"}}, `no reference table named "nope"`},
		{Threshold{Name: "r", Condition: "avg > 1.0", Enrich: []string{"limits.nope"}}, `table "limits" has no column "nope" (columns: machine, max, model)`},
		{Threshold{Name: "r", Condition: "avg > 1.0", Enrich: []string{"limits"}}, "is not table.column"},
	} {
		_, err := Compile(Config{Aggregates: []Aggregate{{Name: "avg"}}, Thresholds: []Threshold{c.th}, Reference: ref})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.th, err, c.want)
		}
	}
	// Without tables, ref is not declared at all.
	_, err := Compile(Config{Aggregates: []Aggregate{{Name: "avg"}}, Thresholds: []Threshold{{Name: "r", Condition: "avg > ref.limits[key].max"}}})
	if err == nil || !strings.Contains(err.Error(), "declare it under reference:") {
		t.Errorf("no tables: %v", err)
	}
}

// BenchmarkEvalCELRef is BenchmarkEvalCEL with the constant replaced by a lookup of the key's
// row in a reference table of 1,000 rows: the difference is the cost of a lookup.
func BenchmarkEvalCELRef(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("machine,max\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "sensor-%04d,80\n", i)
	}
	ref, _ := refSet(b, map[string]string{"limits": sb.String()}, "")
	s := mustCompile(b, Config{
		Aggregates: []Aggregate{{Name: "count"}, {Name: "sum"}, {Name: "avg"}, {Name: "min"}, {Name: "max"}},
		Thresholds: []Threshold{{Name: "hot", Condition: "avg > ref.limits[key].max && count >= 10"}},
		Reference:  ref,
	})
	e := s.NewEngine()
	r := benchResults(1)[0]
	cond := s.thresholds[0].fire
	b.ReportAllocs()
	for b.Loop() {
		e.act.reset(r, nil, true, nil)
		ok, err := cond.eval(&e.act, s.costLimit)
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkRefLookupCost measures what a reference-table lookup adds to an evaluation on a busy
// machine: it alternates chunks of 1,000 evaluations of `avg > 80.0 && count >= 10` and of
// `avg > ref.limits[key].max && count >= 10` and reports the median difference per evaluation
// (lookup-ns), so that load shared by both sides cancels out.
func BenchmarkRefLookupCost(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("machine,max\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "sensor-%04d,80\n", i)
	}
	ref, _ := refSet(b, map[string]string{"limits": sb.String()}, "")
	aggs := []Aggregate{{Name: "count"}, {Name: "sum"}, {Name: "avg"}, {Name: "min"}, {Name: "max"}}
	base := mustCompile(b, Config{Aggregates: aggs, Thresholds: []Threshold{{Name: "hot", Condition: "avg > 80.0 && count >= 10"}}})
	withRef := mustCompile(b, Config{Aggregates: aggs, Reference: ref,
		Thresholds: []Threshold{{Name: "hot", Condition: "avg > ref.limits[key].max && count >= 10"}}})
	r := benchResults(1)[0]
	chunk := func(s *Set, e *Engine) time.Duration {
		cond := s.thresholds[0].fire
		start := time.Now()
		for range 1000 {
			e.act.reset(r, nil, true, nil)
			if ok, err := cond.eval(&e.act, s.costLimit); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		return time.Since(start)
	}
	eb, er := base.NewEngine(), withRef.NewEngine()
	var diffs []float64
	for b.Loop() {
		tb := chunk(base, eb)
		tr := chunk(withRef, er)
		diffs = append(diffs, float64(tr-tb)/1000)
	}
	slices.Sort(diffs)
	b.ReportMetric(diffs[len(diffs)/2], "lookup-ns")
}
