package pattern

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eddyhq/eddy/core"
)

// TestFastPathAgreesWithCEL evaluates generated <field> <op> <constant> predicates and their
// conjunctions both natively and through CEL over values of every kind, and wants the same answer.
func TestFastPathAgreesWithCEL(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	consts := []string{"90", "90.0", "-3", "90u", "0.5", `"abc"`, `""`, `"b"`, "true", "false", "9007199254740993"}
	ops := []string{"<", "<=", ">", ">=", "==", "!="}
	fieldRefs := []string{"value", "event.value", "d.x"}
	values := []core.Value{
		{}, {Kind: core.Null}, {Kind: core.Number, Num: 90}, {Kind: core.Number, Num: 90.5},
		{Kind: core.Number, Num: -3}, {Kind: core.Number, Num: 0.5}, {Kind: core.String, Str: "abc"},
		{Kind: core.String, Str: ""}, {Kind: core.String, Str: "b"}, {Kind: core.Bool, Bool: true},
		{Kind: core.Bool}, {Kind: core.Object, Raw: []byte(`{"a":1}`)}, {Kind: core.Number, Num: 9007199254740992},
	}
	term := func() string {
		f, o, c := fieldRefs[rng.IntN(len(fieldRefs))], ops[rng.IntN(len(ops))], consts[rng.IntN(len(consts))]
		if rng.IntN(3) == 0 {
			return c + " " + o + " " + f
		}
		return f + " " + o + " " + c
	}
	fast, checked := 0, 0
	for i := 0; i < 400; i++ {
		src := term()
		for rng.IntN(2) == 0 {
			src += " && " + term()
		}
		table := &core.FieldTable{}
		pr, err := compilePred(src, 0, map[string]int{}, table, DefaultCostLimit, nil)
		if err != nil {
			continue // e.g. a bool ordering the checker rejects
		}
		pr.bind(map[int]int{})
		if pr.fast == nil {
			continue
		}
		fast++
		for j := 0; j < 30; j++ {
			fields := make([]core.Value, table.Len())
			for k := range fields {
				fields[k] = values[rng.IntN(len(values))]
			}
			want, _ := pr.evalCEL(&activation{key: "k", fields: fields})
			if got := pr.fast.Eval(fields); got != want {
				t.Fatalf("%s over %v: fast path %v, CEL %v", src, fmt.Sprint(fields), got, want)
			}
			checked++
		}
	}
	if fast < 200 {
		t.Fatalf("only %d generated predicates took the fast path", fast)
	}
	t.Logf("%d fast predicates, %d evaluations compared", fast, checked)
}

func TestFastPathChosen(t *testing.T) {
	for src, want := range map[string]bool{
		"value > 90.0":                true,
		`90 < value && status == "x"`: true,
		"":                            true,
		"true":                        true,
		"value > threshold":           false,
		"value > 90.0 || value < 1.0": false,
		"value > 9007199254740993":    false,
		"has(device.temp)":            false,
		"device.temp >= 3":            true,
		`key == "x"`:                  false,
		"flag == true":                true,
		"flag > false":                false,
	} {
		table := &core.FieldTable{}
		p, err := Compile(Config{Name: "p", Steps: []Step{{Name: "a", Where: src}}}, table)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if got := p.steps[0].pred.fast != nil; got != want {
			t.Errorf("%q: fast path %v, want %v", src, got, want)
		}
	}
}
