package exampletest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/examples/internal/exampletest"
)

// recorder is a testing.TB that keeps the failures of the helper under test instead of failing
// the test; Fatal ends the helper's goroutine as testing.T's does.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Failed() bool { return len(r.failures) > 0 }

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.failures = append(r.failures, fmt.Sprint(args...))
	runtime.Goexit()
}

// failures runs f with a recorder and returns what it reported.
func failures(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.failures
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDataset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.ndjson")
	write(t, path, "x\n")
	var got []byte
	if f := failures(t, func(tb testing.TB) { got = exampletest.Dataset(tb, path, []byte("x\n")) }); len(f) != 0 || string(got) != "x\n" {
		t.Errorf("matching dataset: %q, failures %q", got, f)
	}
	if f := failures(t, func(tb testing.TB) { exampletest.Dataset(tb, path, []byte("x\n")[:1]) }); len(f) != 1 || !strings.Contains(f[0], "not newline-terminated") {
		t.Errorf("a generator of a partial line: %q", f)
	}
	if f := failures(t, func(tb testing.TB) { exampletest.Dataset(tb, path, []byte("y\n")) }); len(f) != 2 || !strings.Contains(f[0], "outputs differ from "+path) || !strings.Contains(f[1], "cmd/gen") {
		t.Errorf("stale dataset: %q", f)
	}
}

// hotSpec is a small function: one-minute average temperature per device, an alarm over 80 that
// clears under 70.
const hotSpec = `name: hot
input: {format: json, key: device, time: ts, time_format: rfc3339}
window: {tumbling: 1m}
aggregates:
  - {name: readings, count: true}
  - {name: avg, avg: temp}
rules:
  - name: hot
    when: avg > 80.0
    clear: avg < 70.0
    severity: warning
outputs:
  include: [decision, late]
`

