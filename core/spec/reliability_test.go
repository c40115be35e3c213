package spec

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
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
