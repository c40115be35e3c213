package rule

import (
	"fmt"

	"github.com/eddyhq/eddy/core/reftable"
	"math"
	"time"
)

// Aggregate declares one value a window result carries, so that conditions can be type-checked at
// compile time. Numeric aggregates are CEL doubles; list aggregates (top-k) are CEL lists of
// {"value": string, "count": int} maps.
type Aggregate struct {
	// Name is the aggregate's name in WindowResult.Values and the CEL variable that holds it. It
	// must be a CEL identifier and not one of the names the rule package defines (key, window,
	// revision, first, prev, attrs).
	Name string
	// List is set for top-k aggregates, whose value is a list of items.
	List bool
	// MaxItems bounds the length of a list aggregate (a top-k's k) for the worst-case cost
	// estimate of CheckCost; 0 means unknown, so unbounded.
	MaxItems int
}

// Threshold is a Prometheus-style alerting rule evaluated once per window result and key. See the
// package documentation for the state machine.
type Threshold struct {
	// Name identifies the rule in decisions, errors and snapshots (YAML: name). Unique in a Config.
	Name string
	// Severity is copied into every decision the rule emits (YAML: severity).
	Severity string
	// Condition is the CEL expression that makes the rule fire, e.g. `avg > 80.0 && count >= 10`
	// (YAML: condition). It must be of type bool.
	Condition string
	// Clear, if set, is the CEL condition that resolves a firing rule (hysteresis, YAML: clear):
	// a firing rule resolves only once Clear holds, whatever Condition says. Without Clear a firing
	// rule resolves once Condition no longer holds.
	Clear string
	// ForWindows is how many consecutive windows Condition must hold before the rule fires
	// (YAML: for: 3). 0 or 1 fire on the first window that holds. Exclusive with ForDuration.
	ForWindows int
	// ForDuration is how much event time Condition must hold before the rule fires, measured from
	// the start of the first window of the streak to the end of the current one (YAML: for: 3m).
	// Exclusive with ForWindows.
	ForDuration time.Duration
	// KeepFiringForWindows keeps a firing rule firing for this many windows after it would have
	// resolved (YAML: keep_firing_for: 2). Exclusive with KeepFiringFor.
	KeepFiringForWindows int
	// KeepFiringFor keeps a firing rule firing until the resolve signal (Clear, or Condition not
	// holding) has held for more than this much event time, measured from the start of the first
	// window of the resolve streak to the end of the current one (YAML: keep_firing_for: 5m).
	KeepFiringFor time.Duration
	// EmitPending emits a "pending" decision when the rule starts waiting out For, and a "resolved"
	// one if the condition stops holding before it fires (YAML: emit_pending). Off by default.
	EmitPending bool
	// ResetOnGap makes a window that starts after the previous window of its key ended (the key
	// had no events in between) break a pending streak (YAML: reset_on_gap). Off by default, so
	// For counts consecutive window results of the key.
	ResetOnGap bool
	// EachWindow judges every window on its own (YAML: each_window): a "firing" decision for each
	// window result in which Condition holds, with no state carried from one window to the next,
	// and a "resolved" one only when a revision of that window no longer satisfies it. For session
	// windows, where each window is one visit and two abandoned carts in a row are two
	// recommendations, or whenever every matching window is actionable. Exclusive with Clear,
	// For, KeepFiringFor, EmitPending and ResetOnGap.
	EachWindow bool
	// Enrich copies reference-table fields into the rule's decisions (YAML: enrich): each
	// "table.column" is looked up by the decision's key (the table's default row for a key it
	// lacks) and added to the values under that name. A key with neither row nor default adds
	// nothing.
	Enrich []string
}

// Method is an anomaly detection method.
type Method string

// Anomaly detection methods.
const (
	// ZScore flags a value whose z-score against the mean and (population) standard deviation of
	// the previous Window values is at least Threshold in magnitude.
	ZScore Method = "zscore"
	// EWMA flags a value whose deviation from the exponentially weighted moving average is at
	// least Threshold times the exponentially weighted mean absolute deviation.
	EWMA Method = "ewma"
)

// Direction restricts which deviations an anomaly detector flags.
type Direction string

// Directions.
const (
	Both  Direction = ""      // flag deviations either way (the default; "both" is accepted too)
	Above Direction = "above" // flag values above the expected value only (spikes)
	Below Direction = "below" // flag values below the expected value only (drops)
)