var start = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// events gives devices d-0..d-3 a reading every 10 s for six minutes: d-1 runs hot in minute 1,
// d-2 in minutes 3 and 4. A reading of d-3 from minute 0 comes after everything else (late), and
// two lines are garbled.
func events() []byte {
	var b strings.Builder
	for s := 0; s < 360; s += 10 {
		ts := start.Add(time.Duration(s) * time.Second)
		for d := range 4 {
			temp := 60
			if d == 1 && s/60 == 1 || d == 2 && (s/60 == 3 || s/60 == 4) {
				temp = 90
			}
			fmt.Fprintf(&b, `{"device":"d-%d","ts":%q,"temp":%d}`+"\n", d, ts.Format(time.RFC3339), temp)
		}
		switch s {
		case 100:
			b.WriteString(`{"device":"d-0","ts":` + "\n") // line 45
		case 250:
			b.WriteString(`{"device":"d-0","temp":61}` + "\n") // line 106
		}
	}
	fmt.Fprintf(&b, `{"device":"d-3","ts":%q,"temp":60}`+"\n", start.Add(5*time.Second).Format(time.RFC3339))
	return []byte(b.String())
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "eddy.yaml")
	write(t, specPath, hotSpec)
	out := exampletest.Run(t, exampletest.Options{Spec: specPath, Name: "in.ndjson", Events: events(), Partitions: 3, BatchSize: 5})

	// Decisions by time, then key: the windows' ends, not the order the partitions emitted them.
	want := strings.Join([]string{
		"hot d-1 firing 08:02:00", "hot d-1 resolved 08:03:00",
		"hot d-2 firing 08:04:00", "hot d-2 resolved 08:06:00",
	}, "\n")
	if got := exampletest.Briefs(out.Decisions); got != want {
		t.Errorf("decisions:\n%s\nwant:\n%s", got, want)
	}
	if got := exampletest.Transitions(out.Decisions[:1]); !slices.Equal(got, []string{"hot d-1 firing"}) {
		t.Errorf("Transitions = %q", got)
	}
	if got := exampletest.FailureLines(out.Failures); !slices.Equal(got, []string{`{"device":"d-0","ts":`, `{"device":"d-0","temp":61}`}) {
		t.Errorf("dead-lettered %q, want the two garbled lines in file order", got)
	}
	// Sorted as strings, line 106 comes before line 45.
	if dl := out.DeadLetters(); len(dl) != 2 || !strings.Contains(dl[0], `"in.ndjson:106" field "ts"`) || !strings.Contains(dl[1], `"in.ndjson:45": payload: invalid JSON`) {
		t.Errorf("DeadLetters = %q", dl)
	}
	if len(out.Late) != 1 || out.Late[0].Key != "d-3" || out.Late[0].ID != "in.ndjson:147" {
		t.Errorf("late %+v, want d-3's reading on line 147", out.Late)
	}
	// 4 devices × 6 minutes, in order of the windows' ends.
	if len(out.Windows) != 24 || !out.Windows[0].End.Equal(start.Add(time.Minute)) || out.Windows[0].Key != "d-0" {
		t.Fatalf("%d windows, the first %s to %s", len(out.Windows), out.Windows[0].Key, out.Windows[0].End)
	}
	if n := exampletest.Value(t, out.Windows[0], "readings"); n != 6 {
		t.Errorf("d-0's first minute has %v readings, want 6", n)
	}
	if f := failures(t, func(tb testing.TB) { exampletest.Value(tb, out.Windows[0], "nope") }); len(f) != 1 {
		t.Errorf("Value of a missing aggregate: %q", f)
	}

	v := out.View(t)
	if len(v.Decisions) != 4 || v.Decisions[0].Values["avg"] != 90.0 || v.Decisions[0].Severity != "warning" ||
		!v.Decisions[0].Window.End.Equal(start.Add(2*time.Minute)) || v.Decisions[0].Line != out.DecisionLines()[0] {
		t.Errorf("view of the first decision: %+v", v.Decisions[0])
	}
	if len(v.Windows) != 24 || len(v.Late) != 1 || v.Late[0].Key != "d-3" || !slices.Equal(v.Dead, out.DeadLetters()) {
		t.Errorf("view: %d windows, late %v, dead %q", len(v.Windows), v.Late, v.Dead)
	}

}

// TestRunEdit runs a variant of the spec: Edit changes it before it is compiled.
func TestRunEdit(t *testing.T) {
	specPath := filepath.Join(t.TempDir(), "eddy.yaml")
	write(t, specPath, hotSpec)
	out := exampletest.Run(t, exampletest.Options{Spec: specPath, Name: "in.ndjson", Events: events(), Partitions: 2, BatchSize: 7,
		Edit: func(f *spec.Function) { f.Rules[0].When = "avg > 95.0" }})
	if len(out.Decisions) != 0 {
		t.Errorf("decisions %s, want none over 95", exampletest.Briefs(out.Decisions))
	}
}

// TestExample: Check compares every delivery with expected.ndjson and hands the local broker's runs
// to the scenario checks.
func TestExample(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "eddy.yaml"), hotSpec)
	write(t, filepath.Join(dir, "events.ndjson"), string(events()))
	e := exampletest.Example{Dir: dir, Name: "in.ndjson", Generate: events}
	if f := failures(t, func(tb testing.TB) { e.Dataset(tb) }); len(f) != 0 {
		t.Fatalf("Dataset: %q", f)
	}
	out := exampletest.Run(t, e.Options(events(), 2, 10))
	write(t, filepath.Join(dir, "expected.ndjson"), strings.Join(out.DecisionLines(), "\n")+"\n")
	var seen []int
	e.Check(t, func(t *testing.T, out *exampletest.Outputs) {
		seen = append(seen, len(out.Decisions))
	})
	if !slices.Equal(seen, []int{4, 4, 4, 4}) {
		t.Errorf("the scenario checks saw %v decisions, want 4 in each of the 4 deliveries", seen)
	}
}
