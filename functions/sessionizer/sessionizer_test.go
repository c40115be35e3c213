package sessionizer_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/functions/internal/fntest"
	"github.com/eddyhq/eddy/functions/sessionizer"
)

var t0 = time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)

func defaults() sessionizer.Config {
	return sessionizer.Config{Key: "user", Time: "ts", TimeFormat: "unix_ms", Page: "page"}
}

// TestGoEqualsSpec: the Go constructor with the defaults and eddy.yaml describe the same function,
// and the file passes everything `eddy validate` checks (spec.Load validates; Compile builds).
func TestGoEqualsSpec(t *testing.T) {
	f, err := sessionizer.New(defaults())
	fntest.SameAsSpec(t, f, err)
}

type view struct {
	user string
	at   time.Duration // from t0
	page string
}

func records(vs []view) []core.Record {
	return fntest.Records(len(vs), func(i int) []byte {
		v := vs[i]
		return fmt.Appendf(nil, `{"user":%q,"ts":%d,"page":%q}`, v.user, t0.Add(v.at).UnixMilli(), v.page)
	})
}

func span(w core.Span) string { return fmt.Sprintf("[%s,%s)", w.Start.Sub(t0), w.End.Sub(t0)) }

// run runs recs through f with fntest.Run in batches of n, returning every output as a JSON line,
// the session summaries and the decisions in readable forms and the number of late outputs, and
// checks that every decision id is the deterministic one.
func run(t *testing.T, f *spec.Function, recs []core.Record, n int) (lines, sessions, decisions []string, late int) {
	t.Helper()
	lines = fntest.Run(t, f, recs, n, t0, func(o core.Output) {
		switch o := o.(type) {
		case *core.Late:
			late++
		case *core.WindowResult:
			sessions = append(sessions, fmt.Sprintf("%s %s %s", o.Key, span(core.Span{Start: o.Start, End: o.End}), fntest.Values(o.Values)))
		case *core.Decision:
			if want := core.DecisionID(f.Name, o.Rule, o.Key, o.Window, string(o.State), 0); o.ID != want {
				t.Errorf("decision %s: id %s, want %s", o.Rule, o.ID, want)
			}
			decisions = append(decisions, fmt.Sprintf("%s %s %s %s %s", o.Rule, o.State, o.Key, span(o.Window), fntest.Values(o.Values)))
		}
	})
	return lines, sessions, decisions, late
}

// clicks is two users' page views in arrival order:
//   - ana makes ten views of seven pages over 24 minutes, the one at 15m04s arriving before the
//     one at 15m; much later a short visit of three views on two pages; then a view from her first
//     session arrives more than an hour late.
//   - ben views a page at 10m and one at 40m05s — more than a gap apart — but a view at 39m58s
//     arrives 7 s out of order and bridges them into one session of 30m05s.
func clicks() []core.Record {
	m := time.Minute
	pages := []string{"home", "search", "item-1", "item-2", "cart", "checkout", "home", "search", "item-1"}
	var vs []view
	for i, p := range pages {
		vs = append(vs, view{"ana", time.Duration(i) * 3 * m, p})
	}
	// The view at 15m arrives after the one at 15m04s.
	vs = append(vs[:5], view{"ana", 15*m + 4*time.Second, "faq"}, vs[5], vs[6], vs[7], vs[8])
	vs = append(vs,
		view{"ben", 10 * m, "home"},
		view{"ben", 40*m + 5*time.Second, "item-9"},
		view{"ben", 39*m + 58*time.Second, "search"},
		view{"ana", 90 * m, "home"},
		view{"ana", 91 * m, "home"},
		view{"ana", 92 * m, "item-3"},
		view{"ana", 5 * m, "late"},
	)
	return records(vs)
}

// TestDecisions: on the default function, from Go and from eddy.yaml, the sessions and decisions
// are exactly these.
func TestDecisions(t *testing.T) {
	f, err := sessionizer.New(defaults())
	if err != nil {
		t.Fatal(err)
	}
	lines, sessions, got, late := run(t, f, clicks(), 0)
	fntest.SpecAgrees(t, lines, clicks(), 3, t0)
	wantSessions := []string{
		// 10 views from 0 to 24m of 7 pages (home, search, item-1, item-2, cart, faq, checkout); it
		// ends a gap after 24m.
		"ana [0s,54m0s) events=10 pages=7",
		// 10m to 40m05s, bridged by the out-of-order view.
		"ben [10m0s,1h10m5s) events=3 pages=3",
		"ana [1h30m0s,2h2m0s) events=3 pages=2",
	}
	fntest.Equal(t, "sessions", sessions, wantSessions)
	want := []string{
		"long-session firing ana [0s,54m0s) events=10 pages=7",
		"engaged-session firing ana [0s,54m0s) events=10 pages=7",
		"long-session firing ben [10m0s,1h10m5s) events=3 pages=3",
		// ana's second session (2 minutes, 2 pages) is neither long nor engaged: each session is
		// judged on its own, so it gets no decision (no "resolved" of the first one's).
	}
	fntest.Equal(t, "decisions", got, want)
	if late != 1 {
		t.Errorf("%d late outputs, want 1", late)
	}
}