// Anomaly is a per-key anomaly detector over one numeric aggregate. It emits a decision with state
// "anomaly" for each flagged window; the decision's values are the window's values followed by
// "anomaly.score" and the method's baseline ("anomaly.mean" and "anomaly.stddev" for zscore,
// "anomaly.ewma" and "anomaly.ewmad" for ewma).
type Anomaly struct {
	// Name identifies the detector in decisions, errors and snapshots (YAML: name). Unique in a
	// Config.
	Name string
	// Severity is copied into every decision (YAML: severity).
	Severity string
	// Aggregate names the numeric aggregate to watch (YAML: aggregate).
	Aggregate string
	// Method is ZScore or EWMA (YAML: method).
	Method Method
	// Window is, for ZScore, how many previous values the mean and standard deviation are taken
	// over (YAML: window). Required for ZScore, at least 2; unused by EWMA.
	Window int
	// Threshold is the score at or beyond which a value is flagged (YAML: threshold), e.g. 3.
	Threshold float64
	// Alpha is the EWMA smoothing factor in (0, 1] (YAML: alpha): the weight of the newest value.
	Alpha float64
	// Warmup is how many previous values must have been seen before anything is flagged (YAML:
	// warmup). The default is Window for ZScore and max(2, ceil(1/Alpha)) for EWMA; for ZScore it
	// may not exceed Window.
	Warmup int
	// Direction restricts flags to spikes or drops (YAML: direction).
	Direction Direction
}

// Average is how a crossover averages a series of window values.
type Average string

// Averages.
const (
	// SMA is the simple moving average: the mean of the last N values.
	SMA Average = "sma"
	// EMA is the exponential moving average with smoothing α = 2/(N+1), seeded with the SMA of the
	// first N values (as TA-Lib and most charting tools do), so it exists from the N-th value on.
	EMA Average = "ema"
)

// MaxCrossoverSlow bounds Crossover.Slow: an SMA crossover keeps the last Slow values of every key
// (8 bytes each) in memory and in snapshots.
const MaxCrossoverSlow = 10_000

// Crossover is a per-key moving-average crossover over one numeric aggregate: a fast and a slow
// moving average of the aggregate's value over the key's last window results, a "golden" decision
// when the fast one crosses above the slow one and a "death" decision when it crosses below. See
// the package documentation for the exact semantics.
type Crossover struct {
	// Name identifies the crossover in decisions, errors and snapshots (YAML: name). Unique in a
	// Config.
	Name string
	// Severity is copied into every decision (YAML: severity).
	Severity string
	// Of names the numeric aggregate to average, e.g. the closing price of each window (a last
	// aggregate) (YAML: of).
	Of string
	// Fast is the length of the fast average in windows, at least 1 (YAML: fast). 1 compares the
	// value itself with the slow average: "the price crosses its moving average".
	Fast int
	// Slow is the length of the slow average in windows, more than Fast and at most
	// MaxCrossoverSlow (YAML: slow).
	Slow int
	// Average is SMA (the default when empty) or EMA (YAML: average).
	Average Average
	// MinSpread is a relative band against flapping, in [0, 1) (YAML: min_spread): the fast average
	// is above the slow one only when fast − slow > MinSpread·|slow|, below only when
	// slow − fast > MinSpread·|slow|, and in between the key keeps its side. 0 counts every strict
	// crossing; with prices that are not exact binary fractions use a small band (1e-9) so that
	// averages of equal prices, which may differ in the last bit, do not count as crossing.
	MinSpread float64
}

// Config is a set of rules over the window results of one function.
type Config struct {
	// Aggregates declares the values window results carry (the type environment of conditions).
	Aggregates []Aggregate
	// Thresholds are evaluated in order for each window result.
	Thresholds []Threshold
	// Anomalies are evaluated in order after the thresholds.
	Anomalies []Anomaly
	// Crossovers are evaluated in order after the anomaly detectors.
	Crossovers []Crossover
	// Handlers are custom decision logic, called in order after the crossovers with every
	// window result (including revisions of older windows, which the built-in rules ignore).
	Handlers []Handler
	// CostLimit bounds the CEL cost of one condition evaluation (0 means DefaultCostLimit). An
	// evaluation that exceeds it stops with an error wrapping ErrCostLimit.
	CostLimit uint64
	// IdleTTL is how long (in the time Expire is given, normally the watermark) a key may go
	// without a window result before Expire drops its state. 0 disables expiry.
	IdleTTL time.Duration
	// Reference are the reference tables conditions may read as ref.<table>[key].<column> and
	// Enrich may copy from (nil: none). Decisions record the version of each table their rule
	// reads, and it is part of their ids.
	Reference *reftable.Set
}

// DefaultCostLimit is the CEL cost limit per evaluation when Config.CostLimit is 0. A typical
// condition costs under 20; the limit leaves room for comprehensions over top-k lists while
// stopping runaway nested comprehensions within milliseconds.
const DefaultCostLimit = 1_000_000

