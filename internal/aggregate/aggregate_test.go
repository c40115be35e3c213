package aggregate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/core"
)

var allSpecs = []Spec{
	{Op: Count},
	{Name: "n_value", Op: Count, Field: "value"},
	{Op: Sum, Field: "value"},
	{Op: Min, Field: "value"},
	{Op: Max, Field: "value"},
	{Op: Avg, Field: "value"},
	{Op: Variance, Field: "value"},
	{Op: Stddev, Field: "value"},
	{Op: First, Field: "value"},
	{Op: Last, Field: "value"},
	{Name: "p50", Op: Quantile, Field: "value", Q: 0.5},
	{Op: Distinct, Field: "tag"},
	{Op: TopK, Field: "tag", K: 2},
	{Name: "other_sum", Op: Sum, Field: "other"},
}

type ev struct {
	t     int64
	v     float64
	tag   string
	other float64
	skip  bool // value missing
}

func event(table *core.FieldTable, e ev) *core.Event {
	x := &core.Event{Fields: make([]core.Value, table.Len())}
	vi, _ := table.Lookup("value")
	ti, _ := table.Lookup("tag")
	oi, _ := table.Lookup("other")
	if !e.skip {
		x.Fields[vi] = core.Value{Kind: core.Number, Num: e.v}
	}
	x.Fields[ti] = core.Value{Kind: core.String, Str: e.tag}
	x.Fields[oi] = core.Value{Kind: core.Number, Num: e.other}
	return x
}

func values(p *Plan, part *Partial) string {
	return string(core.AppendValues(nil, p.Values(part, nil)))
}

// TestMergeEqualsOnePass checks that splitting events into consecutive partials and merging them
// in order gives what one pass gives, for every aggregate, and that encoding round-trips.
func TestMergeEqualsOnePass(t *testing.T) {
	var table core.FieldTable
	p, err := Compile(allSpecs, &table)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		n := 1 + r.IntN(60)
		evs := make([]ev, n)
		for i := range evs {
			evs[i] = ev{t: r.Int64N(20), v: float64(r.IntN(100)) / 4, tag: fmt.Sprint("t", r.IntN(5)), other: float64(r.IntN(9)), skip: r.IntN(10) == 0}
		}
		one := p.New()
		for _, e := range evs {
			p.Add(&one, event(&table, e), e.t)
		}
		merged := p.New()
		for i := 0; i < n; {
			j := i + 1 + r.IntN(n-i)
			part := p.New()
			for _, e := range evs[i:j] {
				p.Add(&part, event(&table, e), e.t)
			}
			// Round-trip every partial through its encoding on the way.
			enc := p.AppendBinary(nil, &part)
			dec, rest, err := p.Decode(enc)
			if err != nil || len(rest) != 0 {
				t.Fatalf("decode: %v, %d bytes left", err, len(rest))
			}
			p.Merge(&merged, &dec)
			i = j
		}
		a, b := values(p, &one), values(p, &merged)
		if stripVariance(a) != stripVariance(b) {
			t.Fatalf("round %d:\n one pass %s\n merged   %s", round, a, b)
		}
		va, _ := find(p.Values(&one, nil), "variance")
		vb, _ := find(p.Values(&merged, nil), "variance")
		if math.Abs(va-vb) > 1e-9*math.Max(1, va) {
			t.Fatalf("variance %v vs %v", va, vb)
		}
	}
}

func find(vs []core.NamedValue, name string) (float64, bool) {
	for _, v := range vs {
		if v.Name == name {
			return v.Num, true
		}
	}
	return 0, false
}

// stripVariance drops variance and stddev, whose last bits depend on the merge tree.
func stripVariance(s string) string {
	var keep []string
	for _, part := range strings.Split(s, ",") {
		if !strings.Contains(part, `"variance"`) && !strings.Contains(part, `"stddev"`) {
			keep = append(keep, part)
		}
	}
	return strings.Join(keep, ",")
}

