// Package crossover is a ready-made decision function for trading streams: the moving-average
// crossover. Per instrument it closes a bar every Step of event time (the bar's price is the last
// trade's, by event time), keeps a fast and a slow moving average of the closes (SMA 5 and SMA 20
// by default; EMA 12 and EMA 26 are the other classic), and decides "golden" when the fast average
// crosses above the slow one and "death" when it crosses below: once per crossing, with a minimum
// spread (0.1% of the slow average by default) so that averages running together do not flap.
//
// Use it on a stream of trades or quotes (one event per trade with a price field) to drive
// trend-following signals, or to alert when an instrument breaks out of its trend.
//
// It is the engine's own crossover (eddy.Crossover, spec crossovers:), whose per-instrument state
// (the last Slow closes, or the two EMAs) is saved with the rest of the function's state, so it
// survives between serverless invocations; this package only chooses sound defaults and writes the
// spec.
//
// # Decisions
//
// One rule, named "ma-cross", evaluated on every bar of every instrument. No average exists before
// the instrument's Slow-th bar; the side the averages are on then is not reported (a trend already
// established when the stream starts is not a crossing). After that:
//
//   - fast − slow > MinSpread × |slow|: the fast average is above; coming from below (or from
//     having been within the band since the warm-up) that is a golden cross;
//   - slow − fast > MinSpread × |slow|: below; coming from above (or the band), a death cross;
//   - in between, the instrument keeps its side, however often the averages wobble.
//
// Each decision (state "golden" or "death") carries trades (the bar's trade count), price (its
// close), crossover.fast, crossover.slow and crossover.spread ((fast − slow)/|slow|). Bars without
// trades do not exist: the averages count the instrument's bars that had trades. A trade later than
// OutOfOrder goes to the late output, unless AllowedLateness keeps its bar open, in which case the
// bar is revised and the crossover re-evaluated (see package rule on revisions).
//
// Use it from Go (New returns a eddy.Function to build or deploy) or copy eddy.yaml beside this
// file, which is the same function as a spec with the defaults filled in.
package crossover

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/eddyhq/eddy"
	"github.com/eddyhq/eddy/core/rule"
)

// Defaults of Config.
const (
	DefaultName       = "ma-crossover"
	DefaultStep       = time.Minute
	DefaultFast       = 5
	DefaultSlow       = 20
	DefaultAverage    = eddy.SMA
	DefaultOutOfOrder = 5 * time.Second
	DefaultMinSpread  = 0.001
	DefaultSeverity   = "info"
)

// Names of the rule and of the values the function computes per bar.
const (
	RuleCross  = "ma-cross" // the crossover's name in decisions
	ValuePrice = "price"    // the bar's close: its last trade's price, by event time
	ValueCount = "trades"   // the number of trades in the bar
)

// Config describes the crossover. Zero values take the defaults noted.
type Config struct {
	// Name is the function's name (default "ma-crossover").
	Name string
	// Key is the field path of the instrument, e.g. "symbol" (required).
	Key string
	// Time is the field path of the trade's event time (required), written as TimeFormat (default
	// auto).
	Time       string
	TimeFormat string
	// Field is the numeric price field (required).
	Field string
	// Step is the bar length: the tumbling window whose last price is averaged (default 1m).
	Step time.Duration
	// Fast and Slow are the lengths of the averages in bars (default 5 and 20); 1 <= Fast < Slow
	// <= rule.MaxCrossoverSlow. Fast 1 compares the close itself with the slow average.
	Fast, Slow int
	// Average is eddy.SMA (the default) or eddy.EMA.
	Average eddy.Average
	// MinSpread is the relative band against flapping, in [0, 1) (default 0.001, ten basis points
	// of the slow average). 0 takes the default; for practically every strict crossing use a tiny
	// band such as 1e-12.
	MinSpread float64
	// OutOfOrder is the allowed out-of-orderness of the input (default 5s).
	OutOfOrder time.Duration
	// AllowedLateness keeps a bar open after it closed, so that a later trade revises it (default
	// 0: such trades go to the late output).
	AllowedLateness time.Duration
	// IdleTTL drops the averages of an instrument that has had no bar for this long in event time
	// (default 0: kept); it warms up again when it trades again.
	IdleTTL time.Duration
	// Severity labels the decisions (default "info").
	Severity string
}

// New returns the crossover as a function spec, validated.
func New(c Config) (*eddy.Function, error) {
	if c.Key == "" || c.Time == "" || c.Field == "" {
		return nil, fmt.Errorf("crossover: Key, Time and Field are required")
	}
	c.Name = cmp.Or(c.Name, DefaultName)
	c.Step = cmp.Or(c.Step, DefaultStep)
	c.Fast = cmp.Or(c.Fast, DefaultFast)
	c.Slow = cmp.Or(c.Slow, DefaultSlow)
	c.Average = cmp.Or(c.Average, DefaultAverage)
	c.MinSpread = cmp.Or(c.MinSpread, DefaultMinSpread)
	c.OutOfOrder = cmp.Or(c.OutOfOrder, DefaultOutOfOrder)
	c.Severity = cmp.Or(c.Severity, DefaultSeverity)
	switch {
	case c.Step < 0:
		return nil, fmt.Errorf("crossover: Step %s must be positive", c.Step)
	case c.Fast < 1 || c.Slow <= c.Fast || c.Slow > rule.MaxCrossoverSlow:
		return nil, fmt.Errorf("crossover: Fast %d and Slow %d must satisfy 1 <= Fast < Slow <= %d", c.Fast, c.Slow, rule.MaxCrossoverSlow)
	case math.IsNaN(c.MinSpread) || c.MinSpread < 0 || c.MinSpread >= 1:
		return nil, fmt.Errorf("crossover: MinSpread %v must be in [0, 1)", c.MinSpread)
	}
	f := &eddy.Function{
		Name: c.Name,
		Description: fmt.Sprintf("moving-average crossover of %s on %s bars: %s against %s, min spread %v",
			c.Field, eddy.FormatDuration(c.Step), average(c.Average, c.Fast), average(c.Average, c.Slow), c.MinSpread),
		Input:  eddy.Input{Format: "json", Key: c.Key, Time: c.Time, TimeFormat: c.TimeFormat, OutOfOrder: c.OutOfOrder},
		Window: eddy.Window{Tumbling: c.Step, AllowedLateness: c.AllowedLateness},
		Aggregates: []eddy.Aggregate{
			{Name: ValueCount, Op: "count"},
			{Name: ValuePrice, Op: "last", Field: c.Field},
		},
		Crossovers: []eddy.Crossover{{
			Name: RuleCross, Of: ValuePrice, Fast: c.Fast, Slow: c.Slow, Average: c.Average,
			MinSpread: c.MinSpread, Severity: c.Severity,
		}},
		Limits: eddy.Limits{IdleTTL: c.IdleTTL},
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// average names an average for the description: "SMA 20", or "the close" for length 1.
func average(a eddy.Average, n int) string {
	if n == 1 {
		return "the close"
	}
	return fmt.Sprintf("%s %d", strings.ToUpper(string(a)), n)
}
