// Package pattern is a ready-made decision function for temporal patterns: it decides, per key,
// when the key's events form a given sequence in event time — steps that are CEL predicates over
// one event each, possibly repeated, within a time bound — such as N failed logins followed by a
// successful one within 5 minutes (a brute-force attack that succeeded), or a checkout not
// followed by a payment within 10 minutes.
//
// Use New for any sequence (a Config of steps, with contiguity and a skip strategy), or BruteForce
// for the brute-force login detector. Both return a eddy.Function built on the engine's pattern
// matcher (core/pattern): events are matched in event-time order once the watermark has passed
// them, so out-of-order events up to OutOfOrder are matched where they belong; later ones go to
// the late output. Each match emits one decision with state "matched" (or "absent" for a pattern
// ending in an absent step), whose window is the span from the first to the last matched event
// and whose values are count (events matched) and, per step, <step>.count and the captured
// numeric fields. Decision ids are derived from the matched events, so a replay gives the same
// ids.
//
// Use it from Go or copy eddy.yaml beside this file, which is BruteForce with the defaults filled
// in.
package pattern

import (
	"cmp"
	"fmt"
	"time"

	"github.com/eddyhq/eddy"
)

// Defaults of Config and BruteForceConfig.
const (
	DefaultName        = "pattern"
	DefaultOutOfOrder  = 5 * time.Second
	DefaultMaxPartials = eddy.DefaultMaxPartials

	DefaultBruteForceName = "brute-force"
	DefaultFailure        = `outcome == "failure"`
	DefaultSuccess        = `outcome == "success"`
	DefaultFailures       = 5
	DefaultWithin         = 5 * time.Minute
)

// Names of the brute-force pattern's steps; decision values are prefixed with them
// (failed.count, success.count).
const (
	StepFailed  = "failed"
	StepSuccess = "success"
)

// Config describes a pattern function. Zero values take the defaults noted.
type Config struct {
	// Name is the function's name (default "pattern").
	Name string
	// Rule names the pattern in decisions (default: Name).
	Rule string
	// Key is the field path of the key the pattern is matched per, e.g. "user" (required).
	Key string
	// Time is the field path of the event time (required), written as TimeFormat (default auto).
	Time       string
	TimeFormat string
	// OutOfOrder is the allowed out-of-orderness of the input (default 5s): events are matched
	// once the watermark (newest event time minus OutOfOrder) passes them.
	OutOfOrder time.Duration
	// Steps are the pattern's steps in order (required): each a name, a CEL predicate (where),
	// a repetition (times, min_times/max_times or one_or_more) and optionally its own contiguity;
	// the last may be absent, with its own within. See eddy.Step.
	Steps []eddy.Step
	// Within bounds a match: its last event is at most this long after its first. Zero: unbounded.
	Within time.Duration
	// Contiguity is the default contiguity of the steps (default eddy.Relaxed: events that
	// match no step may come in between; eddy.Strict: the key's next event must match).
	Contiguity eddy.Contiguity
	// Skip is where matching resumes after a match (default eddy.SkipPastLastEvent: after the
	// match; eddy.SkipToNext: each event starts at most one match; eddy.NoSkip: every
	// match, overlapping ones included).
	Skip eddy.Skip
	// Capture lists the numeric fields each decision reports per step. Empty: the fields the
	// predicates read.
	Capture []string
	// MaxPartials bounds the partial matches held per key (default 1000); the oldest are dropped
	// beyond it.
	MaxPartials int
	// KeyTTL drops the partial matches of a key with no events for this long in event time, on a
	// tick. Zero: partial matches live until Within ends them.
	KeyTTL time.Duration
}

