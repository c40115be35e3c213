package core

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Span is a time interval [Start, End).
type Span struct {
	Start time.Time
	End   time.Time
}

// State is a decision's transition. Its JSON is the plain string.
type State string

// Decision states.
const (
	// StatePending: a rule's condition holds and it waits out its For (with EmitPending).
	StatePending State = "pending"
	// StateFiring: a rule's alarm starts (or, with each_window, a window satisfies it).
	StateFiring State = "firing"
	// StateResolved: a rule's alarm (or pending wait) ends.
	StateResolved State = "resolved"
	// StateMatched: a pattern's steps matched.
	StateMatched State = "matched"
	// StateAbsent: a pattern's absence step saw no event in its time.
	StateAbsent State = "absent"
	// StateAnomaly: an anomaly detector flagged a window.
	StateAnomaly State = "anomaly"
	// StateGolden: a crossover's fast average crossed above the slow one.
	StateGolden State = "golden"
	// StateDeath: a crossover's fast average crossed below the slow one.
	StateDeath State = "death"
)

// Transition reports whether s is one of a rule's alarm states (pending, firing, resolved), the
// states firing views keep.
func (s State) Transition() bool {
	return s == StatePending || s == StateFiring || s == StateResolved
}

// Decision is what a rule or a pattern concluded for a key: an alarm firing or resolving, an anomaly,
// a detected pattern.
type Decision struct {
	// ID is deterministic (see DecisionID), so a replay yields the same ids and sinks can drop
	// duplicates.
	ID       string
	Function string
	Rule     string
	Key      string
	// State is the transition: pending, firing, resolved for rules, matched (or absent) for
	// patterns, anomaly for anomaly detectors, golden or death for crossovers.
	State    State
	Severity string
	// Time is the event time the decision refers to (the window end, the last matched event).
	Time time.Time
	// Window is the window or the matched span the decision refers to.
	Window Span
	Values []NamedValue
	// Ref lists the versions of the reference tables the decision was made with, sorted by table;
	// they are part of ID, so a replay with the same tables gives the same ids.
	Ref []TableVersion
}

// TableVersion is the version of one reference table a decision used.
type TableVersion struct {
	Table   string
	Version string
}

// Type implements Output.
func (*Decision) Type() string { return "decision" }

// AppendJSON implements Output.
func (d *Decision) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"decision","id":`...)
	b = AppendString(b, d.ID)
	b = append(b, `,"function":`...)
	b = AppendString(b, d.Function)
	b = append(b, `,"rule":`...)
	b = AppendString(b, d.Rule)
	b = append(b, `,"key":`...)
	b = AppendString(b, d.Key)
	b = append(b, `,"state":`...)
	b = AppendString(b, string(d.State))
	if d.Severity != "" {
		// No severity is no member, not an empty one that consumers would have to treat as none.
		b = append(b, `,"severity":`...)
		b = AppendString(b, d.Severity)
	}
	b = append(b, `,"time":`...)
	b = AppendTime(b, d.Time)
	b = append(b, `,"window":{"start":`...)
	b = AppendTime(b, d.Window.Start)
	b = append(b, `,"end":`...)
	b = AppendTime(b, d.Window.End)
	b = append(b, `},"values":`...)
	b = AppendValues(b, d.Values)
	if len(d.Ref) > 0 {
		b = append(b, `,"ref":{`...)
		for i, r := range d.Ref {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, r.Table)
			b = append(b, ':')
			b = AppendString(b, r.Version)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// DecisionID derives a decision's id from what identifies it: the function, the rule, the key, the
// window and the transition (state plus a sequence such as a revision). Equal inputs give equal ids
// on every run and every cloud.
func DecisionID(function, rule, key string, window Span, transition string, seq int) string {
	return DecisionIDRef(function, rule, key, window, transition, seq, nil)
}

// DecisionIDRef is DecisionID for a decision made with reference tables: their versions are part
// of the id. Without tables it equals DecisionID.
func DecisionIDRef(function, rule, key string, window Span, transition string, seq int, ref []TableVersion) string {
	sum := decisionSum(function, rule, key, window, transition, seq, ref)
	var out [32]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// appendID appends an id as a JSON string: the hex of sum, which needs no escaping.
func appendID(b []byte, sum [16]byte) []byte {
	b = append(b, '"')
	b = appendHex16(b, &sum)
	return append(b, '"')
}

// decisionSum is the hash DecisionIDRef writes in hex.
func decisionSum(function, rule, key string, window Span, transition string, seq int, ref []TableVersion) [16]byte {
	// One buffer hashed at once: the same bytes as writing each part to a hash.Hash, fewer calls.
	var stack [192]byte
	b := stack[:0]
	for _, s := range [3]string{function, rule, key} {
		b = appendInt(b, int64(len(s)))
		b = append(b, ':')
		b = append(b, s...)
	}
	b = appendInt(b, window.Start.UnixNano())
	b = append(b, '/')
	b = appendInt(b, window.End.UnixNano())
	b = append(b, '/')
	b = append(b, transition...)
	b = append(b, '/')
	b = appendInt(b, int64(seq))
	for _, r := range ref {
		b = append(b, '|')
		for _, s := range [2]string{r.Table, r.Version} {
			b = strconv.AppendInt(b, int64(len(s)), 10)
			b = append(b, ':')
			b = append(b, s...)
		}
	}
	sum := sha256.Sum256(b)
	return [16]byte(sum[:16])
}
