package eddytest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/eddytest"
	"github.com/eddyhq/eddy/core/spec"
)

func TestPress(t *testing.T) {
	fn, err := spec.Load("testdata/eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := eddytest.Run(t, fn, "testdata/events.ndjson", eddytest.Partitions(3), eddytest.Batch(7))
	kinds := map[string]int{}
	for _, l := range got {
		var o struct{ Type string }
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("output %s: %v", l, err)
		}
		kinds[o.Type]++
	}
	// The events were made to give each kind of output: windows, the alarm and the pattern, a late
	// event and a dead letter.
	for _, k := range []string{"window", "decision", "late", "deadletter"} {
		if kinds[k] == 0 {
			t.Errorf("no %s output: %v", k, kinds)
		}
	}
}

// recorder is a testing.TB that keeps what the kit reports instead of failing.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Name() string                   { return "TestPress" }
func (r *recorder) Errorf(format string, a ...any) { r.msgs = append(r.msgs, format) }
func (r *recorder) Fatalf(format string, a ...any) { r.msgs = append(r.msgs, format) }
func (r *recorder) Fatal(a ...any)                 { r.msgs = append(r.msgs, "fatal") }

// A golden file that does not match is reported, with the way to rewrite it.
func TestGoldenMismatch(t *testing.T) {
	r := &recorder{TB: t}
	eddytest.CompareGolden(r, "testdata/TestPress.golden", []string{`{"type":"window"}`})
	if len(r.msgs) != 1 || !strings.Contains(r.msgs[0], "-update") {
		t.Errorf("reports: %q", r.msgs)
	}
	r.msgs = nil
	eddytest.CompareGolden(r, "testdata/none.golden", nil)
	if len(r.msgs) != 1 || !strings.Contains(r.msgs[0], "no golden file") {
		t.Errorf("missing golden: %q", r.msgs)
	}
}

func TestSuite(t *testing.T) {
	outs, err := eddytest.RunSuite("testdata/eddy_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 3 {
		t.Fatalf("%d outcomes", len(outs))
	}
	for _, o := range outs {
		if len(o.Problems) > 0 {
			t.Errorf("%s: %s\noutputs:\n%s", o.Name, strings.Join(o.Problems, "\n"), strings.Join(o.Outputs, "\n"))
		}
	}
}

// A case that does not hold says which expectation failed and what came out instead.
func TestCaseFailureSaysWhy(t *testing.T) {
	fn, err := spec.Load("testdata/eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := eddytest.Case{Name: "wrong", Events: []any{map[string]any{"machine": "m", "ts": 1767225600000, "temp": 97}},
		Expect:     []map[string]any{{"type": "window", "key": "m", "values": map[string]any{"n": 2}}},
		ExpectNone: []map[string]any{{"type": "window", "key": "m"}}}
	o := eddytest.RunCase(fn, "testdata", c)
	if len(o.Problems) != 2 || !strings.Contains(o.Problems[0], `values is {"avg_temp":97,"n":1}`) ||
		!strings.Contains(o.Problems[1], "expect_none[0]") {
		t.Errorf("problems: %q", o.Problems)
	}
}

// A function with early firings passes the kit's checks: by count they are a pure function of the
// events, and by time the invocations all carry one time, which starts the clock and fires nothing,
// so batches and restores change no output.
func TestEarlyFirings(t *testing.T) {
	fn, err := spec.Load("testdata/eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fn.Window.Early = &spec.Early{Every: 10 * time.Second, Count: 3}
	fn.Rules[0].Early = true
	f, err := os.Open("testdata/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := eddytest.ReadRecords(f, "events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	got, err := eddytest.Outputs(fn, recs, 3, 7, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	early := 0
	for _, l := range got {
		if strings.Contains(l, `"final":false`) {
			early++
		}
	}
	if early < 10 {
		t.Errorf("%d early results of %d outputs", early, len(got))
	}
}

// Cases runs a suite's cases as subtests; they pass on the package's suite.
func TestCases(t *testing.T) {
	eddytest.Cases(t, "testdata/eddy_test.yaml")
}

// Events of any year run as they are by default: the default processing time lies after them, so
// input.max_future dead-letters none (a fixed time near today's turned next year's fixtures into
// dead letters); Now still sets the clock for tests of max_future itself.
func TestDefaultNowAfterEvents(t *testing.T) {
	fn, err := spec.Load("testdata/eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(t.TempDir(), "events.ndjson")
	// Two readings of one machine in 2031, far past any "today" of these tests.
	ts := time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	body := fmt.Sprintf(`{"machine":"press-9","ts":%d,"temp":70,"status":"running"}`+"\n"+
		`{"machine":"press-9","ts":%d,"temp":71,"status":"running"}`+"\n", ts, ts+60_000)
	if err := os.WriteFile(events, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	count := func(lines []string) (dead, windows int) {
		for _, l := range lines {
			var o struct{ Type string }
			if err := json.Unmarshal([]byte(l), &o); err != nil {
				t.Fatalf("output %s: %v", l, err)
			}
			switch o.Type {
			case "deadletter":
				dead++
			case "window":
				windows++
			}
		}
		return dead, windows
	}
	// A recorder takes the golden-file report (these runs have no golden file); the counts are the test.
	r := &recorder{TB: t}
	if dead, windows := count(eddytest.Run(r, fn, events)); dead != 0 || windows == 0 {
		t.Errorf("default clock: %d dead letters, %d windows; want none dead and the windows", dead, windows)
	}
	if dead, _ := count(eddytest.Run(r, fn, events, eddytest.Now(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)))); dead != 2 {
		t.Errorf("clock in 2030: %d dead letters, want both events (more than max_future ahead)", dead)
	}
}
