package clickstream

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
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

// TestPlantedScenarios checks the stories Generate writes by hand, independently of
// expected.ndjson, so that a regenerated golden file cannot silently lose them.
func TestPlantedScenarios(t *testing.T) {
	r := run(t, dataset(t), 4, 7)

	// u-17 browses shoes, adds a pair to the cart and leaves: the cart-abandoned pattern matches
	// 10 minutes after the cart add, the session (closed 30 minutes after its last event) fires
	// "recommend" with shoes on top; the purchase two hours later resolves it.
	ab := of(r.decisions, Abandoner, "")
	if got := states(ab); got != "cart-abandoned:absent,recommend:firing,recommend:resolved" {
		t.Fatalf("%s: decisions %s", Abandoner, got)
	}
	cartAt := Start.Add(20*time.Minute + 6*70*time.Second)
	if !ab[0].Time.Equal(cartAt.Add(10 * time.Minute)) {
		t.Errorf("%s cart-abandoned at %s, want 10 minutes after the cart add at %s", Abandoner, ab[0].Time, cartAt)
	}
	rec := ab[1]
	if !rec.Window.Start.Equal(Start.Add(20*time.Minute)) || !rec.Window.End.Equal(cartAt.Add(30*time.Minute)) {
		t.Errorf("%s session %s..%s, want 09:20 to 30 minutes after the cart add", Abandoner, rec.Window.Start, rec.Window.End)
	}
	want := map[string]float64{"events": 7, "views": 6, "products": 5, "cart_adds": 1, "checkouts": 0, "cart_value": 119.99}
	for k, v := range want {
		if rec.Values[k] != v {
			t.Errorf("%s recommend %s = %v, want %v", Abandoner, k, rec.Values[k], v)
		}
	}
	if top := fmt.Sprint(rec.Values["categories"]); !strings.HasPrefix(top, "[map[count:6 value:shoes]") {
		t.Errorf("%s categories %s, want shoes (5 views and the cart add) first", Abandoner, top)
	}
	if ab[2].Values["checkouts"] != 1.0 || !ab[2].Time.After(Start.Add(2*time.Hour+40*time.Minute)) {
		t.Errorf("%s resolved by %v", Abandoner, ab[2])
	}

	// u-08 buys within four minutes: nothing to say.
	if ds := of(r.decisions, QuickBuyer, ""); len(ds) != 0 {
		t.Errorf("%s: decisions %s, want none", QuickBuyer, states(ds))
	}
	// u-23 hesitates 15 minutes: the pattern matches at cart add + 10 min, but the session ends in
	// a purchase so nothing is recommended.
	slow := of(r.decisions, SlowBuyer, "")
	if states(slow) != "cart-abandoned:absent" || !slow[0].Time.Equal(Start.Add(65*time.Minute)) {
		t.Errorf("%s: decisions %s, want one cart-abandoned at 10:05", SlowBuyer, states(slow))
	}

	// u-42's four hours of browsing are cut into sessions of at most two hours.
	var sessions int
	for _, l := range r.windows {
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
	if len(r.late) != 1 || r.late[0].Key != Offline || !r.late[0].Time.Equal(Start.Add(25*time.Minute)) {
		t.Errorf("late: %v, want u-05's view of 09:25", r.late)
	}
	// The two malformed lines go to the dead-letter output, named by line and reason.
	if len(r.dead) != 2 || !strings.Contains(r.dead[0], "invalid JSON") || !strings.Contains(r.dead[1], `field "ts": missing`) {
		t.Errorf("dead letters: %q", r.dead)
	}
	// Background visitors abandon carts too: the rule is not only about the planted ones.
	if n := len(r.decisions); n < 10 {
		t.Errorf("%d decisions in all; the background traffic should trigger some", n)
	}
}

func ExampleGenerate() {
	data := Generate(Seed, Users)
	first, _, _ := strings.Cut(string(data), "\n")
	fmt.Println(first)
	// Output: {"user":"u-42","ts":1795165200000,"type":"view","product":"p-kitchen-13","category":"kitchen","price":118.99,"dwell_ms":57615}
}
