package aggregate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/eddyhq/eddy/core"
)

// shop is a test event of an online shop.
type shop struct {
	typ   string
	price float64 // NaN: no price field
	user  string
}

func shopEvent(table *core.FieldTable, e shop) *core.Event {
	x := &core.Event{Key: "k", Fields: make([]core.Value, table.Len())}
	if i, ok := table.Lookup("type"); ok {
		x.Fields[i] = core.Value{Kind: core.String, Str: e.typ}
	}
	if i, ok := table.Lookup("price"); ok && !math.IsNaN(e.price) {
		x.Fields[i] = core.Value{Kind: core.Number, Num: e.price}
	}
	if i, ok := table.Lookup("user"); ok {
		x.Fields[i] = core.Value{Kind: core.String, Str: e.user}
	}
	return x
}

var whereSpecs = []Spec{
	{Name: "n", Op: Count},
	{Name: "adds", Op: Count, Where: `type == "add"`},
	{Name: "priced_adds", Op: Count, Field: "price", Where: `type == "add"`},
	{Name: "cart_value", Op: Sum, Field: "price", Where: `type == "add"`},
	{Name: "avg_add", Op: Avg, Field: "price", Where: `type == "add"`},
	{Name: "min_add", Op: Min, Field: "price", Where: `type == "add"`},
	{Name: "max_add", Op: Max, Field: "price", Where: `type == "add"`},
	{Name: "big", Op: Count, Where: `price >= 100.0 || user.startsWith("vip")`}, // through CEL
	{Name: "p50_add", Op: Quantile, Field: "price", Q: 0.5, Where: `type == "add"`},
	{Name: "buyers", Op: Distinct, Field: "user", Where: `type == "buy"`},
	{Name: "sum_all", Op: Sum, Field: "price"},
	{Name: "max_view", Op: Max, Field: "price", Where: `type == "view"`},
}

var shopEvents = []shop{
	{"view", 5, "a"},
	{"add", 10, "a"},
	{"add", 30, "b"},
	{"buy", 40, "a"},
	{"add", math.NaN(), "c"}, // an add without a price: counted by adds, not by priced_adds
	{"buy", 120, "vip1"},
	{"add", 20, "vip2"},
	{"buy", 7, "a"},
	{"view", math.NaN(), "d"}, // no price: big fails to evaluate, so it is left out
}

func TestWhereExact(t *testing.T) {
	var table core.FieldTable
	p, err := Compile(whereSpecs, &table)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.conds) != 4 {
		t.Errorf("%d distinct conditions, want 4 (each evaluated once per event)", len(p.conds))
	}
	part := p.New()
	for i, e := range shopEvents {
		p.Add(&part, shopEvent(&table, e), int64(i))
	}
	want := `{"n":9,"adds":4,"priced_adds":3,"cart_value":60,"avg_add":20,"min_add":10,"max_add":30,` +
		`"big":2,"p50_add":20.0,"buyers":2,"sum_all":232,"max_view":5}`
	got := values(p, &part)
	// The quantile sketch answers within its relative accuracy; compare it separately.
	vals := p.Values(&part, nil)
	for _, v := range vals {
		if v.Name == "p50_add" && math.Abs(v.Num-20) > 0.2 {
			t.Errorf("p50_add = %v, want 20 within 1%%", v.Num)
		}
	}
	if fix := replaceNum(got, "p50_add"); fix != replaceNum(want, "p50_add") {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// No matching event: a conditional count is 0, a conditional avg/min has no value.
	empty := p.New()
	p.Add(&empty, shopEvent(&table, shop{"view", 1, "z"}), 0)
	for _, v := range p.Values(&empty, nil) {
		switch v.Name {
		case "adds", "priced_adds", "cart_value", "buyers":
			if v.Num != 0 {
				t.Errorf("%s = %v with no matching event, want 0", v.Name, v.Num)
			}
		case "avg_add", "min_add", "max_add", "p50_add":
			if !math.IsNaN(v.Num) {
				t.Errorf("%s = %v with no matching event, want NaN", v.Name, v.Num)
			}
		case "n":
			if v.Num != 1 {
				t.Errorf("n = %v, want 1: the event belongs to the window", v.Num)
			}
		}
	}
}

