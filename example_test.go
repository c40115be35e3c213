package eddy_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/eddyhq/eddy"
)

// A function written in Go, run over a few records here.
func Example() {
	fn := &eddy.Function{
		Name:       "machine-alarms",
		Input:      eddy.Input{Key: "machine", Time: "ts", TimeFormat: "unix"},
		Window:     eddy.Window{Tumbling: time.Minute},
		Aggregates: []eddy.Aggregate{{Name: "avg_temp", Op: eddy.Avg, Field: "temp"}},
		Rules:      []eddy.Rule{{Name: "overheat", When: "avg_temp > 80.0", Severity: "critical"}},
	}
	records, _ := eddy.ReadRecords(strings.NewReader(`{"machine":"press-1","ts":1767225600,"temp":91}
{"machine":"press-1","ts":1767225630,"temp":85}
{"machine":"press-1","ts":1767225660,"temp":60}
`), "events.ndjson")
	res, err := eddy.Run(context.Background(), fn, records, func(o eddy.Output) {
		if d, ok := o.(*eddy.Decision); ok {
			fmt.Println(d.Rule, d.Key, d.State, d.Window.Start.UTC().Format(time.TimeOnly))
		}
	})
	fmt.Println(res.Stats.Events, "events,", res.Stats.Windows, "windows", err)
	// Output:
	// overheat press-1 firing 00:00:00
	// overheat press-1 resolved 00:01:00
	// 3 events, 2 windows <nil>
}

// A function's mistakes come back as eddy.yaml's would, with the path of each field at fault.
func ExampleCompile() {
	fn := &eddy.Function{
		Name:       "machine-alarms",
		Input:      eddy.Input{Key: "machine", Time: "ts"},
		Window:     eddy.Window{Tumbling: time.Minute},
		Aggregates: []eddy.Aggregate{{Name: "avg_temp", Op: eddy.Avg, Field: "temp"}},
		Rules:      []eddy.Rule{{Name: "overheat", When: "avg_tmp > 80.0"}},
	}
	_, err := eddy.Compile(context.Background(), fn)
	fmt.Println(err)
	// Output: function machine-alarms: rules[0].when: undeclared reference to 'avg_tmp' (did you mean 'avg_temp'?) (the aggregates are avg_temp)
}

// The same function from YAML.
func ExampleParse() {
	fn, err := eddy.Parse("eddy.yaml", []byte(`
name: machine-alarms
input: {key: machine, time: ts}
window: {tumbling: 1m}
aggregates: [{name: avg_temp, avg: temp}]
rules: [{name: overheat, when: avg_temp > 80.0, for: 3}]
`))
	fmt.Println(fn.Name, fn.Window.Tumbling, fn.Aggregates[0].Op, fn.Rules[0].For.Windows, err)
	// Output: machine-alarms 1m0s avg 3 <nil>
}
