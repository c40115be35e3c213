package pattern

import (
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// TestSeverity: a pattern's severity rides on its matched and absent decisions, defaults to "",
// and does not change decision ids.
func TestSeverity(t *testing.T) {
	run := func(severity string) []*core.Decision {
		table := &core.FieldTable{}
		p, err := Compile(Config{Name: "p", Function: "f", Severity: severity, Steps: []Step{
			{Name: "a", Where: "value > 90.0"},
			{Name: "b", Absent: true, Where: "value < 10.0", Within: 5 * time.Second},
		}}, table)
		if err != nil {
			t.Fatal(err)
		}
		m := p.NewMatcher()
		for i, v := range []float64{95, 50, 96, 5} {
			ev := &core.Event{Key: "k", Time: time.Unix(int64(i*10), 0), Fields: []core.Value{{Kind: core.Number, Num: v}}}
			if _, err := m.Add(ev); err != nil {
				t.Fatal(err)
			}
		}
		var out []*core.Decision
		m.Advance(time.Unix(100, 0), func(d *core.Decision) { c := *d; out = append(out, &c) })
		return out
	}
	plain, critical := run(""), run("critical")
	// 95 at 0s and 96 at 20s are each followed by no value below 10 within 5s.
	if len(plain) != 2 || len(critical) != 2 {
		t.Fatalf("%d and %d decisions, want 2 absent each", len(plain), len(critical))
	}
	for i := range plain {
		if plain[i].State != "absent" || plain[i].Severity != "" || critical[i].Severity != "critical" {
			t.Errorf("decision %d: %s with severities %q and %q, want absent with \"\" and critical", i, plain[i].State, plain[i].Severity, critical[i].Severity)
		}
		if plain[i].ID != critical[i].ID {
			t.Errorf("severity changed the decision id: %s vs %s", plain[i].ID, critical[i].ID)
		}
	}
	if got := string(critical[0].AppendJSON(nil)); !contains(got, `"severity":"critical"`) {
		t.Errorf("JSON %s lacks the severity", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