// replaceNum blanks the value of name in a JSON object of numbers.
func replaceNum(s, name string) string {
	key := `"` + name + `":`
	for i := 0; i+len(key) <= len(s); i++ {
		if s[i:i+len(key)] == key {
			j := i + len(key)
			for j < len(s) && s[j] != ',' && s[j] != '}' {
				j++
			}
			return s[:i+len(key)] + "_" + s[j:]
		}
	}
	return s
}

// TestWhereSlots checks the layout: aggregates of one field under one condition share a Stats slot,
// the same field under another condition gets its own.
func TestWhereSlots(t *testing.T) {
	var table core.FieldTable
	p, err := Compile(whereSpecs, &table)
	if err != nil {
		t.Fatal(err)
	}
	// price/add (priced_adds, cart_value, avg, min, max), nil/add (adds), nil/big, price/none
	// (sum_all), price/view.
	if got := len(p.statFields); got != 5 {
		t.Errorf("%d Stats slots, want 5", got)
	}
	q, err := Compile([]Spec{{Op: Count}, {Op: Sum, Field: "price"}}, &core.FieldTable{})
	if err != nil {
		t.Fatal(err)
	}
	if q.Conditional() || q.statConds != nil {
		t.Error("a plan without where is conditional")
	}
}

// naive computes whereSpecs the obvious way: filter the events, then aggregate them.
func naive(evs []shop) map[string]float64 {
	out := map[string]float64{}
	agg := func(name string, keep func(shop) bool, field bool, op Op) {
		var xs []float64
		users := map[string]bool{}
		for _, e := range evs {
			if !keep(e) {
				continue
			}
			users[e.user] = true
			if !field {
				xs = append(xs, 0)
			} else if !math.IsNaN(e.price) {
				xs = append(xs, e.price)
			}
		}
		v := math.NaN()
		switch op {
		case Count:
			v = float64(len(xs))
		case Sum:
			v = 0
			for _, x := range xs {
				v += x
			}
		case Avg:
			if len(xs) > 0 {
				v = 0
				for _, x := range xs {
					v += x
				}
				v /= float64(len(xs))
			}
		case Min, Max:
			for _, x := range xs {
				if math.IsNaN(v) || op == Min && x < v || op == Max && x > v {
					v = x
				}
			}
		case Distinct:
			v = float64(len(users))
		}
		out[name] = v
	}
	all := func(shop) bool { return true }
	add := func(e shop) bool { return e.typ == "add" }
	agg("n", all, false, Count)
	agg("adds", add, false, Count)
	agg("priced_adds", add, true, Count)
	agg("cart_value", add, true, Sum)
	agg("avg_add", add, true, Avg)
	agg("min_add", add, true, Min)
	agg("max_add", add, true, Max)
	agg("big", func(e shop) bool {
		return !math.IsNaN(e.price) && e.price >= 100 || len(e.user) >= 3 && e.user[:3] == "vip"
	}, false, Count)
	agg("buyers", func(e shop) bool { return e.typ == "buy" }, false, Distinct)
	agg("sum_all", all, true, Sum)
	agg("max_view", func(e shop) bool { return e.typ == "view" }, true, Max)
	return out
}

