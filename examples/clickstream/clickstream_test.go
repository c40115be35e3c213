package clickstream

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/examples/internal/exampletest"
)

func of(ds []decision, key, rule string) []decision {
	var out []decision
	for _, d := range ds {
		if d.Key == key && (rule == "" || d.Rule == rule) {
			out = append(out, d)
		}
	}
	return out
}

func states(ds []decision) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Rule+":"+d.State)
	}
	return strings.Join(s, ",")
}

// example is the function and its dataset, run as `eddy dev --input
// examples/clickstream/events.ndjson` runs them.
var example = exampletest.Example{Name: "examples/clickstream/events.ndjson", Generate: func() []byte { return Generate(Seed, Users) }}

type decision = exampletest.Decision

// TestPlantedScenarios checks events.ndjson against Generate, then runs the function over it under
// several deliveries (see exampletest.Example.Check): the decisions are expected.ndjson's, the late
// output and the dead letters the same every time, and the planted scenarios hold.
func TestPlantedScenarios(t *testing.T) { example.Check(t, checkPlanted) }

// checkPlanted checks the stories Generate writes by hand, independently of
// expected.ndjson, so that a regenerated golden file cannot silently lose them.
func checkPlanted(t *testing.T, out *exampletest.Outputs) {
	r := out.View(t)
	// Sessions in progress speak every 3 events of their visitor (early: {count: 3}); the checks
	// after this one read the closed sessions.
	r.Windows = checkEarly(t, r)

	// u-17 browses shoes, adds a pair to the cart and leaves: the cart-abandoned pattern matches
	// 10 minutes after the cart add, the session (closed 30 minutes after its last event) fires
	// "recommend" with shoes on top. At 10:30 the visitor abandons a second cart: each session is
	// judged on its own, so a second "recommend" fires (and the pattern matches again). The
	// purchase at 11:40 gives no decision at all: nothing to resolve, nothing to recommend.
	ab := of(r.Decisions, Abandoner, "")
	if got := states(ab); got != "cart-abandoned:absent,recommend:firing,cart-abandoned:absent,recommend:firing" {
		t.Fatalf("%s: decisions %s", Abandoner, got)
	}
	visits := []struct {
		start, cart time.Time
		values      map[string]float64
		top         string // the categories, most frequent first
	}{
		{Start.Add(20 * time.Minute), Start.Add(20*time.Minute + 6*70*time.Second),
			map[string]float64{"events": 7, "views": 6, "products": 5, "cart_adds": 1, "checkouts": 0, "cart_value": 119.99},
			"[map[count:6 value:shoes] map[count:1 value:jackets]]"},
		{Start.Add(90 * time.Minute), Start.Add(98 * time.Minute),
			map[string]float64{"events": 5, "views": 4, "products": 3, "cart_adds": 1, "checkouts": 0, "cart_value": 119.99},
			"[map[count:5 value:shoes]]"},
	}
	for i, v := range visits {
		pat, rec := ab[2*i], ab[2*i+1]
		if !pat.Time.Equal(v.cart.Add(10*time.Minute)) || pat.Severity != "warning" {
			t.Errorf("%s visit %d: cart-abandoned at %s severity %q, want 10 minutes after the cart add at %s, warning", Abandoner, i+1, pat.Time, pat.Severity, v.cart)
		}
		if !rec.Window.Start.Equal(v.start) || !rec.Window.End.Equal(v.cart.Add(30*time.Minute)) || !rec.Time.Equal(rec.Window.End) {
			t.Errorf("%s visit %d: recommend for %s..%s at %s, want %s to 30 minutes after the cart add", Abandoner, i+1, rec.Window.Start, rec.Window.End, rec.Time, v.start)
		}
		for k, want := range v.values {
			if rec.Values[k] != want {
				t.Errorf("%s visit %d: recommend %s = %v, want %v", Abandoner, i+1, k, rec.Values[k], want)
			}
		}
		if top := fmt.Sprint(rec.Values["categories"]); top != v.top {
			t.Errorf("%s visit %d: categories %s, want %s", Abandoner, i+1, top, v.top)
		}
	}
	if ab[1].ID == ab[3].ID {
		t.Errorf("%s: both recommendations have id %s", Abandoner, ab[1].ID)
	}
	// The purchase session exists (one view, one checkout) and decides nothing.
	if w := windowsOf(t, r, Abandoner); len(w) != 3 || w[2].Values["checkouts"] != 1.0 || w[2].Values["views"] != 1.0 ||
		!w[2].Start.Equal(Start.Add(2*time.Hour+40*time.Minute)) {
		t.Errorf("%s sessions %+v, want the two abandoned ones and the 11:40 purchase", Abandoner, w)
	}

	// u-08 buys within four minutes: nothing to say.
	if ds := of(r.Decisions, QuickBuyer, ""); len(ds) != 0 {
		t.Errorf("%s: decisions %s, want none", QuickBuyer, states(ds))
	}
	// u-23 hesitates 15 minutes: the pattern matches at cart add + 10 min, but the session ends in
	// a purchase so nothing is recommended.
	slow := of(r.Decisions, SlowBuyer, "")
	if states(slow) != "cart-abandoned:absent" || !slow[0].Time.Equal(Start.Add(65*time.Minute)) {
		t.Errorf("%s: decisions %s, want one cart-abandoned at 10:05", SlowBuyer, states(slow))
	}

	// u-42's four hours of browsing are cut into sessions of at most two hours.
	var sessions int
	for _, l := range r.Windows {
		var w struct {
			Key    string
			Values struct{ Started, Ended float64 }
		}
		if err := json.Unmarshal([]byte(l), &w); err != nil {
			t.Fatal(err)
		}
		if w.Key != Crawler {
			continue
		}
		sessions++
		// The window ends a gap after the last event; the events themselves span at most 2 hours.
		if span := time.Duration(w.Values.Ended-w.Values.Started) * time.Millisecond; span >= 2*time.Hour || span < 90*time.Minute {
			t.Errorf("%s session spans %s of events, want just under max_duration (2h)", Crawler, span)
		}
	}
	if sessions != 2 {
		t.Errorf("%s: %d sessions, want 2 (4 hours of activity, capped at 2 hours each)", Crawler, sessions)
	}

	// u-05's replayed view is hours behind the watermark: late output, not a silent drop.
	if len(r.Late) != 1 || r.Late[0].Key != Offline || !r.Late[0].Time.Equal(Start.Add(25*time.Minute)) {
		t.Errorf("late: %v, want u-05's view of 09:25", r.Late)
	}
	// The two malformed lines go to the dead-letter output, named by line and reason.
	if len(r.Dead) != 2 || !strings.Contains(r.Dead[0], "invalid JSON") || !strings.Contains(r.Dead[1], `field "ts": missing`) {
		t.Errorf("dead letters: %q", r.Dead)
	}
	// Every session is judged on its own: the recommend decisions are exactly the firing ones of the
	// sessions that satisfy the rule, read off the session results, and every event is a view, a
	// cart add or a checkout, so the where: counts add up to the events.
	var qualifying, recommended []string
	for _, l := range r.Windows {
		w := parseWindow(t, l)
		v := w.Values
		if v["views"]+v["cart_adds"]+v["checkouts"] != v["events"] {
			t.Errorf("%s session at %s: views %v + cart adds %v + checkouts %v != events %v", w.Key, w.Start, v["views"], v["cart_adds"], v["checkouts"], v["events"])
		}
		interest := false
		for _, c := range w.Categories {
			interest = interest || c.Count >= 4
		}
		if v["cart_adds"] >= 1 && v["checkouts"] == 0 && v["products"] >= 3 && interest {
			qualifying = append(qualifying, fmt.Sprint(w.Key, " ", w.Start, " ", w.End))
		}
	}
	for _, d := range r.Decisions {
		if d.Rule == "recommend" {
			if d.State != "firing" || d.Severity != "info" {
				t.Errorf("%s: recommend %s %q, want firing info (no session is revised out of the rule)", d.Key, d.State, d.Severity)
			}
			recommended = append(recommended, fmt.Sprint(d.Key, " ", d.Window.Start, " ", d.Window.End))
		}
	}
	slices.Sort(qualifying)
	slices.Sort(recommended)
	if !slices.Equal(qualifying, recommended) || len(recommended) < 10 {
		t.Errorf("recommendations:\n%s\nqualifying sessions:\n%s", strings.Join(recommended, "\n"), strings.Join(qualifying, "\n"))
	}
	// Background visitors abandon carts too: the rule is not only about the planted ones.
	if n := len(r.Decisions); n < 10 {
		t.Errorf("%d decisions in all; the background traffic should trigger some", n)
	}
}

