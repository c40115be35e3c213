package aggregate

import (
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
