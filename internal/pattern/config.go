// Package pattern detects temporal patterns (complex event processing) per key in event time:
// sequences of steps, each a predicate over an event, with repetition, strict or relaxed contiguity,
// a time bound (within), absence ("A not followed by B within 30s") and a skip strategy after a match.
//
// A Config (built by the spec, or by hand) compiles against the pipeline's field table into a
// Pattern; a Pattern makes one Matcher per partition. The pipeline hands each decoded event to
// Matcher.Add and advances the partition watermark with Matcher.Advance; matches come back as
// core.Decision values. Matchers snapshot to compact bytes (AppendBinary / UnmarshalBinary) so their
// state lives in a state store between invocations.
//
// # Time and order
//
// A watermark W promises that no event with time < W will arrive any more. Events are buffered per
// key and released to the matcher once W passes them (time < W), in (time, arrival) order, so ties
// in event time are broken by arrival order. An event with time < W when it arrives is late: Add
// returns it as a core.Late for the late output and the matcher never sees it. An event whose time
// equals W is not late. An absence deadline D fires once W > D, that is once every event with
// time <= D has been seen; an event exactly at the deadline still counts as "within".
//
// Within one Advance, events and absence deadlines are handled in one merged time order (an event at
// time t before a deadline equal to t), so the decisions and their order depend only on the events,
// their arrival order and the watermarks, never on how the work was split into calls or snapshots.
//
// # Predicates
//
// A step's Where is a CEL expression that must yield a bool. It sees:
//
//   - every top-level payload field as a variable: value > 90.0, device.temp > 40 (a dotted path
//     reads a nested field), status == "failed";
//   - event.<path>, the same payload fields, for fields whose name is shadowed by a step name or by
//     key or time;
//   - key (string), the event key, and time (timestamp), the event time;
//   - the name of every earlier step: the payload of the last event that step matched, as in
//     b: country != a.country.
//
// A predicate that fails to evaluate (a missing field, a type mismatch such as a string compared
// with a number, the cost limit) counts as false, and Stats.EvalErrors counts it. Predicates of the
// form <field> <op> <constant>, and conjunctions (&&) of them, run as native Go code instead of
// through the CEL interpreter, with the same results.
package pattern

import (
	"time"

	"github.com/eddyhq/eddy/core/reftable"
)

// Contiguity says what may happen between two events of a match.
type Contiguity string

// Contiguity values.
const (
	// Relaxed skips events that match no step in between (Flink's followedBy, skip-till-next-match).
	// It is the default.
	Relaxed Contiguity = "relaxed"
	// Strict requires the next event of the key to match the next step (Flink's next); any other
	// event ends the partial match.
	Strict Contiguity = "strict"
)

// Skip is the strategy that decides where matching resumes after a match.
type Skip string

// Skip strategies.
const (
	// SkipPastLastEvent drops every partial match that started at or before the last event of the
	// emitted match: matching restarts after it. It is the default.
	SkipPastLastEvent Skip = "past_last_event"
	// SkipToNext drops the partial matches that started with the same event as the emitted match,
	// so each event starts at most one match.
	SkipToNext Skip = "skip_to_next"
	// NoSkip emits every match: overlapping matches included.
	NoSkip Skip = "no_skip"
)

// Defaults for the bounds of Config.
const (
	DefaultMaxPartials = 1000
	DefaultMaxBuffered = 1 << 20
	DefaultCostLimit   = 100_000
)

// Config defines one pattern. The zero values of the optional fields select the documented defaults.
type Config struct {
	// Name identifies the pattern; it is the Rule of every decision. Required.
	Name string
	// Function is the name of the function the pattern belongs to; it is the Function of every
	// decision and part of every decision id.
	Function string
	// Severity is copied into every decision (critical, warning...); it is not part of the
	// decision id. Empty by default.
	Severity string
	// Reference are the reference tables step predicates may read as ref.<table>[key].<column>
	// (nil: none). Decisions record the versions of the tables the pattern reads, current when
	// they are emitted, in their ids.
	Reference *reftable.Set
	// Steps in order; at least one positive step. Only the last step may be Absent.
	Steps []Step
	// Within bounds a match: its last event is at most Within after its first (inclusive). For an
	// absence pattern it bounds the positive steps; the absence window is the absent step's Within.
	// Zero means unbounded.
	Within time.Duration
	// Contiguity is the default for steps that do not set their own: Relaxed when empty.
	Contiguity Contiguity
	// Skip is the strategy after a match: SkipPastLastEvent when empty.
	Skip Skip
	// Capture lists payload fields whose numeric values each decision reports per step (see
	// Decision values in Matcher). Empty means the fields the predicates reference.
	Capture []string
	// MaxPartials bounds the partial matches held per key (DefaultMaxPartials when zero). On
	// overflow the oldest are dropped and Stats.DroppedPartials counts them.
	MaxPartials int
	// MaxBuffered bounds the events waiting for the watermark across all keys of a matcher
	// (DefaultMaxBuffered when zero); Add returns an error beyond it.
	MaxBuffered int
	// KeyTTL expires idle keys in event time: on Tick, a key whose newest event is older than the
	// watermark minus KeyTTL loses its partial matches (counted in Stats.ExpiredPartials). Zero
	// keeps partial matches until Within ends them; keys holding nothing are always dropped.
	KeyTTL time.Duration
	// IdleLag lets processing time stand in for a quiet stream: when positive, Tick(now) advances
	// the watermark to now-IdleLag if that is later, firing the absence deadlines it passes. Set it
	// to the largest delay between an event's time and its arrival. Zero disables it.
	IdleLag time.Duration
	// CostLimit bounds the CEL cost of one predicate evaluation (DefaultCostLimit when zero).
	CostLimit uint64
}

// Step is one step of a pattern: a predicate an event must satisfy, possibly repeated.
type Step struct {
	// Name is a CEL identifier; later steps read the last event this step matched as Name.<field>,
	// and decision values are prefixed with it. Required, unique, and none of key, time, event.
	Name string
	// Where is the CEL predicate (see the package documentation). Empty matches every event.
	Where string
	// Times is the exact number of events this step matches (1 when Times, MinTimes and
	// OneOrMore are all unset).
	Times int
	// MinTimes and MaxTimes give a range instead of Times; MaxTimes zero means unbounded.
	MinTimes int
	MaxTimes int
	// OneOrMore is MinTimes 1 with no upper bound.
	OneOrMore bool
	// Contiguity overrides Config.Contiguity for the events of this step.
	Contiguity Contiguity
	// Absent makes this the absence step: the match fires (with state "absent") when no event
	// satisfying Where arrives within Within after the previous step's last event. Only the last
	// step may be absent, and it is always relaxed: events not satisfying Where are ignored.
	Absent bool
	// Within is the absence window of an Absent step (required there, not allowed elsewhere).
	Within time.Duration
}
