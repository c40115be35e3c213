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

// Decision is what a rule or a pattern concluded for a key: an alarm firing or resolving, an anomaly,
// a detected pattern.
type Decision struct {
	// ID is deterministic (see DecisionID), so a replay yields the same ids and sinks can drop
	// duplicates.
	ID       string
	Function string
	Rule     string
	Key      string
	// State is the transition: "pending", "firing", "resolved" for rules, "matched" (or "absent")
	// for patterns, "anomaly" for anomaly detectors, "golden" or "death" for crossovers.
	State    string
	Severity string
	// Time is the event time the decision refers to (the window end, the last matched event).
	Time time.Time
	// Window is the window or the matched span the decision refers to.
	Window Span
	Values []NamedValue
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
	b = AppendString(b, d.State)
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
	return append(b, '}')
}

// DecisionID derives a decision's id from what identifies it: the function, the rule, the key, the
// window and the transition (state plus a sequence such as a revision). Equal inputs give equal ids
// on every run and every cloud.
func DecisionID(function, rule, key string, window Span, transition string, seq int) string {
	h := sha256.New()
	var buf [20]byte
	for _, s := range []string{function, rule, key} {
		h.Write(strconv.AppendInt(buf[:0], int64(len(s)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	h.Write(strconv.AppendInt(buf[:0], window.Start.UnixNano(), 10))
	h.Write([]byte{'/'})
	h.Write(strconv.AppendInt(buf[:0], window.End.UnixNano(), 10))
	h.Write([]byte{'/'})
	h.Write([]byte(transition))
	h.Write([]byte{'/'})
	h.Write(strconv.AppendInt(buf[:0], int64(seq), 10))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}
