package fraud

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/examples/internal/exampletest"
)

// story lists an account's decisions as "HH:MM:SS rule state".
func story(ds []decision, key string) string {
	var s []string
	for _, d := range ds {
		if d.Key == key {
			s = append(s, d.Time.Format("15:04:05")+" "+d.Rule+" "+d.State)
		}
	}
	return strings.Join(s, ", ")
}

func find(t *testing.T, ds []decision, key, rule, state string) decision {
	t.Helper()
	for _, d := range ds {
		if d.Key == key && d.Rule == rule && d.State == state {
			return d
		}
	}
	t.Fatalf("no %s %s decision for %s; its decisions: %s", rule, state, key, story(ds, key))
	return decision{}
}

// example is the function and its dataset, run as `eddy dev --input
// examples/fraud/events.ndjson` runs them.
var example = exampletest.Example{Name: "examples/fraud/events.ndjson", Generate: func() []byte { return Generate(Seed, Accounts) }}

type decision = exampletest.Decision

// TestPlantedScenarios checks events.ndjson against Generate, then runs the function over it under
// several deliveries (see exampletest.Example.Check): the decisions are expected.ndjson's, the late
// output and the dead letters the same every time, and the planted scenarios hold.
func TestPlantedScenarios(t *testing.T) { example.Check(t, checkPlanted) }

// checkPlanted checks the stories Generate plants, independently of expected.ndjson, so
// that a regenerated golden file cannot silently lose them.
func checkPlanted(t *testing.T, out *exampletest.Outputs) {
	r := out.View(t)

	// a-3: nine failures from five IPs, then a success. The pattern spans the first failure at
	// 09:10 to the success at 09:13:45 and reports all nine failures; the first window holding
	// all five IPs (ending 09:15) raises too-many-ips.
	bf := find(t, r.Decisions, BruteForced, "brute-force", "matched")
	if !bf.Window.Start.Equal(Start.Add(70*time.Minute)) || !bf.Time.Equal(Start.Add(70*time.Minute+9*25*time.Second)) {
		t.Errorf("brute-force over %s..%s (time %s)", bf.Window.Start, bf.Window.End, bf.Time)
	}
	if bf.Values["fails.count"] != 9.0 || bf.Values["success.count"] != 1.0 || bf.Severity != "critical" {
		t.Errorf("brute-force values %v severity %q, want 9 failures and 1 success, critical", bf.Values, bf.Severity)
	}
	// The window counts the logins and, with where:, the failed ones among them.
	ips := find(t, r.Decisions, BruteForced, "too-many-ips", "firing")
	if ips.Values["ips"] != 5.0 || ips.Values["logins"] != 10.0 || ips.Values["failures"] != 9.0 || ips.Values["payments"] != 0.0 ||
		ips.Severity != "high" || !ips.Time.Equal(Start.Add(75*time.Minute)) {
		t.Errorf("too-many-ips at %s severity %q with %v", ips.Time, ips.Severity, ips.Values)
	}

	// a-12's three typos are not an attack; a-11's flight is not impossible travel.
	for _, k := range []string{Forgetful, Traveller} {
		if s := story(r.Decisions, k); s != "" {
			t.Errorf("%s: %s, want nothing", k, s)
		}
	}

	// a-7: Lisbon then Singapore 40 minutes later.
	tr := find(t, r.Decisions, Teleported, "impossible-travel", "matched")
	if tr.Values["here.lat"] != 38.72 || tr.Values["there.lon"] != 103.82 || tr.Window.End.Sub(tr.Window.Start) != 40*time.Minute {
		t.Errorf("impossible-travel %v over %s..%s", tr.Values, tr.Window.Start, tr.Window.End)
	}
	if s := story(r.Decisions, Teleported); s != "11:40:00 impossible-travel matched" || tr.Severity != "high" {
		t.Errorf("%s: %s, severity %q", Teleported, s, tr.Severity)
	}

	// a-21: card testing fires once the window holds six tiny charges at four merchants, and
	// stays firing through the 1,899.00 drain (the median stays small).
	ct := find(t, r.Decisions, CardTested, "card-testing", "firing")
	if m := ct.Values["median_amount"].(float64); m >= 2 || ct.Values["merchants"].(float64) < 4 || ct.Values["payments"].(float64) < 6 ||
		ct.Values["payments"].(float64)+ct.Values["logins"].(float64) != ct.Values["events"].(float64) || ct.Time.After(Start.Add(5*time.Hour+10*time.Minute)) {
		t.Errorf("card-testing at %s with %v", ct.Time, ct.Values)
	}
	res := find(t, r.Decisions, CardTested, "card-testing", "resolved")
	if !res.Time.After(Start.Add(5*time.Hour + 30*time.Minute)) {
		t.Errorf("card-testing resolved at %s, before the test charges left the 30-minute window", res.Time)
	}

	// a-30: four countries in 20 minutes.
	hc := find(t, r.Decisions, Hopper, "too-many-countries", "firing")
	if hc.Values["countries"].(float64) < 3 {
		t.Errorf("too-many-countries with %v", hc.Values)
	}
	find(t, r.Decisions, Hopper, "impossible-travel", "matched")

	// Ordinary accounts raise nothing: every decision belongs to a planted story.
	planted := map[string]bool{BruteForced: true, Teleported: true, CardTested: true, Hopper: true}
	for _, d := range r.Decisions {
		if !planted[d.Key] {
			t.Errorf("unexpected decision %s %s for %s at %s", d.Rule, d.State, d.Key, d.Time)
		}
	}

	// The payment an hour late goes to the late output; the two bad lines to the dead letters.
	if len(r.Late) != 1 || r.Late[0].Key != Offline || !r.Late[0].Time.Equal(Start.Add(90*time.Minute)) {
		t.Errorf("late: %v, want a-44's payment of 09:30", r.Late)
	}
	if len(r.Dead) != 2 || !strings.Contains(r.Dead[0], "invalid JSON") || !strings.Contains(r.Dead[1], `field "ts"`) {
		t.Errorf("dead letters: %q", r.Dead)
	}
}

func ExampleGenerate() {
	data := Generate(Seed, Accounts)
	first, _, _ := strings.Cut(string(data), "\n")
	fmt.Println(first)
	// Output: {"account":"a-52","ts":1795161600,"type":"login","failed":0,"ip":"101.231.11.164","country":"NL","lat":52.37,"lon":4.90}
}

// BenchmarkFunction measures the function alone over the dataset (decoding, windows, aggregates,
// rules and patterns; no broker, no state store), in batches of 100 records.
func BenchmarkFunction(b *testing.B) { example.Benchmark(b) }
