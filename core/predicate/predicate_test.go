package predicate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

func eventOf(table *core.FieldTable, vals map[string]core.Value) *core.Event {
	ev := &core.Event{Key: "dev-1", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Fields: make([]core.Value, table.Len())}
	for p, v := range vals {
		if i, ok := table.Lookup(p); ok {
			ev.Fields[i] = v
		}
	}
	return ev
}

func num(f float64) core.Value  { return core.Value{Kind: core.Number, Num: f} }
func str(s string) core.Value   { return core.Value{Kind: core.String, Str: s} }
func boolean(b bool) core.Value { return core.Value{Kind: core.Bool, Bool: b} }

func TestEval(t *testing.T) {
	vals := map[string]core.Value{
		"outcome": str("fail"), "price": num(120), "device.temp": num(41), "mobile": boolean(true),
		"key": str("payload-key"), "tags": {Kind: core.Object, Raw: []byte(`["a","b"]`)},
	}
	cases := []struct {
		src    string
		want   bool
		native bool
	}{
		{`outcome == "fail"`, true, true},
		{`outcome == 'ok'`, false, true},
		{`price >= 100 && outcome != "ok"`, true, true},
		{`100.0 < price`, true, true},
		{`device.temp > 40`, true, true},
		{`missing > 1`, false, true},  // a missing field is false
		{`outcome > 1`, false, true},  // a type mismatch is false
		{`missing != 1`, false, true}, // missing stays false for !=
		{`outcome != 1`, true, true},  // heterogeneous != is true
		{`price > 100 || missing`, true, false},
		{`mobile`, true, false},
		{`!mobile`, false, false},
		{`key == "dev-1"`, true, false},
		{`event.key == "payload-key"`, true, true},
		{`time.getFullYear() == 2026`, true, false},
		{`"b" in tags`, true, false},
		{`outcome.startsWith("fa") && device.temp < 50.0`, true, false},
		{`true`, true, true},
		{`price`, false, false}, // not a bool at run time
	}
	for _, c := range cases {
		var table core.FieldTable
		cond, err := Compile(c.src, &table, 0)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if got := cond.Eval(eventOf(&table, vals)); got != c.want {
			t.Errorf("%s = %v, want %v", c.src, got, c.want)
		}
		if cond.IsNative() != c.native {
			t.Errorf("%s: native %v, want %v", c.src, cond.IsNative(), c.native)
		}
		if cond.String() != c.src {
			t.Errorf("String() = %q", cond.String())
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{``, "condition is empty"},
		{`a ==`, "<input>:1:5: Syntax error"},
		{`lower(a) == "x"`, "<input>:1:6: undeclared reference to 'lower'"},
		{`a + 1.0`, "must be of type bool, got double"},
		{`size(a)`, "must be of type bool, got int"},
		{`event > 1`, "event must be followed by a field path"},
		{strings.Repeat("a", maxSource+1), "more than"},
	} {
		_, err := Compile(c.src, &core.FieldTable{}, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.20q: error %v, want it to say %q", c.src, err, c.want)
		}
	}
}

// TestCostLimit: an expensive comprehension beyond the limit is false, not a hang.
func TestCostLimit(t *testing.T) {
	var table core.FieldTable
	cond, err := Compile(`tags.all(x, tags.all(y, x != y || x == y))`, &table, 10)
	if err != nil {
		t.Fatal(err)
	}
	list := "[" + strings.Repeat(`"a",`, 200) + `"a"]`
	ev := eventOf(&table, map[string]core.Value{"tags": {Kind: core.Object, Raw: []byte(list)}})
	if cond.Eval(ev) {
		t.Error("an evaluation beyond the cost limit is true")
	}
	unlimited, _ := Compile(`tags.all(x, tags.all(y, x != y || x == y))`, &table, 1e9)
	if !unlimited.Eval(ev) {
		t.Error("the same condition within its limit is false")
	}
}

// TestNativeAgreesWithCEL evaluates generated comparisons and conjunctions natively and through
// CEL, over values of every kind, and wants the same answer.
func TestNativeAgreesWithCEL(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	consts := []string{"90", "90.0", "-3", "90u", "0.5", `"abc"`, `""`, `"b"`, "true", "false", "9007199254740993"}
	ops := []string{"<", "<=", ">", ">=", "==", "!="}
	refs := []string{"value", "event.value", "d.x"}
	values := []core.Value{
		{}, {Kind: core.Null}, num(90), num(90.5), num(-3), num(0.5), str("abc"), str(""), str("b"),
		boolean(true), boolean(false), {Kind: core.Object, Raw: []byte(`{"a":1}`)}, num(9007199254740992),
	}
	term := func() string {
		f, o, c := refs[rng.IntN(len(refs))], ops[rng.IntN(len(ops))], consts[rng.IntN(len(consts))]
		if rng.IntN(3) == 0 {
			return c + " " + o + " " + f
		}
		return f + " " + o + " " + c
	}
	native := 0
	for range 400 {
		src := term()
		for rng.IntN(2) == 0 {
			src += " && " + term()
		}
		var table core.FieldTable
		cond, err := Compile(src, &table, 0)
		if err != nil || !cond.IsNative() {
			continue
		}
		native++
		for range 20 {
			fields := make([]core.Value, table.Len())
			for i := range fields {
				fields[i] = values[rng.IntN(len(values))]
			}
			ev := &core.Event{Fields: fields}
			if got, want := cond.fast.Eval(fields), cond.evalCEL(ev); got != want {
				t.Fatalf("%s over %v: native %v, CEL %v", src, fields, got, want)
			}
		}
	}
	if native < 100 {
		t.Errorf("only %d of 400 conditions ran natively", native)
	}
}

func TestConcurrentEval(t *testing.T) {
	var table core.FieldTable
	cond, err := Compile(`outcome.startsWith("f") || price > 10.0`, &table, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for g := range 4 {
		go func() {
			ok := true
			for i := range 200 {
				ev := eventOf(&table, map[string]core.Value{"outcome": str("ok"), "price": num(float64(i + g))})
				ok = ok && cond.Eval(ev) == (i+g > 10)
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("a concurrent evaluation was wrong")
		}
	}
}

func BenchmarkEval(b *testing.B) {
	for _, src := range []string{`outcome == "fail"`, `outcome.startsWith("f")`} {
		b.Run(src, func(b *testing.B) {
			var table core.FieldTable
			cond, err := Compile(src, &table, 0)
			if err != nil {
				b.Fatal(err)
			}
			ev := eventOf(&table, map[string]core.Value{"outcome": str("fail")})
			for b.Loop() {
				if !cond.Eval(ev) {
					b.Fatal("false")
				}
			}
		})
	}
}

func ExampleCompile() {
	var table core.FieldTable
	cond, err := Compile(`outcome == "fail" && attempts >= 3`, &table, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The decoder extracts the fields the table lists; here they are set by hand.
	outcome, _ := table.Lookup("outcome")
	attempts, _ := table.Lookup("attempts")
	ev := &core.Event{Fields: make([]core.Value, table.Len())}
	ev.Fields[outcome] = core.Value{Kind: core.String, Str: "fail"}
	ev.Fields[attempts] = core.Value{Kind: core.Number, Num: 4}
	fmt.Println(table.Paths(), cond.IsNative(), cond.Eval(ev))
	// Output: [outcome attempts] true true
}