// checkEarly checks the early results (sessions in progress) and the live-cart rule that reads them,
// and returns the closed sessions' results.
func checkEarly(t *testing.T, r *exampletest.View) (closed []string) {
	t.Helper()
	type line struct {
		Key        string
		Start, End time.Time
		Revision   int
		Final      *bool
		Values     struct{ Events, CartValue, Checkouts float64 }
	}
	parse := func(l string) line {
		var w line
		if err := json.Unmarshal([]byte(strings.Replace(l, `"cart_value"`, `"cartvalue"`, 1)), &w); err != nil {
			t.Fatal(err)
		}
		return w
	}
	type span struct {
		key        string
		start, end time.Time
	}
	results := map[span]line{}
	visits := map[time.Time][]string{} // u-17's results by session start
	n := 0
	for _, l := range r.Windows {
		w := parse(l)
		results[span{w.Key, w.Start, w.End}] = w
		kind := "closed"
		if w.Final == nil {
			closed = append(closed, l)
		} else {
			kind = "early"
			n++
			if *w.Final {
				t.Errorf("an early result says final: true: %s", l)
			}
		}
		if w.Key == Abandoner {
			visits[w.Start] = append(visits[w.Start], fmt.Sprintf("%s:%v:r%d", kind, w.Values.Events, w.Revision))
		}
	}
	// u-17's first visit (7 events) speaks after its 3rd and 6th events, before it closes; its
	// early results take revisions 0 and 1, the closed session 2. (When the later visits speak
	// depends on the partition's watermark: a visitor's count restarts once all its sessions have
	// closed, and a closed session says nothing early.) Every visit's early results come first.
	if got, want := strings.Join(visits[Start.Add(20*time.Minute)], " "), "early:3:r0 early:6:r1 closed:7:r2"; got != want {
		t.Errorf("%s first visit: results %s, want %s", Abandoner, got, want)
	}
	for start, rs := range visits {
		for i, res := range rs {
			if kind := strings.Split(res, ":")[0]; !strings.HasSuffix(res, fmt.Sprintf(":r%d", i)) || kind == "closed" && i != len(rs)-1 {
				t.Errorf("%s visit at %s: results %s, want early ones first, then the closed one, revisions counting up", Abandoner, start, rs)
			}
		}
	}
	if n < 100 {
		t.Errorf("%d early results, want one every 3 events of a visitor", n)
	}
	// live-cart sees early results as well as closed sessions: each firing is on one of them,
	// with $150 or more in the cart and no checkout, and most fire while the session is in
	// progress.
	fired, early := 0, 0
	for _, d := range r.Decisions {
		if d.Rule != "live-cart" || d.State != "firing" {
			continue
		}
		fired++
		w, ok := results[span{d.Key, d.Window.Start, d.Window.End}]
		if !ok {
			t.Errorf("%s: live-cart fired on %s..%s, which is no session result", d.Key, d.Window.Start, d.Window.End)
			continue
		}
		if w.Final != nil {
			early++
		}
		if w.Values.CartValue < 150 || w.Values.Checkouts != 0 {
			t.Errorf("%s: live-cart fired on a session with $%v in the cart and %v checkouts", d.Key, w.Values.CartValue, w.Values.Checkouts)
		}
	}
	if fired < 3 || early*2 < fired {
		t.Errorf("live-cart fired %d times, %d of them on sessions in progress", fired, early)
	}
	return closed
}