// TestWhereAgainstNaive folds random events into random consecutive partials, merges them (through
// a snapshot round trip for some), and compares with filtering then aggregating.
func TestWhereAgainstNaive(t *testing.T) {
	var table core.FieldTable
	p, err := Compile(whereSpecs, &table)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 9))
	types := []string{"view", "add", "buy"}
	users := []string{"a", "b", "c", "vip1", "vip2", "vipx", "d"}
	for round := range 300 {
		evs := make([]shop, rng.IntN(40))
		for i := range evs {
			evs[i] = shop{typ: types[rng.IntN(3)], price: math.Round(rng.Float64()*2000) / 10, user: users[rng.IntN(len(users))]}
			if rng.IntN(6) == 0 {
				evs[i].price = math.NaN()
			}
		}
		total := p.New()
		part := p.New()
		for i, e := range evs {
			if rng.IntN(5) == 0 { // split: close this partial and merge it in
				if rng.IntN(2) == 0 {
					enc := p.AppendBinary(nil, &part)
					dec, rest, err := p.Decode(enc)
					if err != nil || len(rest) != 0 {
						t.Fatalf("round %d: decode: %v, %d bytes left", round, err, len(rest))
					}
					part = dec
				}
				p.Merge(&total, &part)
				part = p.New()
			}
			ev := shopEvent(&table, e)
			if rng.IntN(2) == 0 {
				p.Add(&part, ev, int64(i))
			} else {
				p.AddWhere(&part, ev, int64(i), p.Where(ev))
			}
		}
		p.Merge(&total, &part)
		want := naive(evs)
		var adds []float64
		for _, e := range evs {
			if e.typ == "add" && !math.IsNaN(e.price) {
				adds = append(adds, e.price)
			}
		}
		slices.Sort(adds)
		for _, v := range p.Values(&total, nil) {
			w, ok := want[v.Name]
			if !ok { // p50_add: near the median of the add prices, within the sketch's 1%
				if len(adds) == 0 {
					if !math.IsNaN(v.Num) {
						t.Fatalf("round %d: p50_add = %v of no prices", round, v.Num)
					}
					continue
				}
				lo, hi := adds[(len(adds)-1)/2], adds[len(adds)/2]
				if v.Num < lo*0.99-1e-9 || v.Num > hi*1.01+1e-9 {
					t.Fatalf("round %d: p50_add = %v, want within 1%% of [%v, %v]", round, v.Num, lo, hi)
				}
				continue
			}
			if math.IsNaN(w) != math.IsNaN(v.Num) || !math.IsNaN(w) && math.Abs(w-v.Num) > 1e-9*math.Max(1, math.Abs(w)) {
				t.Fatalf("round %d: %s = %v, want %v", round, v.Name, v.Num, w)
			}
		}
	}
}

