package pattern_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/functions/internal/fntest"
	"github.com/eddyhq/eddy/functions/pattern"
	cpattern "github.com/eddyhq/eddy/internal/pattern"
)

var t0 = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

func defaults() pattern.BruteForceConfig {
	return pattern.BruteForceConfig{Key: "user", Time: "ts", TimeFormat: "unix_ms"}
}

// TestGoEqualsSpec: BruteForce with the defaults and eddy.yaml describe the same function, and the
// file passes everything `eddy validate` checks (spec.Load validates; Compile builds).
func TestGoEqualsSpec(t *testing.T) {
	f, err := pattern.BruteForce(defaults())
	fntest.SameAsSpec(t, f, err)
}

type login struct {
	user    string
	at      time.Duration // from t0
	outcome string
}

func records(ls []login) []core.Record {
	return fntest.Records(len(ls), func(i int) []byte {
		l := ls[i]
		return fmt.Appendf(nil, `{"user":%q,"ts":%d,"outcome":%q,"attempt":%d}`, l.user, t0.Add(l.at).UnixMilli(), l.outcome, i+1)
	})
}

// run runs recs through f with fntest.Run in batches of n, returning every output as a JSON line,
// the decisions in a readable form and the number of late outputs.
func run(t *testing.T, f *spec.Function, recs []core.Record, n int) (lines, decisions []string, late int) {
	t.Helper()
	lines = fntest.Run(t, f, recs, n, t0, func(o core.Output) {
		switch o := o.(type) {
		case *core.Late:
			late++
		case *core.Decision:
			if len(o.ID) != 32 {
				t.Errorf("decision id %q is not 32 hex digits", o.ID)
			}
			decisions = append(decisions, fmt.Sprintf("%s %s %s [%s,%s] %s", o.Rule, o.State, o.Key,
				o.Window.Start.Sub(t0), o.Window.End.Sub(t0), fntest.Values(o.Values)))
		}
	})
	return lines, decisions, late
}

// logins is four users' logins in arrival order, which is event-time order except where noted
// (the watermark is per partition, so out-of-order means behind the newest event of any user):
//   - alice fails five times within 26 s (the failure at 23 s arriving after the one at 26 s), then
//     succeeds at 50 s;
//   - bob fails four times and succeeds (not enough failures), then fails six times a minute apart
//     and succeeds at 6m10s: the first of those six failures is more than 5 minutes before the
//     success, so the match starts at the second;
//   - carol fails six times and never succeeds;
//   - dave's failure from the start arrives last, long behind the watermark.
func logins() []core.Record {
	s := time.Second
	m := time.Minute
	ls := []login{{"alice", 0, "failure"}}
	for i := 1; i <= 4; i++ {
		ls = append(ls, login{"bob", time.Duration(i) * s, "failure"})
	}
	ls = append(ls, login{"bob", 5 * s, "success"})
	for _, at := range []time.Duration{10 * s, 20 * s, 26 * s, 23 * s} {
		ls = append(ls, login{"alice", at, "failure"})
	}
	ls = append(ls, login{"alice", 50 * s, "success"})
	for i := 1; i <= 6; i++ {
		ls = append(ls, login{"bob", time.Duration(i) * m, "failure"}, login{"carol", time.Duration(i)*m + s, "failure"})
	}
	ls = append(ls, login{"bob", 6*m + 10*s, "success"}, login{"dave", 0, "failure"})
	return records(ls)
}

// TestDecisions: the default detector, from Go and from eddy.yaml, and cut into invocations with
// the state saved in between, decides exactly the two attacks.
func TestDecisions(t *testing.T) {
	f, err := pattern.BruteForce(defaults())
	if err != nil {
		t.Fatal(err)
	}
	lines, got, late := run(t, f, logins(), 0)
	fntest.SpecAgrees(t, lines, logins(), 4, t0)
	// The predicates read outcome, a string: captured values of non-numbers are NaN (null in JSON).
	want := []string{
		"brute-force matched alice [0s,50s] count=6 failed.count=5 failed.first.outcome=NaN failed.last.outcome=NaN success.count=1 success.outcome=NaN",
		"brute-force matched bob [2m0s,6m10s] count=6 failed.count=5 failed.first.outcome=NaN failed.last.outcome=NaN success.count=1 success.outcome=NaN",
	}
	fntest.Equal(t, "decisions", got, want)
	if late != 1 {
		t.Errorf("%d late outputs, want 1", late)
	}
}

// TestSkipAndCapture: seven failures then a success are one attack with the default skip, and
// three overlapping matches with no_skip; Capture reports the attempt numbers of the first and last
// failure and of the success.
func TestSkipAndCapture(t *testing.T) {
	var ls []login
	for i := 0; i < 7; i++ {
		ls = append(ls, login{"erin", time.Duration(i) * time.Second, "failure"})
	}
	ls = append(ls, login{"erin", 10 * time.Second, "success"})
	c := defaults()
	c.Capture = []string{"attempt"}
	f, err := pattern.BruteForce(c)
	if err != nil {
		t.Fatal(err)
	}
	_, got, _ := run(t, f, records(ls), 0)
	want := []string{"brute-force matched erin [0s,10s] count=6 failed.count=5 failed.first.attempt=1 failed.last.attempt=5 success.count=1 success.attempt=8"}
	fntest.Equal(t, "past_last_event", got, want)
	c.Skip = cpattern.NoSkip
	if f, err = pattern.BruteForce(c); err != nil {
		t.Fatal(err)
	}
	_, got, _ = run(t, f, records(ls), 0)
	want = []string{
		"brute-force matched erin [0s,10s] count=6 failed.count=5 failed.first.attempt=1 failed.last.attempt=5 success.count=1 success.attempt=8",
		"brute-force matched erin [1s,10s] count=6 failed.count=5 failed.first.attempt=2 failed.last.attempt=6 success.count=1 success.attempt=8",
		"brute-force matched erin [2s,10s] count=6 failed.count=5 failed.first.attempt=3 failed.last.attempt=7 success.count=1 success.attempt=8",
	}
	fntest.Equal(t, "no_skip", got, want)
}

