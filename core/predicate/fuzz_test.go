package predicate

import (
	"testing"

	"github.com/eddyhq/eddy/core"
)

// FuzzCompile: any condition text either fails to compile with an error or compiles to a condition
// whose evaluation neither panics nor, when native, disagrees with CEL.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{`outcome == "fail"`, `price >= 100 && type != 'view'`, `a.b.c < 3u`,
		`event.key == "x" || key == "y"`, `time > timestamp("2020-01-01T00:00:00Z")`, `tags.exists(t, t == "a")`,
		`1 < x && x < 9007199254740993`, `!flag`, `"x" in m`, `a ==`, `event`} {
		f.Add(s, 42.0, "fail")
	}
	f.Fuzz(func(t *testing.T, src string, n float64, s string) {
		var table core.FieldTable
		cond, err := Compile(src, &table, 1000)
		if err != nil {
			return
		}
		kinds := []core.Value{{Kind: core.Number, Num: n}, {Kind: core.String, Str: s}, {Kind: core.Bool, Bool: n > 0},
			{Kind: core.Null}, {}, {Kind: core.Object, Raw: []byte(`{"a":[1,"x"]}`)}}
		for k := range kinds {
			fields := make([]core.Value, table.Len())
			for i := range fields {
				fields[i] = kinds[(k+i)%len(kinds)]
			}
			ev := &core.Event{Key: s, Fields: fields}
			got := cond.Eval(ev)
			if cond.IsNative() && got != cond.evalCEL(ev) {
				t.Fatalf("%q: native %v disagrees with CEL", src, got)
			}
		}
	})
}
