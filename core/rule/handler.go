package rule

import (
	"context"

	"github.com/eddyhq/eddy/core"
)

// Emit receives a decision. The decision is the receiver's to keep.
type Emit func(d *core.Decision)

// Handler is decision logic over window results, like net/http's Handler: it looks at one window
// result and emits zero or more decisions. The result belongs to the caller and may be reused after
// Decide returns; Clone it to keep it. Use NewDecision to build decisions with deterministic ids.
//
// An Engine is a Handler, so rule sets compose with custom logic in either direction.
type Handler interface {
	Decide(ctx context.Context, r *core.WindowResult, emit Emit) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, r *core.WindowResult, emit Emit) error

// Decide implements Handler.
func (f HandlerFunc) Decide(ctx context.Context, r *core.WindowResult, emit Emit) error {
	return f(ctx, r, emit)
}

// NewDecision builds a decision about window result r: its id comes from core.DecisionID with the
// state as the transition and the result's revision as the sequence, so a replay yields the same
// id; Time is the window end and Values a copy of the window's values.
func NewDecision(r *core.WindowResult, rule string, state core.State, severity string) *core.Decision {
	return newDecision(r.Function, rule, r.Key, core.Span{Start: r.Start, End: r.End}, state, string(state),
		r.Revision, severity, r.Values, 0)
}

// newDecision builds a decision whose values are a copy of vals with room for extra more.
func newDecision(function, rule, key string, w core.Span, state core.State, transition string, seq int,
	severity string, vals []core.NamedValue, extra int) *core.Decision {
	return &core.Decision{
		ID:       core.DecisionID(function, rule, key, w, transition, seq),
		Function: function,
		Rule:     rule,
		Key:      key,
		State:    state,
		Severity: severity,
		Time:     w.End,
		Window:   w,
		Values:   appendValues(make([]core.NamedValue, 0, len(vals)+extra), vals),
	}
}

// appendValues appends deep copies of vs to dst.
func appendValues(dst []core.NamedValue, vs []core.NamedValue) []core.NamedValue {
	for _, v := range vs {
		if v.Items != nil {
			v.Items = append([]core.Item(nil), v.Items...)
		}
		dst = append(dst, v)
	}
	return dst
}