// parsed is a session result as the scenario checks read it.
type parsed struct {
	Key        string
	Start, End time.Time
	Values     map[string]float64
	Categories []struct {
		Value string
		Count float64
	}
}

// parseWindow reads a window line: its numeric values, and the categories top-k apart.
func parseWindow(t *testing.T, l string) parsed {
	t.Helper()
	var raw struct {
		Key        string
		Start, End time.Time
		Values     map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(l), &raw); err != nil {
		t.Fatal(err)
	}
	w := parsed{Key: raw.Key, Start: raw.Start, End: raw.End, Values: map[string]float64{}}
	for k, v := range raw.Values {
		if k == "categories" {
			if err := json.Unmarshal(v, &w.Categories); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			t.Fatalf("%s: value %s: %v", l, k, err)
		}
		w.Values[k] = f
	}
	return w
}

// windowsOf is key's session results in time order.
func windowsOf(t *testing.T, r *exampletest.View, key string) []parsed {
	var out []parsed
	for _, l := range r.Windows {
		if w := parseWindow(t, l); w.Key == key {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b parsed) int { return a.Start.Compare(b.Start) })
	return out
}

func ExampleGenerate() {
	data := Generate(Seed, Users)
	first, _, _ := strings.Cut(string(data), "\n")
	fmt.Println(first)
	// Output: {"user":"u-42","ts":1795165200000,"type":"view","product":"p-kitchen-13","category":"kitchen","price":118.99,"dwell_ms":57615}
}

// BenchmarkFunction measures the function alone over the dataset (decoding, windows, aggregates,
// rules and patterns; no broker, no state store), in batches of 100 records.
func BenchmarkFunction(b *testing.B) { example.Benchmark(b) }
