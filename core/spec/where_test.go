package spec

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

const whereSpec = `name: shop
input: {key: user, time: ts, time_format: unix_ms, out_of_order: 30s}
window:
  sliding: {size: 20s, slide: 5s}
aggregates:
  - {name: n, count: true}
  - {name: adds, count: true, where: "type == 'add_to_cart'"}
  - {name: cart_value, sum: price, where: "type == 'add_to_cart'"}
  - {name: avg_add, avg: price, where: "type == 'add_to_cart'"}
  - {name: max_buy, max: price, where: type == "buy" && price > 0.0}
  - {name: min_any, min: price}
  - {name: big, count: true, where: price >= 50 || item.startsWith("tv")}
`

type shopEv struct {
	ms    int64
	user  string
	typ   string
	price float64 // NaN: no price
	item  string
}

func (e shopEv) record(i int) core.Record {
	price := ""
	if !math.IsNaN(e.price) {
		price = fmt.Sprintf(`,"price":%g`, e.price)
	}
	return core.Record{ID: fmt.Sprintf("r%d", i), Offset: fmt.Sprint(i),
		Data: fmt.Appendf(nil, `{"user":%q,"ts":%d,"type":%q,"item":%q%s}`, e.user, e.ms, e.typ, e.item, price)}
}

// naiveWindows computes whereSpec's results by filtering then aggregating every window that holds
// an event, keyed by "user start".
func naiveWindows(evs []shopEv) map[string]map[string]float64 {
	const size, slide = 20000, 5000
	out := map[string]map[string]float64{}
	for _, e := range evs {
		for start := (e.ms/slide)*slide - size + slide; start <= e.ms; start += slide {
			k := fmt.Sprintf("%s %d", e.user, start)
			if out[k] != nil {
				continue
			}
			var in []shopEv
			for _, x := range evs {
				if x.user == e.user && x.ms >= start && x.ms < start+size {
					in = append(in, x)
				}
			}
			out[k] = naiveAggs(in)
		}
	}
	return out
}

func naiveAggs(in []shopEv) map[string]float64 {
	priced := func(e shopEv) bool { return !math.IsNaN(e.price) }
	v := map[string]float64{"n": float64(len(in)), "adds": 0, "cart_value": 0, "avg_add": math.NaN(),
		"max_buy": math.NaN(), "min_any": math.NaN(), "big": 0}
	nAdd := 0.0
	for _, e := range in {
		if e.typ == "add_to_cart" {
			v["adds"]++
			if priced(e) {
				v["cart_value"] += e.price
				nAdd++
			}
		}
		if e.typ == "buy" && priced(e) && e.price > 0 && !(v["max_buy"] >= e.price) {
			v["max_buy"] = e.price
		}
		if priced(e) && !(v["min_any"] <= e.price) {
			v["min_any"] = e.price
		}
		if priced(e) && e.price >= 50 || strings.HasPrefix(e.item, "tv") {
			v["big"]++
		}
	}
	if nAdd > 0 {
		v["avg_add"] = v["cart_value"] / nAdd
	}
	return v
}

