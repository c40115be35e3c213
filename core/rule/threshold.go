package rule

import (
	"encoding/json"

	"github.com/eddyhq/eddy/core"
)

// phase is a threshold machine's state for one key. Resolved is not a phase: resolving emits a
// decision and returns the machine to inactive.
type phase uint8

const (
	inactive phase = iota
	pending
	firing
)

// thState is one threshold's state for one key.
type thState struct {
	phase phase
	// n counts the consecutive windows the fire condition held (pending and firing), since is the
	// start of the first of them (unix ns).
	n     int32
	since int64
	// cn counts the consecutive windows the resolve signal held while firing, csince is the start
	// of the first of them.
	cn     int32
	csince int64
}

// thPair is a threshold's state for one key before and after the key's latest window, so that a
// revision of that window can be re-evaluated from where the machine was.
type thPair struct {
	before, cur thState
}

// threshold is a compiled Threshold.
type threshold struct {
	Threshold
	fire, clear *condition
	// tables index the Set's reference tables the rule reads, in name order; enrich are the
	// fields its decisions copy from them.
	tables []int
	enrich []enrichField
}

// enrichField is one compiled Threshold.Enrich entry.
type enrichField struct {
	name   string // table.column, the value's name
	table  int    // index in the Set's tables
	column string
}

// step advances s over the window in act. prevEnd is the end of the key's previous window (unix
// ns), 0 if none.
func (t *threshold) step(s thState, act *activation, prevEnd int64, costLimit uint64) (thState, error) {
	r := act.r
	if t.EachWindow {
		fire, err := t.fire.eval(act, costLimit)
		if err != nil || !fire {
			return thState{}, err
		}
		return thState{phase: firing}, nil
	}
	start, end := r.Start.UnixNano(), r.End.UnixNano()
	if s.phase == pending && t.ResetOnGap && prevEnd != 0 && start > prevEnd {
		s = thState{}
	}
	if s.phase != firing {
		fire, err := t.fire.eval(act, costLimit)
		if err != nil {
			return s, err
		}
		if !fire {
			return thState{}, nil
		}
		if s.phase == inactive {
			s.n, s.since = 0, start
		}
		s.n++
		s.phase = pending
		if t.forMet(s, end) {
			s.phase = firing
			s.cn, s.csince = 0, 0
		}
		return s, nil
	}
	// Firing: only the resolve signal matters, which is Clear if set (and then Condition is not
	// evaluated at all).
	var resolve bool
	var err error
	if t.clear != nil {
		resolve, err = t.clear.eval(act, costLimit)
	} else {
		resolve, err = t.fire.eval(act, costLimit)
		resolve = !resolve
	}
	if err != nil {
		return s, err
	}
	if !resolve {
		s.cn, s.csince = 0, 0
		return s, nil
	}
	if s.cn == 0 {
		s.csince = start
	}
	s.cn++
	if t.keepOver(s, end) {
		return thState{}, nil
	}
	return s, nil
}

// forMet says whether the fire condition has held long enough.
func (t *threshold) forMet(s thState, end int64) bool {
	if t.ForDuration > 0 {
		return end-s.since >= int64(t.ForDuration)
	}
	return int(s.n) >= t.ForWindows
}

// keepOver says whether the resolve signal has held past keep_firing_for.
func (t *threshold) keepOver(s thState, end int64) bool {
	if t.KeepFiringFor > 0 {
		return end-s.csince > int64(t.KeepFiringFor)
	}
	return int(s.cn) > t.KeepFiringForWindows
}

// view is the phase the outside world is told about: pending is invisible unless emitted.
func (t *threshold) view(p phase) phase {
	if p == pending && !t.EmitPending {
		return inactive
	}
	return p
}

// transitions calls f with the states to emit to bring the outside world from phase a to phase b.
func transitions(a, b phase, f func(state core.State)) {
	switch {
	case a == b:
	case a == firing:
		f(core.StateResolved)
		if b == pending {
			f(core.StatePending)
		}
	case b == firing:
		f(core.StateFiring)
	case b == pending:
		f(core.StatePending)
	default: // pending → inactive
		f(core.StateResolved)
	}
}

// emit emits the decisions of a change from phase a to phase b caused by window result r.
func (t *threshold) emit(r *core.WindowResult, a, b phase, act *activation, emit Emit) {
	transitions(t.view(a), t.view(b), func(state core.State) {
		w := core.Span{Start: r.Start, End: r.End}
		d := newDecision(r.Function, t.Name, r.Key, w, state, string(state), r.Revision, t.Severity, r.Values, len(t.enrich))
		if len(t.tables) > 0 {
			d.Ref = make([]core.TableVersion, len(t.tables))
			for i, ti := range t.tables {
				p := &act.tables[ti]
				d.Ref[i] = core.TableVersion{Table: p.cur.Name(), Version: p.cur.Version()}
			}
			d.ID = core.DecisionIDRef(r.Function, t.Name, r.Key, w, string(state), r.Revision, d.Ref)
		}
		for _, f := range t.enrich {
			row, _ := act.tables[f.table].cur.Lookup(r.Key)
			if v, ok := row.Get(f.column); ok {
				d.Values = append(d.Values, enrichValue(f.name, v))
			}
		}
		emit(d)
	})
}

// enrichValue is a reference-table value as a decision value: numbers as numbers, the rest as
// JSON.
func enrichValue(name string, v any) core.NamedValue {
	if f, ok := v.(float64); ok {
		return core.NamedValue{Name: name, Num: f}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		raw = []byte("null")
	}
	return core.NamedValue{Name: name, Raw: raw}
}