// TestMaxDuration: views every 10 minutes for two hours are one session by the gap, but a
// one-hour cap splits them; without Page there is no pages value and no engaged rule.
func TestMaxDuration(t *testing.T) {
	c := defaults()
	c.Page, c.MaxDuration, c.LongAfter = "", time.Hour, 45*time.Minute
	f, err := sessionizer.New(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rules) != 1 || len(f.Aggregates) != 1 {
		t.Fatalf("without Page: rules %+v, aggregates %+v", f.Rules, f.Aggregates)
	}
	var vs []view
	for m := 0; m <= 120; m += 10 {
		vs = append(vs, view{"cy", time.Duration(m) * time.Minute, "p"})
	}
	_, sessions, got, _ := run(t, f, records(vs), 0)
	wantSessions := []string{
		"cy [0s,1h20m0s) events=6",
		"cy [1h0m0s,2h20m0s) events=6",
		"cy [2h0m0s,2h30m0s) events=1",
	}
	fntest.Equal(t, "sessions", sessions, wantSessions)
	// 50 minutes of activity is long: both capped sessions fire, each its own decision; the
	// single view gets none.
	want := []string{
		"long-session firing cy [0s,1h20m0s) events=6",
		"long-session firing cy [1h0m0s,2h20m0s) events=6",
	}
	fntest.Equal(t, "decisions", got, want)
}

// TestEverySession: sessions are separate visits, so every qualifying one gets its own decision,
// with its own id — two long sessions in a row give two, a short one between long ones gives none
// and does not stop the next from firing — whether the sessions arrive in one batch or one
// invocation each.
func TestEverySession(t *testing.T) {
	m := time.Minute
	var vs []view
	visit := func(user string, from time.Duration, views int, pages ...string) {
		for i := range views {
			vs = append(vs, view{user, from + time.Duration(i)*5*m, pages[i%len(pages)]})
		}
	}
	visit("dee", 0, 6, "home", "a", "b", "c", "d", "e")   // 25m, 6 pages: long and engaged
	visit("dee", 2*time.Hour, 5, "home", "a")             // 20m, 2 pages: long
	visit("dee", 4*time.Hour, 2, "home")                  // 5m: neither
	visit("dee", 6*time.Hour, 7, "a", "b", "c", "d", "e") // 30m, 5 pages: long and engaged
	f := fntest.Load(t)
	lines, sessions, got, late := run(t, f, records(vs), 0)
	fntest.Splits(t, f, lines, records(vs), 5, t0)
	if len(sessions) != 4 || late != 0 {
		t.Fatalf("%d late; sessions:\n%s", late, strings.Join(sessions, "\n"))
	}
	want := []string{
		"long-session firing dee [0s,55m0s) events=6 pages=6",
		"engaged-session firing dee [0s,55m0s) events=6 pages=6",
		"long-session firing dee [2h0m0s,2h50m0s) events=5 pages=2",
		"long-session firing dee [6h0m0s,7h0m0s) events=7 pages=5",
		"engaged-session firing dee [6h0m0s,7h0m0s) events=7 pages=5",
	}
	fntest.Equal(t, "decisions", got, want)
	ids := map[string]bool{}
	for _, l := range lines {
		var d struct{ Type, ID string }
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		if d.Type == "decision" {
			if ids[d.ID] {
				t.Errorf("decision id %s repeated", d.ID)
			}
			ids[d.ID] = true
		}
	}
	if len(ids) != len(want) {
		t.Errorf("%d distinct decision ids, want %d", len(ids), len(want))
	}
}

func TestRejects(t *testing.T) {
	for name, c := range map[string]sessionizer.Config{
		"no key":            {Time: "ts"},
		"max below gap":     {Key: "u", Time: "ts", Gap: time.Hour, MaxDuration: 30 * time.Minute},
		"long beyond max":   {Key: "u", Time: "ts", MaxDuration: time.Hour, LongAfter: 2 * time.Hour},
		"negative gap":      {Key: "u", Time: "ts", Gap: -time.Minute},
		"negative pages":    {Key: "u", Time: "ts", Page: "p", EngagedPages: -1},
		"bad time format":   {Key: "u", Time: "ts", TimeFormat: "julian"},
		"negative lateness": {Key: "u", Time: "ts", OutOfOrder: -time.Second},
	} {
		if _, err := sessionizer.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkSessionizer measures the function on the crafted stream, decoding included: a fresh pipeline
// per iteration from one compiled function, as a runtime makes one per partition.
func BenchmarkSessionizer(b *testing.B) {
	f, err := sessionizer.New(defaults())
	if err != nil {
		b.Fatal(err)
	}
	fntest.Benchmark(b, f, clicks(), t0)
}

func ExampleNew() {
	f, err := sessionizer.New(sessionizer.Config{Key: "visitor", Time: "ts", Page: "url",
		Gap: 15 * time.Minute, LongAfter: 10 * time.Minute, EngagedPages: 8})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Window.Session.Gap, f.Window.Session.MaxDuration)
	for _, r := range f.Rules {
		fmt.Println(r.Name, "|", r.When, "| each window:", r.EachWindow)
	}
	// Output:
	// 15m0s 12h0m0s
	// long-session | window.end - window.start - duration("15m") >= duration("10m") | each window: true
	// engaged-session | pages >= 8 | each window: true
}
