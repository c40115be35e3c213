package rule_test

import (
	"context"
	"fmt"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/rule"
)

func minute(key string, i int, name string, v float64) *core.WindowResult {
	start := time.Date(2024, 5, 1, 12, i, 0, 0, time.UTC)
	return &core.WindowResult{Function: "players", Key: key, Start: start, End: start.Add(time.Minute),
		Values: []core.NamedValue{{Name: name, Num: v}, {Name: "count", Num: 60}}}
}

// Bench a player whose load stays above the limit for three consecutive one-minute windows.
func Example() {
	set, err := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "load"}, {Name: "count"}},
		Thresholds: []rule.Threshold{{
			Name:       "bench",
			Severity:   "warning",
			Condition:  "load > 100.0 && count >= 10",
			ForWindows: 3,
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	engine := set.NewEngine() // one per partition
	for i, load := range []float64{90, 120, 130, 140, 150, 95} {
		err := engine.Decide(context.Background(), minute("player-7", i, "load", load), func(d *core.Decision) {
			fmt.Println(d.Time.Format(time.TimeOnly), d.Key, d.Rule, d.State)
		})
		if err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// 12:04:00 player-7 bench firing
	// 12:06:00 player-7 bench resolved
}

// A temperature alarm with hysteresis: it fires above 80 and resolves only below 70.
func ExampleThreshold_hysteresis() {
	set, _ := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "temp"}},
		Thresholds: []rule.Threshold{{Name: "overheat", Condition: "temp > 80", Clear: "temp < 70"}},
	})
	engine := set.NewEngine()
	var ds []*core.Decision
	for i, temp := range []float64{75, 85, 78, 72, 69} {
		ds, _ = engine.AppendDecisions(context.Background(), ds, minute("boiler-1", i, "temp", temp))
	}
	for _, d := range ds {
		fmt.Println(d.Time.Format(time.TimeOnly), d.State)
	}
	// Output:
	// 12:02:00 firing
	// 12:05:00 resolved
}

// Flag windows whose average is far from the last ten windows' average.
func ExampleAnomaly() {
	set, _ := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "avg"}},
		Anomalies:  []rule.Anomaly{{Name: "spike", Aggregate: "avg", Method: rule.ZScore, Window: 10, Threshold: 3}},
	})
	engine := set.NewEngine()
	for i := range 12 {
		v := 50.0 + float64(i%2)
		if i == 11 {
			v = 80
		}
		_ = engine.Decide(context.Background(), minute("sensor-1", i, "avg", v), func(d *core.Decision) {
			for _, v := range d.Values {
				if v.Name == rule.ValueScore {
					fmt.Printf("%s %s %s=%.0f\n", d.Time.Format(time.TimeOnly), d.State, v.Name, v.Num)
				}
			}
		})
	}
	// Output:
	// 12:12:00 anomaly anomaly.score=59
}

// Custom Go logic composes with CEL rules: a HandlerFunc sees every window result.
func ExampleHandlerFunc() {
	quiet := rule.HandlerFunc(func(_ context.Context, r *core.WindowResult, emit rule.Emit) error {
		if v, ok := r.Value("count"); ok && v.Num == 0 {
			emit(rule.NewDecision(r, "quiet", "matched", "info"))
		}
		return nil
	})
	set, _ := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "load"}, {Name: "count"}},
		Thresholds: []rule.Threshold{{Name: "high", Condition: "load > 100.0"}},
		Handlers:   []rule.Handler{quiet},
	})
	r := minute("player-7", 0, "load", 120)
	r.Values[1].Num = 0
	_ = set.NewEngine().Decide(context.Background(), r, func(d *core.Decision) { fmt.Println(d.Rule, d.State) })
	// Output:
	// high firing
	// quiet matched
}

// Engine state survives between invocations as bytes in a state store.
func ExampleEngine_MarshalBinary() {
	set, _ := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "load"}},
		Thresholds: []rule.Threshold{{Name: "bench", Condition: "load > 100.0", ForWindows: 3}},
	})
	first := set.NewEngine()
	for i := range 2 {
		_ = first.Decide(context.Background(), minute("player-7", i, "load", 120), func(*core.Decision) {})
	}
	state, _ := first.MarshalBinary() // store it

	next := set.NewEngine() // the next invocation
	if err := next.UnmarshalBinary(state); err != nil {
		fmt.Println(err)
		return
	}
	_ = next.Decide(context.Background(), minute("player-7", 2, "load", 120), func(d *core.Decision) {
		fmt.Println(d.Rule, d.State)
	})
	// Output:
	// bench firing
}

// Compile errors name the rule, the field and the position in the expression.
func ExampleCompile_error() {
	_, err := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "load"}},
		Thresholds: []rule.Threshold{{Name: "bench", Condition: "load > 100.0 && lod < 200.0"}},
	})
	fmt.Println(err)
	// Output:
	// rule "bench": field condition: ERROR: condition:1:17: undeclared reference to 'lod' (did you mean 'load'?)
	//  | load > 100.0 && lod < 200.0
	//  | ................^
}

// A golden cross and a death cross of the closing price's SMA 3 against its SMA 5, one window a
// minute.
func ExampleCrossover() {
	set, err := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "close"}},
		Crossovers: []rule.Crossover{{Name: "ma-cross", Of: "close", Fast: 3, Slow: 5, Average: rule.SMA, MinSpread: 0.001}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	engine := set.NewEngine()
	for i, close := range []float64{10, 10, 10, 10, 10, 11, 12, 13, 12, 10, 8, 7} {
		_ = engine.Decide(context.Background(), minute("ACME", i, "close", close), func(d *core.Decision) {
			var fast, slow float64
			for _, v := range d.Values {
				switch v.Name {
				case rule.ValueFast:
					fast = v.Num
				case rule.ValueSlow:
					slow = v.Num
				}
			}
			fmt.Printf("%s %s %s fast=%.2f slow=%.2f\n", d.Time.Format(time.TimeOnly), d.Key, d.State, fast, slow)
		})
	}
	// Output:
	// 12:06:00 ACME golden fast=10.33 slow=10.20
	// 12:11:00 ACME death fast=10.00 slow=11.00
}