// Validate checks the threshold's fields (not its CEL, which Compile checks).
func (t *Threshold) Validate() error {
	switch {
	case t.Name == "":
		return fmt.Errorf("threshold rule: field name: must not be empty")
	case t.Condition == "":
		return fieldErr(t.Name, "condition", "must not be empty")
	case t.ForWindows < 0:
		return fieldErr(t.Name, "for", fmt.Sprintf("must not be negative, got %d windows", t.ForWindows))
	case t.ForDuration < 0:
		return fieldErr(t.Name, "for", fmt.Sprintf("must not be negative, got %s", t.ForDuration))
	case t.ForWindows > 0 && t.ForDuration > 0:
		return fieldErr(t.Name, "for", "set either a number of windows or a duration, not both")
	case t.KeepFiringForWindows < 0:
		return fieldErr(t.Name, "keep_firing_for", fmt.Sprintf("must not be negative, got %d windows", t.KeepFiringForWindows))
	case t.KeepFiringFor < 0:
		return fieldErr(t.Name, "keep_firing_for", fmt.Sprintf("must not be negative, got %s", t.KeepFiringFor))
	case t.KeepFiringForWindows > 0 && t.KeepFiringFor > 0:
		return fieldErr(t.Name, "keep_firing_for", "set either a number of windows or a duration, not both")
	case t.EachWindow:
		for _, f := range []struct {
			set  bool
			name string
		}{{t.Clear != "", "clear"}, {t.ForWindows > 1 || t.ForDuration > 0, "for"},
			{t.KeepFiringForWindows > 0 || t.KeepFiringFor > 0, "keep_firing_for"},
			{t.EmitPending, "emit_pending"}, {t.ResetOnGap, "reset_on_gap"}} {
			if f.set {
				return fieldErr(t.Name, f.name, "each_window judges every window on its own, without a state across windows: drop "+f.name+" or each_window")
			}
		}
	}
	return nil
}

// Validate checks the detector's fields. It does not know the aggregates; Compile checks that
// Aggregate names a numeric one.
func (a *Anomaly) Validate() error {
	switch {
	case a.Name == "":
		return fmt.Errorf("anomaly rule: field name: must not be empty")
	case a.Aggregate == "":
		return fieldErr(a.Name, "aggregate", "must not be empty")
	case math.IsNaN(a.Threshold) || a.Threshold <= 0 || math.IsInf(a.Threshold, 0):
		return fieldErr(a.Name, "threshold", fmt.Sprintf("must be a positive number, got %v", a.Threshold))
	case a.Warmup < 0:
		return fieldErr(a.Name, "warmup", fmt.Sprintf("must not be negative, got %d", a.Warmup))
	}
	switch a.Direction {
	case Both, "both", Above, Below:
	default:
		return fieldErr(a.Name, "direction", fmt.Sprintf("must be above, below or both, got %q", a.Direction))
	}
	switch a.Method {
	case ZScore:
		if a.Window < 2 {
			return fieldErr(a.Name, "window", fmt.Sprintf("zscore needs at least 2 values, got %d", a.Window))
		}
		if a.Warmup > a.Window {
			return fieldErr(a.Name, "warmup", fmt.Sprintf("must not exceed window (%d), got %d", a.Window, a.Warmup))
		}
		if a.Warmup == 1 {
			return fieldErr(a.Name, "warmup", "zscore needs at least 2 values to have a standard deviation")
		}
	case EWMA:
		if !(a.Alpha > 0 && a.Alpha <= 1) {
			return fieldErr(a.Name, "alpha", fmt.Sprintf("must be in (0, 1], got %v", a.Alpha))
		}
	default:
		return fieldErr(a.Name, "method", fmt.Sprintf("must be %q or %q, got %q", ZScore, EWMA, a.Method))
	}
	return nil
}

// Validate checks the crossover's fields. It does not know the aggregates; Compile checks that Of
// names a numeric one.
func (c *Crossover) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("crossover rule: field name: must not be empty")
	case c.Of == "":
		return fieldErr(c.Name, "of", "must not be empty")
	case c.Fast < 1:
		return fieldErr(c.Name, "fast", fmt.Sprintf("must be at least 1 window, got %d", c.Fast))
	case c.Slow <= c.Fast:
		return fieldErr(c.Name, "slow", fmt.Sprintf("must be more than fast (%d), got %d", c.Fast, c.Slow))
	case c.Slow > MaxCrossoverSlow:
		return fieldErr(c.Name, "slow", fmt.Sprintf("must be at most %d windows, got %d", MaxCrossoverSlow, c.Slow))
	case !(c.MinSpread >= 0 && c.MinSpread < 1):
		return fieldErr(c.Name, "min_spread", fmt.Sprintf("must be in [0, 1), got %v", c.MinSpread))
	}
	switch c.Average {
	case "", SMA, EMA:
	default:
		return fieldErr(c.Name, "average", fmt.Sprintf("must be %q or %q, got %q", SMA, EMA, c.Average))
	}
	return nil
}

// warmup is the effective warm-up.
func (a *Anomaly) warmup() int {
	if a.Warmup > 0 {
		return a.Warmup
	}
	if a.Method == ZScore {
		return a.Window
	}
	return max(2, int(math.Ceil(1/a.Alpha)))
}

// Validate checks the whole configuration, including compiling every condition.
func (c *Config) Validate() error {
	_, err := Compile(*c)
	return err
}

func fieldErr(rule, field, reason string) error {
	return fmt.Errorf("rule %q: field %s: %s", rule, field, reason)
}