// New returns the pattern function as a spec, validated (including the CEL of every step).
func New(c Config) (*eddy.Function, error) {
	if c.Key == "" || c.Time == "" {
		return nil, fmt.Errorf("pattern: Key and Time are required")
	}
	if len(c.Steps) == 0 {
		return nil, fmt.Errorf("pattern: no Steps")
	}
	c.Name = cmp.Or(c.Name, DefaultName)
	c.Rule = cmp.Or(c.Rule, c.Name)
	c.OutOfOrder = cmp.Or(c.OutOfOrder, DefaultOutOfOrder)
	c.Contiguity = cmp.Or(c.Contiguity, eddy.Relaxed)
	c.Skip = cmp.Or(c.Skip, eddy.SkipPastLastEvent)
	c.MaxPartials = cmp.Or(c.MaxPartials, DefaultMaxPartials)
	f := &eddy.Function{
		Name:        c.Name,
		Description: describe(c),
		Input:       eddy.Input{Format: "json", Key: c.Key, Time: c.Time, TimeFormat: c.TimeFormat, OutOfOrder: c.OutOfOrder},
		Patterns: []eddy.Pattern{{
			Name: c.Rule, Steps: append([]eddy.Step(nil), c.Steps...), Within: c.Within,
			Contiguity: c.Contiguity, Skip: c.Skip, MaxPartials: c.MaxPartials, KeyTTL: c.KeyTTL,
		}},
	}
	if len(c.Capture) > 0 {
		f.Patterns[0].Capture = append([]string(nil), c.Capture...)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// describe says in words what the pattern matches, e.g. "failed x5 then success within 5m per
// user".
func describe(c Config) string {
	s := ""
	for i, st := range c.Steps {
		if i > 0 {
			s += " then "
		}
		if st.Absent {
			s += "no " + st.Name + " within " + eddy.FormatDuration(st.Within)
			continue
		}
		s += st.Name
		switch {
		case st.OneOrMore:
			s += " x1+"
		case st.MinTimes > 0 && st.MaxTimes > 0:
			s += fmt.Sprintf(" x%d-%d", st.MinTimes, st.MaxTimes)
		case st.MinTimes > 0:
			s += fmt.Sprintf(" x%d+", st.MinTimes)
		case st.Times > 1:
			s += fmt.Sprintf(" x%d", st.Times)
		}
	}
	if c.Within > 0 {
		s += " within " + eddy.FormatDuration(c.Within)
	}
	return s + " per " + c.Key
}

// BruteForceConfig describes the brute-force login detector: Failures failed logins of a key
// followed by a successful one, all within Within. Zero values take the defaults noted.
type BruteForceConfig struct {
	// Name is the function's and the pattern's name (default "brute-force").
	Name string
	// Key is the field path of what is attacked, e.g. "user", or of the attacker, e.g. "ip"
	// (required).
	Key string
	// Time is the field path of the event time (required), written as TimeFormat (default auto).
	Time       string
	TimeFormat string
	// OutOfOrder is the allowed out-of-orderness of the input (default 5s).
	OutOfOrder time.Duration
	// Failure is the CEL predicate of a failed login (default `outcome == "failure"`).
	Failure string
	// Success is the CEL predicate of a successful login (default `outcome == "success"`).
	Success string
	// Failures is how many failed logins precede the success (default 5). Other events in
	// between, successes included, do not break the run (relaxed contiguity).
	Failures int
	// Within bounds the span from the first failure to the success (default 5m).
	Within time.Duration
	// Skip is where matching resumes after a match (default eddy.SkipPastLastEvent: one
	// decision per attack, not one per overlapping run of failures).
	Skip eddy.Skip
	// Capture lists numeric fields to report from the first and last failure and the success.
	Capture []string
}

// BruteForce returns the brute-force detector as a function spec, validated: it decides "matched"
// for a key when Failures failed logins are followed by a successful login within Within. The
// decision's window runs from the first of those failures to the success.
func BruteForce(c BruteForceConfig) (*eddy.Function, error) {
	c.Name = cmp.Or(c.Name, DefaultBruteForceName)
	c.Failure = cmp.Or(c.Failure, DefaultFailure)
	c.Success = cmp.Or(c.Success, DefaultSuccess)
	c.Failures = cmp.Or(c.Failures, DefaultFailures)
	c.Within = cmp.Or(c.Within, DefaultWithin)
	if c.Failures < 1 {
		return nil, fmt.Errorf("pattern: brute force: Failures %d must be at least 1", c.Failures)
	}
	if c.Within < 0 {
		return nil, fmt.Errorf("pattern: brute force: Within %s must be positive", c.Within)
	}
	return New(Config{
		Name: c.Name, Key: c.Key, Time: c.Time, TimeFormat: c.TimeFormat, OutOfOrder: c.OutOfOrder,
		Steps: []eddy.Step{
			{Name: StepFailed, Where: c.Failure, Times: c.Failures},
			{Name: StepSuccess, Where: c.Success},
		},
		Within: c.Within, Skip: c.Skip, Capture: c.Capture,
	})
}