func TestValues(t *testing.T) {
	var table core.FieldTable
	p, err := Compile(allSpecs, &table)
	if err != nil {
		t.Fatal(err)
	}
	part := p.New()
	for i, e := range []ev{{t: 5, v: 2, tag: "a"}, {t: 1, v: 4, tag: "b"}, {t: 9, v: 6, tag: "a"}, {t: 9, v: 8, tag: "c"}, {t: 3, skip: true, tag: "a"}} {
		_ = i
		p.Add(&part, event(&table, e), e.t)
	}
	got := values(p, &part)
	want := `{"count":5,"n_value":4,"sum":20,"min":2,"max":8,"avg":5,"variance":5,"stddev":2.23606797749979,"first":4,"last":8,"p50":4.014835333028587,"distinct":3,"topk":[{"value":"a","count":3},{"value":"b","count":1}],"other_sum":0}`
	if got != want {
		t.Errorf("values\n got  %s\n want %s", got, want)
	}
	// DDSketch's promise: within 1% of the true median (the lower one, 4, of 2 4 6 8).
	if p50, _ := find(p.Values(&part, nil), "p50"); math.Abs(p50-4) > 0.01*4 {
		t.Errorf("p50 %v is not within 1%% of 4", p50)
	}
	empty := p.New()
	if got := values(p, &empty); !strings.Contains(got, `"min":null`) || !strings.Contains(got, `"avg":null`) || !strings.Contains(got, `"count":0`) {
		t.Errorf("empty partial: %s", got)
	}
}

func TestCheckNamesField(t *testing.T) {
	var table core.FieldTable
	p, _ := Compile([]Spec{{Op: Avg, Field: "temp"}}, &table)
	x := &core.Event{Fields: []core.Value{{Kind: core.String, Str: "hot"}}}
	field, reason := p.Check(x)
	if field != "temp" || reason != `string "hot" is not a number` {
		t.Errorf("Check = %q, %q", field, reason)
	}
	x.Fields[0] = core.Value{Kind: core.Missing}
	if field, _ := p.Check(x); field != "" {
		t.Errorf("a missing field is skipped, not an error; got %q", field)
	}
}

func TestCompileRejects(t *testing.T) {
	for _, c := range []struct {
		specs []Spec
		want  string
	}{
		{[]Spec{{Op: "median", Field: "x"}}, `unknown op "median"`},
		{[]Spec{{Op: Sum}}, "sum needs a field"},
		{[]Spec{{Op: Quantile, Field: "x", Q: 1.5}}, "outside [0, 1]"},
		{[]Spec{{Op: Count}, {Op: Count}}, "used twice"},
		{[]Spec{{Op: Distinct, Field: "x", Precision: 30}}, "outside 4..18"},
		{[]Spec{{Name: "x"}}, "op is missing"},
	} {
		var table core.FieldTable
		_, err := Compile(c.specs, &table)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.specs, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	var table core.FieldTable
	p, _ := Compile(allSpecs, &table)
	part := p.New()
	p.Add(&part, event(&table, ev{t: 1, v: 3, tag: "x"}), 1)
	f.Add(p.AppendBinary(nil, &part))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := p.Decode(b)
		if err != nil {
			return
		}
		_ = p.Values(&got, nil)
		merged := p.New()
		p.Merge(&merged, &got)
	})
}

func BenchmarkAddStats(b *testing.B) {
	var table core.FieldTable
	p, _ := Compile([]Spec{{Op: Count}, {Op: Sum, Field: "value"}, {Op: Avg, Field: "value"}, {Op: Min, Field: "value"}, {Op: Max, Field: "value"}}, &table)
	part := p.New()
	x := &core.Event{Fields: []core.Value{{Kind: core.Number, Num: 42}}}
	b.ReportAllocs()
	for i := range b.N {
		p.Add(&part, x, int64(i))
	}
}
