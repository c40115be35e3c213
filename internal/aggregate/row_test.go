package aggregate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/eddyhq/eddy/core"
)

// TestRowShortcutsAgreeWithMerge checks the row fast paths against the general ones: for plain
// plans (counts, sums, averages) and others, SetMergedValues of two rows equals the values of their
// CopyRow+MergeRow, rows of one store merge like Partials, and FreeRow gives back every sketch.
func TestRowShortcutsAgreeWithMerge(t *testing.T) {
	plans := [][]Spec{
		{{Op: Avg, Field: "value"}},
		{{Op: Count}, {Op: Sum, Field: "value"}, {Op: Avg, Field: "other"}},
		{{Op: Count}, {Op: Min, Field: "value"}, {Op: Avg, Field: "value"}},
		allSpecs,
	}
	for pi, specs := range plans {
		var table core.FieldTable
		p, err := Compile(specs, &table)
		if err != nil {
			t.Fatal(err)
		}
		if want := pi < 2; p.plain != want {
			t.Fatalf("plan %d: plain %v, want %v", pi, p.plain, want)
		}
		r := rand.New(rand.NewPCG(uint64(pi), 9))
		var sk Sketches
		for round := range 50 {
			a, b, scratch := make(Row, p.Width()), make(Row, p.Width()), make(Row, p.Width())
			for _, row := range []Row{a, b} {
				for range r.IntN(4) { // rows may stay empty
					e := ev{t: int64(round), v: float64(r.IntN(40)) / 4, tag: string(rune('a' + r.IntN(3))), other: float64(r.IntN(9)), skip: r.IntN(5) == 0}
					p.AddRow(row, &sk, event(&table, e), e.t)
				}
			}
			fast := p.RowValues(a, &sk, nil)
			p.SetMergedValues(a, b, scratch, &sk, fast)
			p.CopyRow(scratch, a, &sk)
			p.MergeRow(scratch, b, &sk)
			slow := p.RowValues(scratch, &sk, nil)
			if got, want := string(core.AppendValues(nil, fast)), string(core.AppendValues(nil, slow)); got != want {
				t.Fatalf("plan %d round %d: merged values %s, want %s", pi, round, got, want)
			}
			for _, row := range []Row{a, b, scratch} {
				p.FreeRow(row, &sk)
			}
		}
		if n := sk.Len(); n != 0 {
			t.Errorf("plan %d: %d sketch sets held after every row was freed", pi, n)
		}
	}
}

// TestSingleSlotPath checks the one-slot fast path of AddRowWhere (a plan that is one average)
// against the general loop (the same average beside a count).
func TestSingleSlotPath(t *testing.T) {
	var t1, t2 core.FieldTable
	one, err := Compile([]Spec{{Op: Avg, Field: "value"}}, &t1)
	if err != nil {
		t.Fatal(err)
	}
	two, err := Compile([]Spec{{Op: Avg, Field: "value"}, {Op: Count}}, &t2)
	if err != nil {
		t.Fatal(err)
	}
	if one.single < 0 || two.single >= 0 {
		t.Fatalf("single: %d and %d", one.single, two.single)
	}
	r := rand.New(rand.NewPCG(3, 3))
	a, b := make(Row, one.Width()), make(Row, two.Width())
	for i := range 200 {
		e := ev{t: int64(i), v: float64(r.IntN(1000)) / 8, skip: r.IntN(7) == 0}
		one.AddRow(a, nil, event(&t1, e), e.t)
		two.AddRow(b, nil, event(&t2, e), e.t)
		va, vb := one.RowValues(a, nil, nil), two.RowValues(b, nil, nil)
		if math.Float64bits(va[0].Num) != math.Float64bits(vb[0].Num) {
			t.Fatalf("after %d events: avg %v, general path %v", i+1, va[0].Num, vb[0].Num)
		}
	}
}

// ExampleRow keeps the partials of two time slices as rows of one store, as a sliding window does,
// and reads the values of their merge.
func ExampleRow() {
	var table core.FieldTable
	plan, _ := Compile([]Spec{{Name: "avg_temp", Op: Avg, Field: "temp"}, {Name: "p50", Op: Quantile, Field: "temp", Q: 0.5}}, &table)
	var sk Sketches
	slice1, slice2, scratch := make(Row, plan.Width()), make(Row, plan.Width()), make(Row, plan.Width())
	for i, temp := range []float64{20, 21, 22, 30} {
		ev := &core.Event{Fields: []core.Value{{Kind: core.Number, Num: temp}}}
		row := slice1
		if i >= 2 {
			row = slice2
		}
		plan.AddRow(row, &sk, ev, int64(i))
	}
	vals := plan.RowValues(slice1, &sk, nil)
	fmt.Printf("first slice: avg %.2f, median about %.0f\n", vals[0].Num, vals[1].Num)
	plan.SetMergedValues(slice1, slice2, scratch, &sk, vals)
	fmt.Printf("both slices: avg %.2f, median about %.0f\n", vals[0].Num, vals[1].Num)
	for _, r := range []Row{slice1, slice2, scratch} {
		plan.FreeRow(r, &sk)
	}
	fmt.Println(sk.Len(), "sketch sets held")
	// Output:
	// first slice: avg 20.50, median about 20
	// both slices: avg 23.25, median about 21
	// 0 sketch sets held
}
