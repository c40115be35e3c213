// Package crossover is a ready-made decision function for trading streams: it decides, per
// instrument, when the price crosses its moving average upwards (a "golden cross") or downwards (a
// "death cross"), once per crossing, with a minimum spread (0.1% by default) so that a price
// hovering at the average does not flap.
//
// Use it on a stream of trades or quotes (one event per trade with a price field) to drive
// trend-following signals, or to alert when an instrument breaks out of its trend.
//
// # Why the price and not a second average
//
// The textbook crossover compares two simple moving averages of different lengths (50 and 200
// days). An eddy function has one window per key, so it can compute exactly one moving average,
// and its rules see only the current window and the previous one (prev), not a longer history
// from which a second average could be rebuilt. A rule.Handler written in Go could keep that
// history, but the engine does not snapshot handlers' state, so on a serverless platform it would
// be lost between invocations. This package therefore uses the one honest form the spec
// expresses exactly and that survives invocations: a sliding window of length Long that advances
// every Step gives the long simple moving average (avg of every trade in the last Long) and the
// latest price (last by event time) — the short "average" is the latest trade, an average of
// length one. This is the classic "price crosses its moving average" signal.
//
// # Decisions
//
// Two rules, evaluated each time the window slides (every Step of event time, per key):
//
//   - golden-cross fires when the price rises above long_ma × (1 + MinSpread), having been at or
//     below that level in the key's previous window; it resolves when the price falls below
//     long_ma × (1 − MinSpread).
//   - death-cross fires when the price falls below long_ma × (1 − MinSpread), having been at or
//     above that level in the previous window; it resolves when the price rises above
//     long_ma × (1 + MinSpread).
//
// So a "firing" decision of either rule is the crossing signal, and it comes once per crossing:
// between the two bands nothing is emitted, however often the price wobbles there. The "resolved"
// decision of one rule coincides with the "firing" of the other when the price crosses the whole
// band in one step. A key's first window never fires (there is no earlier side to cross from),
// and a trend already established when the stream starts is not reported as a crossing. Each
// decision carries price, long_ma and trades (the number of trades in the window).
//
// Use it from Go (New returns a spec.Function to build or deploy) or copy eddy.yaml beside this
// file, which is the same function as a spec with the defaults filled in.
package crossover

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/eddyhq/eddy/core/spec"
)

// Defaults of Config.
const (
	DefaultName       = "ma-crossover"
	DefaultLong       = 15 * time.Minute
	DefaultStep       = time.Minute
	DefaultOutOfOrder = 5 * time.Second
	DefaultMinSpread  = 0.001
	DefaultSeverity   = "info"
)

// Names of the rules and of the values the function computes per window.
const (
	RuleGolden = "golden-cross" // price crossed above the moving average
	RuleDeath  = "death-cross"  // price crossed below the moving average
	ValuePrice = "price"        // latest price in the window (last by event time)
	ValueMA    = "long_ma"      // simple moving average of the price over the window
	ValueCount = "trades"       // number of trades in the window
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
	// Long is the length of the moving average (default 15m).
	Long time.Duration
	// Step is how often the average is re-evaluated, the slide of the window (default 1m). Long
	// must be a whole multiple of it.
	Step time.Duration
	// OutOfOrder is the allowed out-of-orderness of the input (default 5s).
	OutOfOrder time.Duration
	// MinSpread is the relative distance from the average the price must reach for a crossing,
	// e.g. 0.01 for 1%; in (0, 1) (default 0.001, ten basis points). It cannot be exactly zero:
	// the average of equal prices may differ from them in the last bit, so a flat price would
	// "cross" its own average. Use e.g. 1e-9 to count every real crossing.
	MinSpread float64
	// MinTrades ignores windows with fewer trades, e.g. while the first Long of a key fills
	// (default 1).
	MinTrades int
	// Severity labels the decisions (default "info").
	Severity string
}

func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	for _, c := range s {
		if c == '.' || c == 'e' {
			return s
		}
	}
	return s + ".0"
}

// New returns the crossover as a function spec, validated.
func New(c Config) (*spec.Function, error) {
	if c.Key == "" || c.Time == "" || c.Field == "" {
		return nil, fmt.Errorf("crossover: Key, Time and Field are required")
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Long == 0 {
		c.Long = DefaultLong
	}
	if c.Step == 0 {
		c.Step = DefaultStep
	}
	if c.OutOfOrder == 0 {
		c.OutOfOrder = DefaultOutOfOrder
	}
	if c.MinSpread == 0 {
		c.MinSpread = DefaultMinSpread
	}
	if c.MinTrades == 0 {
		c.MinTrades = 1
	}
	if c.Severity == "" {
		c.Severity = DefaultSeverity
	}
	switch {
	case c.Long < 0 || c.Step < 0:
		return nil, fmt.Errorf("crossover: Long %s and Step %s must be positive", c.Long, c.Step)
	case c.Step >= c.Long:
		// A window as long as its slide is tumbling: the "average" would restart every step.
		return nil, fmt.Errorf("crossover: Step %s must be shorter than Long %s", c.Step, c.Long)
	case c.Long%c.Step != 0:
		return nil, fmt.Errorf("crossover: Long %s is not a whole multiple of Step %s", c.Long, c.Step)
	case math.IsNaN(c.MinSpread) || c.MinSpread < 0 || c.MinSpread >= 1:
		return nil, fmt.Errorf("crossover: MinSpread %v must be in (0, 1)", c.MinSpread)
	case c.MinTrades < 0:
		return nil, fmt.Errorf("crossover: MinTrades %d must not be negative", c.MinTrades)
	}
	up, down := num(1+c.MinSpread), num(1-c.MinSpread)
	f := &spec.Function{
		Name: c.Name,
		Description: fmt.Sprintf("golden and death crosses of %s against its %s moving average (every %s, min spread %v)",
			c.Field, spec.FormatDuration(c.Long), spec.FormatDuration(c.Step), c.MinSpread),
		Input:  spec.Input{Format: "json", Key: c.Key, Time: c.Time, TimeFormat: c.TimeFormat, OutOfOrder: c.OutOfOrder},
		Window: spec.Window{Sliding: &spec.Sliding{Size: c.Long, Slide: c.Step}},
		Aggregates: []spec.Aggregate{
			{Name: ValueCount, Op: "count"},
			{Name: ValuePrice, Op: "last", Field: c.Field},
			{Name: ValueMA, Op: "avg", Field: c.Field},
		},
		Rules: []spec.Rule{
			{
				Name: RuleGolden,
				When: fmt.Sprintf("!first && %s >= %d && %s > %s * %s && prev.%s <= prev.%s * %s",
					ValueCount, c.MinTrades, ValuePrice, ValueMA, up, ValuePrice, ValueMA, up),
				Clear:    fmt.Sprintf("%s < %s * %s", ValuePrice, ValueMA, down),
				Severity: c.Severity,
			},
			{
				Name: RuleDeath,
				When: fmt.Sprintf("!first && %s >= %d && %s < %s * %s && prev.%s >= prev.%s * %s",
					ValueCount, c.MinTrades, ValuePrice, ValueMA, down, ValuePrice, ValueMA, down),
				Clear:    fmt.Sprintf("%s > %s * %s", ValuePrice, ValueMA, up),
				Severity: c.Severity,
			},
		},
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}
