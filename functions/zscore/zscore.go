// Package zscore is a ready-made decision function: a z-score anomaly detector on a numeric field
// per key. Every Window of event time it aggregates the field per key (the average by default),
// compares that value with the mean and standard deviation of the key's previous History window
// values, and decides "anomaly" when it lies Threshold or more standard deviations away.
//
// Use it when "normal" differs per key and drifts over time, so a fixed threshold does not fit:
// latency per endpoint, orders per shop, temperature per machine. It is the engine's own z-score
// detector (eddy.ZScore, spec anomalies with method zscore); this package only chooses sound
// defaults and writes the spec.
//
// A window whose key had no readings produces no value and is neither scored nor added to the
// history, so gaps do not drag the mean towards zero. Nothing is flagged before Warmup previous
// values exist. Each flagged window emits one decision with state "anomaly" whose values are the
// window's values (readings, value) followed by anomaly.score, anomaly.mean and anomaly.stddev.
//
// Use it from Go (New returns a eddy.Function to build or deploy) or copy eddy.yaml beside this
// file, which is the same function as a spec with the defaults filled in.
package zscore

import (
	"cmp"
	"fmt"
	"math"
	"time"

	"github.com/eddyhq/eddy"
)

// Defaults of Config.
const (
	DefaultName       = "zscore-anomaly"
	DefaultWindow     = time.Minute
	DefaultOutOfOrder = 5 * time.Second
	DefaultHistory    = 30
	DefaultThreshold  = 3.0
	DefaultSeverity   = "warning"
)

// Names of the detector and of the values the function computes per window.
const (
	RuleAnomaly   = "zscore"   // the detector's name in decisions
	ValueReadings = "readings" // events in the window
	ValueStat     = "value"    // the aggregated field (Stat) that is scored
)

// Config describes the detector. Zero values take the defaults noted.
type Config struct {
	// Name is the function's name (default "zscore-anomaly").
	Name string
	// Key is the field path of the key, e.g. "endpoint" (required).
	Key string
	// Time is the field path of the event time (required), written as TimeFormat (default auto).
	Time       string
	TimeFormat string
	// Field is the numeric field watched (required).
	Field string
	// Stat is how a window's readings become the scored value: avg (the default), sum, min, max,
	// stddev, count (the readings whose field is a number) or quantile (with Q).
	Stat eddy.Op
	// Q is the quantile for Stat quantile, in (0, 1), e.g. 0.99.
	Q float64
	// Window is the tumbling window the field is aggregated over (default 1m).
	Window time.Duration
	// OutOfOrder is the allowed out-of-orderness of the input (default 5s).
	OutOfOrder time.Duration
	// History is how many previous window values of the key the mean and standard deviation are
	// taken over (default 30, at least 2).
	History int
	// Warmup is how many previous values must exist before anything is flagged (default History;
	// at least 2 and at most History).
	Warmup int
	// Threshold is the |z| at or beyond which a value is flagged (default 3).
	Threshold float64
	// Direction flags spikes (eddy.Above), drops (eddy.Below) or both (the default, "both").
	Direction eddy.Direction
	// Severity labels the decisions (default "warning").
	Severity string
}

// New returns the detector as a function spec, validated.
func New(c Config) (*eddy.Function, error) {
	if c.Key == "" || c.Time == "" || c.Field == "" {
		return nil, fmt.Errorf("zscore: Key, Time and Field are required")
	}
	c.Name = cmp.Or(c.Name, DefaultName)
	c.Stat = cmp.Or(c.Stat, eddy.Avg)
	c.Window = cmp.Or(c.Window, DefaultWindow)
	c.OutOfOrder = cmp.Or(c.OutOfOrder, DefaultOutOfOrder)
	c.History = cmp.Or(c.History, DefaultHistory)
	c.Warmup = cmp.Or(c.Warmup, c.History)
	c.Threshold = cmp.Or(c.Threshold, DefaultThreshold)
	if c.Direction == eddy.Both {
		c.Direction = "both"
	}
	c.Severity = cmp.Or(c.Severity, DefaultSeverity)
	switch c.Stat {
	case eddy.Avg, eddy.Sum, eddy.Min, eddy.Max, eddy.Stddev, eddy.Count:
		if c.Q != 0 {
			return nil, fmt.Errorf("zscore: Q %v is only for Stat quantile, not %s", c.Q, c.Stat)
		}
	case eddy.Quantile:
		if !(c.Q > 0 && c.Q < 1) {
			return nil, fmt.Errorf("zscore: Q %v must be in (0, 1) for Stat quantile", c.Q)
		}
	default:
		return nil, fmt.Errorf("zscore: Stat %q is not one of avg, sum, min, max, stddev, count, quantile", c.Stat)
	}
	switch {
	case c.History < 2:
		return nil, fmt.Errorf("zscore: History %d must be at least 2 (a standard deviation needs two values)", c.History)
	case c.Warmup < 2 || c.Warmup > c.History:
		return nil, fmt.Errorf("zscore: Warmup %d must be in [2, History %d]", c.Warmup, c.History)
	case math.IsNaN(c.Threshold) || math.IsInf(c.Threshold, 0) || c.Threshold <= 0:
		return nil, fmt.Errorf("zscore: Threshold %v must be a positive number", c.Threshold)
	}
	stat := string(c.Stat)
	if c.Stat == eddy.Quantile {
		stat = fmt.Sprintf("quantile %v", c.Q)
	}
	f := &eddy.Function{
		Name: c.Name,
		Description: fmt.Sprintf("anomaly when the %s %s of %s is %v or more standard deviations from its last %d windows (direction %s)",
			eddy.FormatDuration(c.Window), stat, c.Field, c.Threshold, c.History, c.Direction),
		Input:  eddy.Input{Format: "json", Key: c.Key, Time: c.Time, TimeFormat: c.TimeFormat, OutOfOrder: c.OutOfOrder},
		Window: eddy.Window{Tumbling: c.Window},
		Aggregates: []eddy.Aggregate{
			{Name: ValueReadings, Op: eddy.Count},
			{Name: ValueStat, Op: c.Stat, Field: c.Field, Q: c.Q},
		},
		Anomalies: []eddy.Anomaly{{
			Name: RuleAnomaly, Aggregate: ValueStat, Method: eddy.ZScore, Window: c.History,
			Threshold: c.Threshold, Warmup: c.Warmup, Direction: c.Direction, Severity: c.Severity,
		}},
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}