func TestWhereErrors(t *testing.T) {
	for _, c := range []struct{ where, want string }{
		{`type ==`, "Syntax error"},
		{`lower(type) == "x"`, "undeclared reference to 'lower'"},
		{`price * 2.0`, "condition must be of type bool, got double"},
		{`event`, "event must be followed by a field path"},
	} {
		_, err := Compile([]Spec{{Name: "x", Op: Count, Where: c.where}}, &core.FieldTable{})
		var we *WhereError
		if !errors.As(err, &we) || we.Aggregate != "x" {
			t.Errorf("where %q: error %v is not a WhereError naming the aggregate", c.where, err)
			continue
		}
		if !contains(err.Error(), c.want) {
			t.Errorf("where %q: error %q does not say %q", c.where, err, c.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// A string price in an event a conditional sum leaves out is no error; in an event it takes, it is.
func TestWhereCheck(t *testing.T) {
	var table core.FieldTable
	p, err := Compile([]Spec{{Name: "cart", Op: Sum, Field: "price", Where: `type == "add"`}}, &table)
	if err != nil {
		t.Fatal(err)
	}
	ev := shopEvent(&table, shop{typ: "view", user: "a", price: math.NaN()})
	pi, _ := table.Lookup("price")
	ev.Fields[pi] = core.Value{Kind: core.String, Str: "n/a"}
	if f, r := p.Check(ev); f != "" {
		t.Errorf("view with a string price: Check = %s: %s, want no error", f, r)
	}
	ti, _ := table.Lookup("type")
	ev.Fields[ti].Str = "add"
	if f, _ := p.Check(ev); f != "price" {
		t.Errorf("add with a string price: Check names %q, want price", f)
	}
}

func ExampleSpec_where() {
	var table core.FieldTable
	plan, err := Compile([]Spec{
		{Name: "logins", Op: Count},
		{Name: "failed_logins", Op: Count, Where: `outcome == "fail"`},
	}, &table)
	if err != nil {
		fmt.Println(err)
		return
	}
	outcome, _ := table.Lookup("outcome")
	part := plan.New()
	for i, o := range []string{"ok", "fail", "fail", "ok", "fail"} {
		ev := &core.Event{Fields: make([]core.Value, table.Len())}
		ev.Fields[outcome] = core.Value{Kind: core.String, Str: o}
		plan.Add(&part, ev, int64(i))
	}
	for _, v := range plan.Values(&part, nil) {
		fmt.Println(v.Name, v.Num)
	}
	// Output:
	// logins 5
	// failed_logins 3
}

// BenchmarkAdd folds one event into a partial, for a plan without where conditions and for the same
// aggregates under two conditions (one native, one through CEL).
func BenchmarkAdd(b *testing.B) {
	for _, c := range []struct {
		name  string
		specs []Spec
	}{
		{"plain", []Spec{{Op: Count}, {Op: Sum, Field: "price"}, {Op: Max, Field: "price"}}},
		{"where-native", []Spec{{Op: Count}, {Name: "adds", Op: Count, Where: `type == "add"`},
			{Op: Sum, Field: "price", Where: `type == "add"`}, {Op: Max, Field: "price", Where: `price > 10.0`}}},
		{"where-cel", []Spec{{Op: Count}, {Op: Sum, Field: "price"}, {Op: Max, Field: "price", Where: `user.startsWith("vip")`}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var table core.FieldTable
			p, err := Compile(c.specs, &table)
			if err != nil {
				b.Fatal(err)
			}
			ev := shopEvent(&table, shop{"add", 12.5, "vip3"})
			part := p.New()
			for b.Loop() {
				p.Add(&part, ev, 1)
			}
		})
	}
}

// BenchmarkCompileWhere is the cost a where condition adds to compiling a plan (once per pipeline).
func BenchmarkCompileWhere(b *testing.B) {
	specs := []Spec{{Op: Count, Name: "adds", Where: `type == "add"`}}
	for b.Loop() {
		if _, err := Compile(specs, &core.FieldTable{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWhereEncoding: a condition changes which events a partial holds, not how it encodes: a plan
// whose aggregates share one condition encodes exactly as the unconditional plan fed the filtered
// events, and decodes back to the same values.
func TestWhereEncoding(t *testing.T) {
	cond := `type == "add"`
	plain := []Spec{{Name: "n", Op: Count, Field: "price"}, {Name: "s", Op: Sum, Field: "price"},
		{Name: "hi", Op: Max, Field: "price"}, {Name: "sd", Op: Stddev, Field: "price"},
		{Name: "p90", Op: Quantile, Field: "price", Q: 0.9}, {Name: "u", Op: Distinct, Field: "user"},
		{Name: "last", Op: Last, Field: "price"}, {Name: "top", Op: TopK, Field: "user", K: 2}}
	var where []Spec
	for _, s := range plain {
		s.Where = cond
		where = append(where, s)
	}
	var t1, t2 core.FieldTable
	t2.Index("type") // lay both tables out alike
	pp, err := Compile(plain, &t2)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := Compile(where, &t1)
	if err != nil {
		t.Fatal(err)
	}
	a, b := pw.New(), pp.New()
	for i, e := range shopEvents {
		pw.Add(&a, shopEvent(&t1, e), int64(i))
		if e.typ == "add" {
			pp.Add(&b, shopEvent(&t2, e), int64(i))
		}
	}
	// Neither plan has a plain count, so neither keeps (or encodes) the number of events added.
	ea, eb := pw.AppendBinary(nil, &a), pp.AppendBinary(nil, &b)
	if string(ea) != string(eb) {
		t.Fatalf("encodings differ:\n%x\n%x", ea, eb)
	}
	d, rest, err := pw.Decode(ea)
	if err != nil || len(rest) > 0 {
		t.Fatal(err, len(rest))
	}
	if got, want := values(pw, &d), values(pw, &a); got != want {
		t.Errorf("decoded %s, want %s", got, want)
	}
}
