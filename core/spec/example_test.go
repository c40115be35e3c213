package spec_test

import (
	"context"
	"fmt"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
)

func ExampleParse() {
	f, err := spec.Parse("eddy.yaml", []byte(`
name: machine-alarms
input: {key: device.id, time: ts, time_format: unix_ms, out_of_order: 2s}
window:
  tumbling: 1m
aggregates:
  - {name: avg_temp, avg: temp}
  - {name: n, count: true}
rules:
  - {name: overheat, when: avg_temp > 80 && n >= 3, for: 2, severity: critical}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Name, f.Window.Tumbling, f.Aggregates[0].Op, f.Rules[0].For.Windows)

	// Every problem is reported at once, with its position and a hint.
	_, err = spec.Parse("eddy.yaml", []byte(`
name: machine-alarms
input: {key: device.id, time: ts}
window:
  sliding: {size: 5m, slide: 10x}
aggregates:
  - {name: avg_temp, avg: temp}
rules:
  - {name: overheat, when: avg_tmp > 80}
`))
	fmt.Println(err)
	// Output:
	// machine-alarms 1m0s avg 2
	// eddy.yaml:5:30: window.sliding.slide: "10x" is not a duration (use e.g. 1s, 5m, 1h30m or 1d)
	// eddy.yaml:9:28: rules[0].when: undeclared reference to 'avg_tmp' (did you mean 'avg_temp'?) (the aggregates are avg_temp)
}

func ExampleFunction_Build() {
	f := &spec.Function{
		Name:       "machine-alarms",
		Input:      spec.Input{Key: "device", Time: "ts", TimeFormat: "unix_ms"},
		Window:     spec.Window{Tumbling: time.Minute},
		Aggregates: []spec.Aggregate{{Name: "avg_temp", Op: "avg", Field: "temp"}},
		Rules:      []spec.Rule{{Name: "overheat", When: "avg_temp > 80", Severity: "critical"}},
	}
	p, err := f.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := p.Process(context.Background(), core.Batch{Partition: "0", Records: []core.Record{
		{ID: "1", Offset: "1", Data: []byte(`{"device":"m1","ts":0,"temp":85}`)},
		{ID: "2", Offset: "2", Data: []byte(`{"device":"m1","ts":30000,"temp":91}`)},
		{ID: "3", Offset: "3", Data: []byte(`{"device":"m1","ts":61000,"temp":20}`)},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range res.Outputs {
		switch o := o.(type) {
		case *core.WindowResult:
			fmt.Println("window", o.Key, o.End.UTC().Format(time.TimeOnly), o.Values[0].Name, o.Values[0].Num)
		case *core.Decision:
			fmt.Println("decision", o.Rule, o.Key, o.State, o.Severity)
		}
	}

	// A Go value is checked like a file, with paths instead of positions.
	f.Rules[0].When = "avg_temp > "
	_, err = f.Build()
	fmt.Println(err != nil)
	// Output:
	// window m1 00:01:00 avg_temp 88
	// decision overheat m1 firing critical
	// true
}

// A moving-average crossover of one-minute closing prices: SMA 2 against SMA 4.
func ExampleParse_crossover() {
	f, err := spec.Parse("eddy.yaml", []byte(`
name: trading
input: {key: symbol, time: ts, time_format: unix}
window: {tumbling: 1m}
aggregates:
  - {name: price, op: last, field: price}
crossovers:
  - {name: ma-cross, of: price, fast: 2, slow: 4, average: sma, min_spread: 0.001, severity: info}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := f.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	var recs []core.Record
	start := int64(1_699_999_980) // a minute boundary
	for i, price := range []float64{10, 10, 10, 10, 12, 12, 9, 8, 8} {
		id := fmt.Sprint(i)
		recs = append(recs, core.Record{ID: id, Offset: id,
			Data: fmt.Appendf(nil, `{"symbol":"ACME","ts":%d,"price":%g}`, start+int64(i)*60+30, price)})
	}
	show := func(o core.Output) {
		if d, ok := o.(*core.Decision); ok {
			fmt.Println(d.Time.UTC().Format(time.TimeOnly), d.Key, d.Rule, d.State, d.Values[1].Name, d.Values[1].Num, d.Values[2].Name, d.Values[2].Num)
		}
	}
	ctx := context.Background()
	res, err := p.Process(ctx, core.Batch{Partition: "0", Records: recs})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range res.Outputs {
		show(o)
	}
	if _, err := p.Flush(ctx, show); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 22:18:00 ACME ma-cross golden crossover.fast 11 crossover.slow 10.5
	// 22:20:00 ACME ma-cross death crossover.fast 10.5 crossover.slow 10.75
}

// Conditional aggregates count and sum only the events their where condition selects, like SQL's
// COUNT(*) FILTER (WHERE ...); a rule can then compare them.
func ExampleParse_where() {
	f, err := spec.Parse("eddy.yaml", []byte(`
name: logins
input: {key: user, time: ts, time_format: unix_ms}
window:
  tumbling: 1m
aggregates:
  - {name: attempts, count: true}
  - {name: failed_logins, count: true, where: "outcome == 'fail'"}
  - {name: cart_value, sum: price, where: "type == 'add_to_cart'"}
rules:
  - {name: brute_force, when: failed_logins >= 3.0, severity: critical}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := f.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	var recs []core.Record
	for i, data := range []string{
		`{"user":"bob","ts":1000,"type":"login","outcome":"fail"}`,
		`{"user":"bob","ts":2000,"type":"login","outcome":"fail"}`,
		`{"user":"bob","ts":3000,"type":"add_to_cart","price":19.5}`,
		`{"user":"bob","ts":4000,"type":"login","outcome":"fail"}`,
		`{"user":"bob","ts":5000,"type":"add_to_cart","price":5}`,
	} {
		recs = append(recs, core.Record{ID: fmt.Sprint(i), Data: []byte(data)})
	}
	ctx := context.Background()
	if _, err := p.Process(ctx, core.Batch{Partition: "0", Records: recs}); err != nil {
		fmt.Println(err)
		return
	}
	p.Flush(ctx, func(o core.Output) {
		switch o := o.(type) {
		case *core.WindowResult:
			fmt.Println(string(core.AppendValues(nil, o.Values)))
		case *core.Decision:
			fmt.Println(o.Rule, o.State, o.Severity)
		}
	})
	// Output:
	// {"attempts":5,"failed_logins":3,"cart_value":24.5}
	// brute_force firing critical
}
