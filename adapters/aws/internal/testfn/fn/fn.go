// Package fn is the integration test's function, shared by the bootstrap and the test's reference.
package fn

import (
	"time"

	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/internal/aggregate"
	"github.com/eddyhq/eddy/internal/pipeline"
	"github.com/eddyhq/eddy/internal/window"
)

// Name is the function's name.
const Name = "hot-sensors"

// Window is the function's window.
var Window = window.Spec{Kind: window.Tumbling, Size: time.Second}

// ArrivalWindow is the window of the function NewArrival makes: that of the Lambda tumbling
// window its event source mapping sets (TumblingWindowInSeconds: 1).
var ArrivalWindow = window.Spec{Kind: window.Tumbling, Size: time.Second}

// New compiles the function once and returns the per-shard processor factory.
func New() (func(partition string) (runner.Processor, error), error) {
	return compile(Window, "ts", window.Time{OutOfOrder: 2 * time.Second})
}

// NewArrival is the same function with the records' arrival time as event time and windows of
// ArrivalWindow, as a function keeping its state in Lambda's tumbling window is configured: its
// windows are then Lambda's windows.
func NewArrival() (func(partition string) (runner.Processor, error), error) {
	return compile(ArrivalWindow, "$time", window.Time{})
}

func compile(w window.Spec, timePath string, tc window.Time) (func(partition string) (runner.Processor, error), error) {
	set, err := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "count"}, {Name: "avg"}, {Name: "max"}},
		Thresholds: []rule.Threshold{{Name: "hot", Severity: "warning", Condition: "avg > 55.0 && count >= 3", Clear: "avg < 50.0"}},
	})
	if err != nil {
		return nil, err
	}
	cfg := pipeline.Config{
		Function: Name, Window: w, Time: tc,
		Aggregates: []aggregate.Spec{{Op: aggregate.Count}, {Op: aggregate.Avg, Field: "value"}, {Op: aggregate.Max, Field: "value"}},
	}
	return func(string) (runner.Processor, error) {
		b, err := pipeline.New(cfg)
		if err != nil {
			return nil, err
		}
		b.Decide(set.NewEngine())
		return b.Build(func(paths []string) (pipeline.Decoder, error) {
			return codec.New(codec.Config{Format: "json", Key: "key", Time: timePath, TimeFormat: timeFormat(timePath), Paths: paths})
		})
	}, nil
}

func timeFormat(path string) string {
	if path == "$time" {
		return ""
	}
	return "unix_ms"
}
