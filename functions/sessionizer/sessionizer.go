// Package sessionizer is a ready-made decision function for clickstreams: it groups each user's
// events into sessions (a session ends after Gap without events, or MaxDuration after it began),
// writes one summary per session — its start and end, the number of events and, with Page, the
// number of distinct pages — and decides whether the user's sessions are long or engaged.
//
// Use it for web and app analytics (session counts and lengths in real time), for engagement
// triggers (reach out to users whose sessions grow long), or as the first stage of fraud and bot
// detection (sessions with implausibly many pages).
//
// # Summaries
//
// Every session is a window result: window.start is the time of its first event, window.end the
// time of its last event plus Gap (when the session was known to be over), so the session's active
// span is end − start − Gap. Its values are events (the count) and, with Page, pages (distinct
// pages, a HyperLogLog estimate, exact for small counts). Out-of-order events up to OutOfOrder are
// placed in their session; an event that falls between two sessions merges them, as session
// windows do.
//
// # Decisions
//
// Two rules, evaluated once per session:
//
//   - long-session: the session's active span is at least LongAfter.
//   - engaged-session (with Page only): the session visited at least EngagedPages distinct pages.
//
// Every session is judged on its own (each_window): each qualifying session gets one "firing"
// decision — a user's second long session in a row is reported like the first — and a session
// that does not qualify gets none, since sessions are separate visits, not the ups and downs of
// one alarm. A session's summary is final when emitted (events later than OutOfOrder are reported
// as late, not merged), so there are no "resolved" decisions. Decision ids are deterministic per
// function, rule, user and session: a redelivered batch repeats the same ids.
//
// Use it from Go (New returns a eddy.Function to build or deploy) or copy eddy.yaml beside this
// file, which is the same function as a spec with the defaults filled in.
package sessionizer

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/eddyhq/eddy"
)

// Defaults of Config.
const (
	DefaultName         = "sessions"
	DefaultGap          = 30 * time.Minute
	DefaultMaxDuration  = 12 * time.Hour
	DefaultOutOfOrder   = 10 * time.Second
	DefaultLongAfter    = 20 * time.Minute
	DefaultEngagedPages = 5
	DefaultStateTTL     = 24 * time.Hour
	DefaultSeverity     = "info"
)

// Names of the rules and of the values of a session summary.
const (
	RuleLong    = "long-session"    // the session's active span reached LongAfter
	RuleEngaged = "engaged-session" // the session visited EngagedPages distinct pages
	ValueEvents = "events"          // events in the session
	ValuePages  = "pages"           // distinct pages of the session (with Page)
)

// Config describes the sessions and the rules. Zero values take the defaults noted.
type Config struct {
	// Name is the function's name (default "sessions").
	Name string
	// Key is the field path of the user (or device, or visitor) id (required).
	Key string
	// Time is the field path of the event time (required), written as TimeFormat (default auto).
	Time       string
	TimeFormat string
	// Page is the field path of the page or screen; empty leaves out the pages value and the
	// engaged-session rule.
	Page string
	// Gap is the inactivity that ends a session (default 30m).
	Gap time.Duration
	// MaxDuration caps a session from its first event; a later event starts a new session
	// (default 12h, at least Gap).
	MaxDuration time.Duration
	// OutOfOrder is the allowed out-of-orderness of the input (default 10s).
	OutOfOrder time.Duration
	// LongAfter is the active span (first to last event) from which a session is long (default
	// 20m).
	LongAfter time.Duration
	// EngagedPages is the number of distinct pages from which a session is engaged (default 5).
	EngagedPages int
	// StateTTL forgets a user's rule state (the verdicts on the latest session, kept so that a
	// revision can be compared with them) after this much event time without a session (default
	// 24h). It bounds the state of a stream of ever-new users.
	StateTTL time.Duration
	// Severity labels the decisions (default "info").
	Severity string
}

// celDuration writes d as a CEL duration literal, which reads Go's notation ("1h30m0s").
func celDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return fmt.Sprintf("duration(%q)", s)
}

// New returns the sessionizer as a function spec, validated.
func New(c Config) (*eddy.Function, error) {
	if c.Key == "" || c.Time == "" {
		return nil, fmt.Errorf("sessionizer: Key and Time are required")
	}
	c.Name = cmp.Or(c.Name, DefaultName)
	c.Gap = cmp.Or(c.Gap, DefaultGap)
	c.MaxDuration = cmp.Or(c.MaxDuration, DefaultMaxDuration)
	c.OutOfOrder = cmp.Or(c.OutOfOrder, DefaultOutOfOrder)
	c.LongAfter = cmp.Or(c.LongAfter, DefaultLongAfter)
	c.EngagedPages = cmp.Or(c.EngagedPages, DefaultEngagedPages)
	c.StateTTL = cmp.Or(c.StateTTL, DefaultStateTTL)
	c.Severity = cmp.Or(c.Severity, DefaultSeverity)
	switch {
	case c.Gap < 0 || c.LongAfter < 0 || c.StateTTL < 0:
		return nil, fmt.Errorf("sessionizer: Gap %s, LongAfter %s and StateTTL %s must be positive", c.Gap, c.LongAfter, c.StateTTL)
	case c.MaxDuration < c.Gap:
		return nil, fmt.Errorf("sessionizer: MaxDuration %s is shorter than Gap %s", c.MaxDuration, c.Gap)
	case c.LongAfter >= c.MaxDuration:
		return nil, fmt.Errorf("sessionizer: LongAfter %s is not shorter than MaxDuration %s: no session could be long", c.LongAfter, c.MaxDuration)
	case c.EngagedPages < 0:
		return nil, fmt.Errorf("sessionizer: EngagedPages %d must not be negative", c.EngagedPages)
	}
	desc := fmt.Sprintf("sessions of %s (gap %s, at most %s); long from %s", c.Key,
		eddy.FormatDuration(c.Gap), eddy.FormatDuration(c.MaxDuration), eddy.FormatDuration(c.LongAfter))
	f := &eddy.Function{
		Name:   c.Name,
		Input:  eddy.Input{Format: "json", Key: c.Key, Time: c.Time, TimeFormat: c.TimeFormat, OutOfOrder: c.OutOfOrder},
		Window: eddy.Window{Session: &eddy.Session{Gap: c.Gap, MaxDuration: c.MaxDuration}},
		Aggregates: []eddy.Aggregate{
			{Name: ValueEvents, Op: eddy.Count},
		},
		Rules: []eddy.Rule{{
			Name: RuleLong,
			// The window ends a gap after the session's last event.
			When:       fmt.Sprintf("window.end - window.start - %s >= %s", celDuration(c.Gap), celDuration(c.LongAfter)),
			Severity:   c.Severity,
			EachWindow: true,
		}},
		Limits: eddy.Limits{IdleTTL: c.StateTTL},
	}
	if c.Page != "" {
		desc += fmt.Sprintf(", engaged from %d distinct %s values", c.EngagedPages, c.Page)
		f.Aggregates = append(f.Aggregates, eddy.Aggregate{Name: ValuePages, Op: eddy.Distinct, Field: c.Page})
		f.Rules = append(f.Rules, eddy.Rule{
			Name:       RuleEngaged,
			When:       fmt.Sprintf("%s >= %d", ValuePages, c.EngagedPages),
			Severity:   c.Severity,
			EachWindow: true,
		})
	}
	f.Description = desc
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}
