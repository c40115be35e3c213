package pattern_test

import (
	"fmt"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/pattern"
)

// Three failed logins then a success within a minute, per account.
func Example() {
	table := &core.FieldTable{}
	p, err := pattern.Compile(pattern.Config{
		Name:   "account-takeover",
		Within: time.Minute,
		Steps: []pattern.Step{
			{Name: "failed", Where: `status == "failed"`, Times: 3},
			{Name: "success", Where: `status == "success"`},
		},
	}, table)
	if err != nil {
		fmt.Println(err)
		return
	}
	status, _ := table.Lookup("status")
	m := p.NewMatcher()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, s := range []string{"failed", "failed", "failed", "success"} {
		fields := make([]core.Value, table.Len())
		fields[status] = core.Value{Kind: core.String, Str: s}
		ev := &core.Event{Key: "alice", Time: start.Add(time.Duration(i) * 10 * time.Second), Fields: fields}
		if late, err := m.Add(ev); late != nil || err != nil {
			fmt.Println(late, err)
		}
	}
	m.Advance(start.Add(time.Hour), func(d *core.Decision) {
		fmt.Println(d.Rule, d.Key, d.State, d.Window.Start.Format(time.TimeOnly), d.Window.End.Format(time.TimeOnly))
	})
	// Output: account-takeover alice matched 00:00:00 00:00:30
}

// A sensor above its threshold three times in a row, then silent for 30 s.
func ExampleStep_absent() {
	table := &core.FieldTable{}
	p, _ := pattern.Compile(pattern.Config{
		Name: "hot-then-silent",
		Steps: []pattern.Step{
			{Name: "hot", Where: "value > threshold", Times: 3, Contiguity: pattern.Strict},
			{Name: "silence", Absent: true, Within: 30 * time.Second},
		},
	}, table)
	v, _ := table.Lookup("value")
	th, _ := table.Lookup("threshold")
	m := p.NewMatcher()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		fields := make([]core.Value, table.Len())
		fields[v] = core.Value{Kind: core.Number, Num: 95}
		fields[th] = core.Value{Kind: core.Number, Num: 80}
		m.Add(&core.Event{Key: "sensor-7", Time: start.Add(time.Duration(i) * time.Second), Fields: fields})
	}
	m.Advance(start.Add(40*time.Second), func(d *core.Decision) {
		fmt.Println(d.State, d.Key, d.Time.Format(time.TimeOnly))
	})
	// Output: absent sensor-7 00:00:32
}

// Matcher state goes to a store between invocations and comes back.
func ExampleMatcher_AppendBinary() {
	table := &core.FieldTable{}
	p, _ := pattern.Compile(pattern.Config{Name: "p", Steps: []pattern.Step{
		{Name: "a", Where: "value > 90.0"}, {Name: "b", Where: "value < 10.0"},
	}}, table)
	m := p.NewMatcher()
	m.Add(&core.Event{Key: "k", Time: time.Unix(1, 0), Fields: []core.Value{{Kind: core.Number, Num: 95}}})
	state, _ := m.AppendBinary(nil)

	next := p.NewMatcher() // the next invocation
	if err := next.UnmarshalBinary(state); err != nil {
		fmt.Println(err)
	}
	next.Add(&core.Event{Key: "k", Time: time.Unix(2, 0), Fields: []core.Value{{Kind: core.Number, Num: 5}}})
	next.Advance(time.Unix(3, 0), func(d *core.Decision) { fmt.Println(d.State, d.Values[0].Name, d.Values[0].Num) })
	// Output: matched count 2
}
