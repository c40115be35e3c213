package spec

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// TestEarlyErrors: the early triggers' load-time errors name the field and say what to do.
func TestEarlyErrors(t *testing.T) {
	for _, c := range []struct {
		name, src, want string
	}{
		{"no trigger", strings.Replace(base, "  tumbling: 1m", "  tumbling: 1m\n  early: {}", 1),
			"window.early: no trigger"},
		{"global every without ticks", strings.Replace(base, "  tumbling: 1m", "  global: {}\n  early: {every: 10s}", 1),
			"window.early.every: a global window's early firings by processing time need ticks, and window.idle_timeout is not set"},
		{"negative count", strings.Replace(base, "  tumbling: 1m", "  tumbling: 1m\n  early: {count: -5}", 1),
			"window.early.count: -5 is negative"},
		{"negative every", strings.Replace(base, "  tumbling: 1m", "  tumbling: 1m\n  early: {every: -5s}", 1),
			`window.early.every: "-5s" is negative`},
		{"rule early without early firings", base + "rules:\n  - {name: hot, when: avg_temp > 80.0, early: true}\n",
			"rules[0].early: the window has no early firings, so there are no early results to see"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("eddy.yaml", []byte(c.src))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
	// What is fine: a global window firing by count needs no ticks; with idle_timeout, by time too.
	for _, ok := range []string{
		strings.Replace(base, "  tumbling: 1m", "  global: {}\n  early: {count: 100}", 1),
		strings.Replace(base, "  tumbling: 1m", "  global: {}\n  idle_timeout: 1m\n  early: {every: 10s, count: 100}", 1),
	} {
		if _, err := Parse("eddy.yaml", []byte(ok)); err != nil {
			t.Errorf("rejected: %v\n%s", err, ok)
		}
	}
}

const earlySpec = `name: early
input:
  key: key
  time: ts
  time_format: unix_ms
window:
  tumbling: 1h
  early: {count: 2, every: 10s}
aggregates:
  - {name: n, count: true}
rules:
  - {name: busy, when: n >= 3.0}
  - {name: busy_early, when: n >= 3.0, early: true}
`

// TestEarlyEndToEnd runs a spec with early firings through the pipeline: early results carry
// "final":false and revisions before the on-time one; the default rule decides on the final result
// only, the early: true rule on the first early result that satisfies it; a tick fires the keys
// that received events since the last firing by time; and a restore between batches changes
// nothing.
func TestEarlyEndToEnd(t *testing.T) {
	f, err := Parse("early.yaml", []byte(earlySpec))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0)
	rec := func(i int, sec float64) core.Record {
		return core.Record{ID: fmt.Sprint("r", i), Offset: fmt.Sprint(i),
			Data: fmt.Appendf(nil, `{"key":"a","ts":%d,"value":1}`, int64(sec*1000))}
	}
	type step struct {
		recs []core.Record // nil: a tick
		now  time.Time
	}
	steps := []step{
		{[]core.Record{rec(0, 1)}, t0},                                        // the first batch starts the clock
		{[]core.Record{rec(1, 2)}, t0.Add(time.Second)},                       // the key's 2nd event fires by count
		{[]core.Record{rec(2, 3), rec(3, 4)}, t0.Add(2 * time.Second)},        // and its 4th
		{nil, t0.Add(10 * time.Second)},                                       // the tick fires by time
		{nil, t0.Add(20 * time.Second)},                                       // nothing new: nothing fires
		{[]core.Record{rec(4, 3601), rec(5, 3602)}, t0.Add(21 * time.Second)}, // the hour closes; the next one's count fires
	}
	var outs [2][]string
	for pass, restore := range []bool{false, true} {
		c, err := f.Compile(Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.NewPipeline()
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, s := range steps {
			var res core.Result
			if s.recs == nil {
				res, err = p.Tick(ctx, s.now)
			} else {
				res, err = p.Process(ctx, core.Batch{Partition: "0", Records: s.recs, Now: s.now})
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Outputs {
				outs[pass] = append(outs[pass], string(o.AppendJSON(nil)))
			}
			if restore {
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
		}
	}
	got := strings.Join(outs[0], "\n")
	if got != strings.Join(outs[1], "\n") {
		t.Fatalf("a restore between batches changed the outputs:\n%s\n---\n%s", got, strings.Join(outs[1], "\n"))
	}
	var windows, busy, busyEarly []string
	for _, o := range outs[0] {
		switch {
		case strings.HasPrefix(o, `{"type":"window"`):
			windows = append(windows, o)
		case strings.Contains(o, `"rule":"busy_early"`):
			busyEarly = append(busyEarly, o)
		case strings.Contains(o, `"rule":"busy"`):
			busy = append(busy, o)
		}
	}
	wantWindows := []string{
		`"revision":0,"final":false,"values":{"n":2}`,
		`"revision":1,"final":false,"values":{"n":4}`,
		`"revision":2,"final":false,"values":{"n":4}`,
		`"revision":3,"values":{"n":4}`,
		`"revision":0,"final":false,"values":{"n":2}`,
	}
	if len(windows) != len(wantWindows) {
		t.Fatalf("%d window results, want %d:\n%s", len(windows), len(wantWindows), got)
	}
	for i, w := range wantWindows {
		if !strings.HasSuffix(windows[i], w+"}") {
			t.Errorf("window result %d: %s, want it to end %s", i, windows[i], w)
		}
	}
	// busy_early fires on the first early result with n >= 3 and resolves on the next hour's early
	// result; busy fires on the final result only and has not seen the next hour.
	if len(busyEarly) != 2 || !strings.Contains(busyEarly[0], `"state":"firing"`) || !strings.Contains(busyEarly[0], `"n":4`) ||
		!strings.Contains(busyEarly[1], `"state":"resolved"`) {
		t.Errorf("busy_early decisions:\n%s", strings.Join(busyEarly, "\n"))
	}
	if len(busy) != 1 || !strings.Contains(busy[0], `"state":"firing"`) || !strings.Contains(busy[0], `"n":4`) {
		t.Errorf("busy decisions:\n%s", strings.Join(busy, "\n"))
	}
}

// Early firings by processing time speak on ticks, so such a pipeline is not TickFree: the runner
// keeps their outputs in its outbox and emits only the winning commit's.
func TestEarlyEveryIsNotTickFree(t *testing.T) {
	for _, c := range []struct {
		early string
		free  bool
	}{{"", true}, {"\n  early: {count: 3}", true}, {"\n  early: {every: 10s}", false}} {
		src := "name: e\ninput: {key: k, time: ts, time_format: unix_ms}\nwindow:\n  tumbling: 1m" + c.early +
			"\naggregates: [{name: n, count: true}]\n"
		f, err := Parse("eddy.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.Build()
		if err != nil {
			t.Fatal(err)
		}
		if got := p.TickFree(); got != c.free {
			t.Errorf("early %q: TickFree %v, want %v", c.early, got, c.free)
		}
	}
}