// TestWhereAgainstNaive runs random shop events through sliding windows, split into random batches
// with a snapshot and restore between them, and compares every window with the naive reference.
func TestWhereAgainstNaive(t *testing.T) {
	f, err := Parse("eddy.yaml", []byte(whereSpec))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 5))
	types := []string{"view", "add_to_cart", "buy"}
	items := []string{"tv-55", "phone", "cable", "tvstand"}
	for round := range 30 {
		var evs []shopEv
		ms := int64(1_700_000_000_000)
		for range 50 + rng.IntN(150) {
			ms += rng.Int64N(3000)
			e := shopEv{ms: ms - rng.Int64N(10000), user: fmt.Sprint("u", rng.IntN(3)), typ: types[rng.IntN(3)],
				price: float64(rng.IntN(2000)) / 20, item: items[rng.IntN(len(items))]}
			if rng.IntN(5) == 0 {
				e.price = math.NaN()
			}
			evs = append(evs, e)
		}
		ctx := context.Background()
		p, err := c.NewPipeline()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[string]float64{}
		collect := func(outs []core.Output) {
			for _, o := range outs {
				w, ok := o.(*core.WindowResult)
				if !ok {
					continue
				}
				k := fmt.Sprintf("%s %d", w.Key, w.Start.UnixMilli())
				if got[k] != nil {
					t.Fatalf("round %d: window %s emitted twice", round, k)
				}
				got[k] = map[string]float64{}
				for _, v := range w.Values {
					got[k][v.Name] = v.Num
				}
			}
		}
		for i := 0; i < len(evs); {
			j := min(len(evs), i+1+rng.IntN(40))
			var recs []core.Record
			for k := i; k < j; k++ {
				recs = append(recs, evs[k].record(k))
			}
			res, err := p.Process(ctx, core.Batch{Partition: "0", Records: recs, Now: time.UnixMilli(1_700_000_000_000)})
			if err != nil || len(res.Failures) > 0 {
				t.Fatalf("round %d: %v %v", round, err, res.Failures)
			}
			collect(res.Outputs)
			if rng.IntN(2) == 0 { // the next invocation restores the state
				snap, err := p.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				if p, err = c.NewPipeline(); err != nil {
					t.Fatal(err)
				}
				if err := p.Restore(snap); err != nil {
					t.Fatal(err)
				}
			}
			i = j
		}
		res, err := p.Flush(ctx, func(o core.Output) { collect([]core.Output{core.CloneOutput(o)}) })
		if err != nil || res.Stats.Late > 0 {
			t.Fatalf("round %d: flush %v, %d late", round, err, res.Stats.Late)
		}
		want := naiveWindows(evs)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d windows, want %d", round, len(got), len(want))
		}
		for k, w := range want {
			g := got[k]
			for name, wv := range w {
				gv, ok := g[name]
				if !ok || math.IsNaN(wv) != math.IsNaN(gv) || !math.IsNaN(wv) && math.Abs(wv-gv) > 1e-9*math.Max(1, math.Abs(wv)) {
					t.Fatalf("round %d: window %s: %s = %v, want %v", round, k, name, gv, wv)
				}
			}
		}
	}
}

func TestWhereCompactAndLongForm(t *testing.T) {
	long := strings.Replace(whereSpec, `{name: adds, count: true, where: "type == 'add_to_cart'"}`,
		"name: adds\n    op: count\n    where: type == 'add_to_cart'", 1)
	long = strings.Replace(long, "  - name: adds", "  - name: adds", 1)
	for _, src := range []string{whereSpec, long} {
		f, err := Parse("eddy.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Aggregates[1].Where; got != "type == 'add_to_cart'" {
			t.Errorf("adds where = %q", got)
		}
	}
}

func TestPatternSeverity(t *testing.T) {
	src := "name: p\ninput: {key: key, time: ts, time_format: unix_ms}\npatterns:\n" +
		"  - name: spike\n    severity: critical\n    steps: [{name: high, where: value > 90.0}]\n" +
		"  - name: plain\n    steps: [{name: high, where: value > 90.0}]\n"
	f, err := Parse("eddy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, f, records([2]float64{1, 95}))
	if len(got) != 2 || !strings.Contains(got[0], `"rule":"spike"`) || !strings.Contains(got[0], `"severity":"critical"`) ||
		!strings.Contains(got[1], `"rule":"plain"`) || strings.Contains(got[1], `"severity"`) {
		t.Errorf("decisions:\n%s", strings.Join(got, "\n"))
	}
}

// A pattern reports the captured fields of the matched events with their JSON type: strings were
// reported as null once.
func TestPatternCapturesStrings(t *testing.T) {
	src := "name: p\ninput: {key: key, time: ts, time_format: unix_ms}\npatterns:\n" +
		"  - name: stop\n    capture: [status, value, meta]\n    steps: [{name: stop, where: \"status == 'stopped'\"}]\n"
	f, err := Parse("eddy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	rec := core.Record{ID: "1", Offset: "1", Data: []byte(`{"key":"m","ts":1000,"status":"stopped","value":3,"meta":{"a":[1,"x"]}}`)}
	got := run(t, f, []core.Record{rec})
	want := `"values":{"count":1,"stop.count":1,"stop.status":"stopped","stop.value":3,"stop.meta":{"a":[1,"x"]}}`
	if len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("decisions:\n%s\nwant values %s", strings.Join(got, "\n"), want)
	}
}

func TestTooManyConditions(t *testing.T) {
	var b strings.Builder
	b.WriteString(base)
	for i := range 65 {
		fmt.Fprintf(&b, "  - {name: c%d, count: true, where: x == %d}\n", i, i)
	}
	_, err := Parse("eddy.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "eddy.yaml:74:") || !strings.Contains(err.Error(), "aggregates[66].where: more than 64 distinct where conditions") {
		t.Errorf("65 conditions: %v", err)
	}
}
