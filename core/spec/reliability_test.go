package spec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// TestRuleErrorIsPerWindow: a rule that divides by zero on one window fails that window's
// evaluation only: counted, dead-lettered with the rule, key and window, and every other window
// and decision still comes out.
func TestRuleErrorIsPerWindow(t *testing.T) {
	src := `name: div
input: {key: key, time: ts, time_format: unix_ms}
window: {tumbling: 10s}
aggregates:
  - {name: n, count: true}
rules:
  - {name: ratio, when: "100 / (int(n) - 2) > 10", each_window: true}
`
	f, err := Parse("div.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.NewPipeline()
	if err != nil {
		t.Fatal(err)
	}
	// Window 0 holds 2 events (division by zero), window 1 holds 3, window 2 holds 1.
	var recs []core.Record
	for i, ts := range []int64{1000, 2000, 11000, 12000, 13000, 21000, 45000} {
		recs = append(recs, core.Record{ID: fmt.Sprint(i), Offset: fmt.Sprint(i + 1), Data: fmt.Appendf(nil, `{"key":"k1","ts":%d}`, ts)})
	}
	res, err := p.Process(context.Background(), core.Batch{Partition: "p", Records: recs, Now: time.Unix(0, 0)})
	if err != nil {
		t.Fatalf("a rule error failed the batch: %v", err)
	}
	if res.Stats.RuleErrors != 1 || len(res.Failures) != 1 {
		t.Fatalf("stats %+v failures %v, want one rule error", res.Stats, res.Failures)
	}
	fl := res.Failures[0]
	for _, want := range []string{`rule "ratio"`, `key "k1"`, "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:10.000Z", "division by zero"} {
		if !strings.Contains(fl.Reason, want) {
			t.Errorf("failure reason %q lacks %s", fl.Reason, want)
		}
	}
	if fl.Field != "rules.ratio" || fl.Record.Key != "k1" {
		t.Errorf("failure field %q key %q", fl.Field, fl.Record.Key)
	}
	windows, decisions := 0, 0
	for _, o := range res.Outputs {
		switch o.(type) {
		case *core.WindowResult:
			windows++
		case *core.Decision:
			decisions++
		}
	}
	// Windows 0, 1, 2 closed (the 45 s event's watermark passed them); window 1 (n=3: 100/1)
	// and window 2 (n=1: 100/-1 is not > 10) evaluate.
	if windows != 3 || decisions != 1 {
		t.Fatalf("%d windows and %d decisions, want 3 and 1 (the stream goes on past the error)", windows, decisions)
	}
}

// TestValidateRejectsUnboundedCost: a rule whose worst-case CEL cost exceeds the limit is rejected
// at load, naming the rule and the estimate.
func TestValidateRejectsUnboundedCost(t *testing.T) {
	const head = `name: cost
input: {key: key, time: ts}
window: {tumbling: 1m}
aggregates:
  - {name: top, topk: item, k: %d}
rules:
  - {name: nested, when: "top.all(a, top.all(b, top.all(c, a.count > b.count || c.count > 0)))"}
`
	f, err := Parse("cost.yaml", fmt.Appendf(nil, head, 5))
	if err != nil {
		t.Fatalf("k=5 (cost within the limit): %v", err)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("k=5 (cost within the limit): %v", err)
	}
	_, err = Parse("cost.yaml", fmt.Appendf(nil, head, 1000))
	if err == nil {
		t.Fatalf("k=1000: error %v, want the worst-case cost rejected", err)
	}
	for _, want := range []string{"rules[0].when", "worst-case CEL cost", "exceeds the limit of 1000000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestMaxFuture: an event dated 2100 among events of today is dead-lettered with the reason (by
// default, input.max_future 1h), instead of moving the watermark so that every later event is late.
func TestMaxFuture(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		failed      int
	}{{"default", "", 1}, {"explicit", ", max_future: 30m", 1}, {"large", ", max_future: 36500d", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			src := "name: fut\ninput: {key: key, time: ts, time_format: unix_ms" + tc.extra + "}\nwindow: {tumbling: 10s}\naggregates: [{name: n, count: true}]\n"
			f, err := Parse("fut.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			c, err := f.Compile(Options{})
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.NewPipeline()
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
			ms := now.UnixMilli()
			var recs []core.Record
			for i, ts := range []int64{ms - 5000, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), ms - 4000, ms - 3000, ms + 20*60*1000} {
				recs = append(recs, core.Record{ID: fmt.Sprint("r", i), Offset: fmt.Sprint(i + 1), Data: fmt.Appendf(nil, `{"key":"k","ts":%d}`, ts)})
			}
			res, err := p.Process(context.Background(), core.Batch{Partition: "p", Records: recs, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failures) != tc.failed || res.Stats.Failed != tc.failed {
				t.Fatalf("failures %v, want %d", res.Failures, tc.failed)
			}
			if tc.failed == 0 {
				if res.Stats.Late != 3 {
					t.Fatalf("%d late with no bound, want 3 (the 2100 event moved the watermark)", res.Stats.Late)
				}
				return
			}
			f0 := res.Failures[0]
			if f0.Record.ID != "r1" || f0.Field != "time" || !strings.Contains(f0.Reason, "2100-01-01T00:00:00.000Z") || !strings.Contains(f0.Reason, "max_future") {
				t.Fatalf("failure %v, want record r1's time named with max_future", f0)
			}
			if res.Stats.Late != 0 || res.Stats.Events != 4 {
				t.Fatalf("stats %+v: want the other 4 events on time", res.Stats)
			}
		})
	}
}

// TestValidateRejectsTooManySlices: a sliding window of 100 years with a 1 ms slide is refused at
// load, naming the window, the count and a slide that would do.
func TestValidateRejectsTooManySlices(t *testing.T) {
	const spec = "name: s\ninput: {key: key, time: ts}\nwindow: {sliding: {size: %s, slide: %s}}\naggregates: [{name: n, count: true}]\n"
	_, err := Parse("s.yaml", fmt.Appendf(nil, spec, "36500d", "1ms"))
	if err == nil {
		t.Fatal("a 100-year window sliding every 1ms was accepted")
	}
	for _, want := range []string{"window.sliding", "3153600000000 slices of 1ms per key", "more than the 100000 allowed", "a slide of 1d or more"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	for _, ok := range [][2]string{{"5m", "1s"}, {"1d", "1s"}, {"36500d", "1d"}} {
		if _, err := Parse("s.yaml", fmt.Appendf(nil, spec, ok[0], ok[1])); err != nil {
			t.Errorf("%s sliding every %s: %v", ok[0], ok[1], err)
		}
	}
}

// TestBudgetErrorNamesKeyAndWindow: with a real pipeline, a state budget error names the key that
// grew and the windows it keeps (the pipeline implements runner.Heavier).
func TestBudgetErrorNamesKeyAndWindow(t *testing.T) {
	f, err := Parse("b.yaml", []byte("name: b\ninput: {key: key, time: ts, time_format: unix_ms}\nwindow: {sliding: {size: 1h, slide: 1s}}\naggregates: [{name: n, count: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{Function: "b", Store: memstate.New(&state.Options{Budget: 1024}), FailOnBudget: true,
		New: func(string) (runner.Processor, error) { return c.NewPipeline() }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var recs []core.Record
	for i := range 400 {
		key := "small"
		if i%4 != 0 {
			key = "grows"
		}
		recs = append(recs, core.Record{ID: fmt.Sprint(i), Offset: fmt.Sprint(i + 1), Data: fmt.Appendf(nil, `{"key":%q,"ts":%d}`, key, now.UnixMilli()+int64(i)*1000)})
	}
	_, err = r.Run(context.Background(), core.Batch{Partition: "p", Records: recs, Now: now})
	var be *runner.BudgetError
	if !errors.As(err, &be) || be.Key != "grows" || !strings.Contains(be.Window, "slices [2026-12-07T12:00:01.000Z") {
		t.Fatalf("error %v, want a budget error naming key grows and its slices", err)
	}
}

// TestMaxKeys: at limits.max_keys, the events of new keys are dead-lettered with the reason while
// the keys held go on; once their windows close, room comes back. StateSize reports the bytes.
func TestMaxKeys(t *testing.T) {
	f, err := Parse("k.yaml", []byte("name: k\ninput: {key: key, time: ts, time_format: unix_ms}\nwindow: {tumbling: 10s}\naggregates: [{name: n, count: true}]\nlimits: {max_keys: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.NewPipeline()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ms := now.UnixMilli() - 60_000
	var recs []core.Record
	for i, ev := range []struct {
		key string
		ts  int64
	}{{"a", 1000}, {"b", 2000}, {"c", 3000}, {"a", 4000}, {"d", 15000}, {"c", 16000}, {"e", 17000}} {
		recs = append(recs, core.Record{ID: fmt.Sprint("r", i), Offset: fmt.Sprint(i + 1), Data: fmt.Appendf(nil, `{"key":%q,"ts":%d}`, ev.key, ms+ev.ts)})
	}
	res, err := p.Process(context.Background(), core.Batch{Partition: "p", Records: recs, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	// c (3 s) finds a and b held; at 15 s the first window closed, so d and c get room, e not.
	var failed []string
	for _, f := range res.Failures {
		failed = append(failed, f.Record.ID)
		if f.Field != "key" || !strings.Contains(f.Reason, "limits.max_keys") {
			t.Errorf("failure %v", f)
		}
	}
	if fmt.Sprint(failed) != "[r2 r6]" || res.Stats.Events != 5 {
		t.Fatalf("dead-lettered %v, %d events; want [r2 r6] and 5", failed, res.Stats.Events)
	}
	keys, bytes, maxKey := p.StateSize()
	if keys != 2 || bytes <= 0 || maxKey <= 0 || maxKey > bytes {
		t.Fatalf("StateSize = %d keys, %d bytes, %d max per key", keys, bytes, maxKey)
	}
}

// TestTickFree: only pipelines whose ticks can change nothing skip the runner's outbox.
func TestTickFree(t *testing.T) {
	const head = "name: t\ninput: {key: key, time: ts}\n"
	for src, want := range map[string]bool{
		head + "window: {tumbling: 1m}\naggregates: [{name: n, count: true}]\n":                                                            true,
		head + "window: {tumbling: 1m}\naggregates: [{name: n, count: true}]\nrules: [{name: r, when: n > 1.0}]\n":                         true,
		head + "window: {tumbling: 1m, idle_timeout: 1m}\naggregates: [{name: n, count: true}]\n":                                          false,
		head + "window: {global: {}}\naggregates: [{name: n, count: true}]\n":                                                              false,
		head + "window: {tumbling: 1m}\naggregates: [{name: n, count: true}]\nrules: [{name: r, when: n > 1.0}]\nlimits: {idle_ttl: 1h}\n": false,
	} {
		f, err := Parse("t.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.Compile(Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.NewPipeline()
		if err != nil {
			t.Fatal(err)
		}
		if got := p.TickFree(); got != want {
			t.Errorf("TickFree = %v, want %v for\n%s", got, want, src)
		}
	}
}