// TestSuccessInBetween: with the default relaxed contiguity a success among the failures (a
// legitimate user, or a lucky guess) does not break the run: five failures and then a success
// still match.
func TestSuccessInBetween(t *testing.T) {
	f, err := pattern.BruteForce(defaults())
	if err != nil {
		t.Fatal(err)
	}
	s := time.Second
	_, got, _ := run(t, f, records([]login{
		{"ivy", 0, "failure"}, {"ivy", s, "failure"}, {"ivy", 2 * s, "success"}, {"ivy", 3 * s, "failure"},
		{"ivy", 4 * s, "failure"}, {"ivy", 5 * s, "failure"}, {"ivy", 6 * s, "success"},
	}), 0)
	want := []string{"brute-force matched ivy [0s,6s] count=6 failed.count=5 failed.first.outcome=NaN failed.last.outcome=NaN success.count=1 success.outcome=NaN"}
	fntest.Equal(t, "decisions", got, want)
}

// TestGeneralAbsence: a general three-step pattern ending in an absent step — a cart, a checkout,
// then no payment within 10 minutes — decides "absent" at the deadline for the abandoned checkout
// only.
func TestGeneralAbsence(t *testing.T) {
	f, err := pattern.New(pattern.Config{
		Name: "checkout-abandoned", Key: "user", Time: "ts", TimeFormat: "unix_ms",
		Steps: []spec.Step{
			{Name: "cart", Where: `outcome == "cart"`},
			{Name: "checkout", Where: `outcome == "checkout"`},
			{Name: "paid", Where: `outcome == "paid"`, Absent: true, Within: 10 * time.Minute},
		},
		Within:  time.Hour,
		Capture: []string{"attempt"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.Description != "cart then checkout then no paid within 10m within 1h per user" {
		t.Errorf("description %q", f.Description)
	}
	m := time.Minute
	_, got, _ := run(t, f, records([]login{
		{"fay", 0, "cart"}, {"gus", 0, "cart"},
		{"fay", 2 * m, "checkout"}, {"gus", 3 * m, "checkout"},
		{"gus", 9 * m, "paid"},
		{"hal", 20 * m, "browse"}, // moves the watermark past fay's deadline
	}), 0)
	want := []string{"checkout-abandoned absent fay [0s,2m0s] count=2 cart.count=1 cart.attempt=1 checkout.count=1 checkout.attempt=3"}
	fntest.Equal(t, "decisions", got, want)
}

func TestRejects(t *testing.T) {
	for name, c := range map[string]pattern.Config{
		"no key":     {Time: "ts", Steps: []spec.Step{{Name: "a"}}},
		"no steps":   {Key: "k", Time: "ts"},
		"bad CEL":    {Key: "k", Time: "ts", Steps: []spec.Step{{Name: "a", Where: "x >"}}},
		"bad skip":   {Key: "k", Time: "ts", Steps: []spec.Step{{Name: "a"}}, Skip: "sometimes"},
		"absent 1st": {Key: "k", Time: "ts", Steps: []spec.Step{{Name: "a", Absent: true, Within: time.Minute}, {Name: "b"}}},
	} {
		if _, err := pattern.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, c := range map[string]pattern.BruteForceConfig{
		"no key":        {Time: "ts"},
		"failures < 0":  {Key: "u", Time: "ts", Failures: -1},
		"within < 0":    {Key: "u", Time: "ts", Within: -time.Minute},
		"bad predicate": {Key: "u", Time: "ts", Failure: `outcome = "failure"`},
	} {
		if _, err := pattern.BruteForce(c); err == nil {
			t.Errorf("brute force %s: accepted", name)
		}
	}
}

// BenchmarkBruteForce measures the function on the crafted stream, decoding included: a fresh pipeline
// per iteration from one compiled function, as a runtime makes one per partition.
func BenchmarkBruteForce(b *testing.B) {
	f, err := pattern.BruteForce(defaults())
	if err != nil {
		b.Fatal(err)
	}
	fntest.Benchmark(b, f, logins(), t0)
}

func ExampleBruteForce() {
	f, err := pattern.BruteForce(pattern.BruteForceConfig{Key: "ip", Time: "ts",
		Failure: `action == "login" && !ok`, Success: `action == "login" && ok`, Failures: 10, Within: 2 * time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := f.Patterns[0]
	fmt.Println(f.Description)
	for _, s := range p.Steps {
		fmt.Printf("%s: %s (times %d)\n", s.Name, s.Where, s.Times)
	}
	// Output:
	// failed x10 then success within 2m per ip
	// failed: action == "login" && !ok (times 10)
	// success: action == "login" && ok (times 0)
}

func ExampleNew() {
	f, err := pattern.New(pattern.Config{
		Name: "price-spike-reversal", Key: "symbol", Time: "ts",
		Steps: []spec.Step{
			{Name: "up", Where: "change > 0.02", MinTimes: 3},
			{Name: "down", Where: "change < -0.02"},
		},
		Within: 10 * time.Minute, Contiguity: cpattern.Strict,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Description, "|", f.Patterns[0].Contiguity, f.Patterns[0].Skip)
	// Output: up x3+ then down within 10m per symbol | strict past_last_event
}
