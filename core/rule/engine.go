package rule

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/common/types/ref"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/reftable"
)

// Set is a compiled Config: immutable and safe for concurrent use. Each partition gets its own
// Engine from NewEngine.
type Set struct {
	aggs       []Aggregate
	aggIndex   map[string]int
	thresholds []*threshold
	anomalies  []*anomaly
	crossovers []*crossover
	handlers   []Handler
	costLimit  uint64
	idleTTL    time.Duration
	// needPrev is set when a condition reads prev or first, so engines keep the previous window's
	// values per key.
	needPrev bool
	// ref are the reference tables, refNames their names (sorted), as the activation pins them.
	ref      *reftable.Set
	refNames []string
	// lookups are the conditions' ref.<table>[key].<column> variables.
	lookups []lookupPin
}

// Compile validates cfg and compiles its conditions. Errors name the rule and the field, and for
// CEL errors the position in the expression.
func Compile(cfg Config) (*Set, error) {
	s := &Set{
		aggs:      slices.Clone(cfg.Aggregates),
		aggIndex:  make(map[string]int, len(cfg.Aggregates)),
		handlers:  slices.Clone(cfg.Handlers),
		costLimit: cfg.CostLimit,
		idleTTL:   cfg.IdleTTL,
		ref:       cfg.Reference,
		refNames:  cfg.Reference.Names(),
	}
	if s.costLimit == 0 {
		s.costLimit = DefaultCostLimit
	}
	if cfg.IdleTTL < 0 {
		return nil, fmt.Errorf("rules: IdleTTL must not be negative, got %s", cfg.IdleTTL)
	}
	for i, a := range cfg.Aggregates {
		if err := checkAggregateName(a.Name); err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		if _, dup := s.aggIndex[a.Name]; dup {
			return nil, fmt.Errorf("rules: aggregate %q declared twice", a.Name)
		}
		s.aggIndex[a.Name] = i
	}
	for i, h := range cfg.Handlers {
		if h == nil {
			return nil, fmt.Errorf("rules: handler %d is nil", i)
		}
	}
	env, err := newEnv(cfg.Aggregates, s.refNames)
	if err != nil {
		return nil, fmt.Errorf("rules: CEL environment: %w", err)
	}
	hints := sizeHints{lists: map[string]uint64{}}
	for _, a := range cfg.Aggregates {
		if a.List && a.MaxItems > 0 {
			hints.lists[a.Name] = uint64(a.MaxItems)
		}
	}
	names := make(map[string]bool)
	for _, t := range cfg.Thresholds {
		if err := t.Validate(); err != nil {
			return nil, err
		}
		if names[t.Name] {
			return nil, fmt.Errorf("rule %q: field name: used by another rule", t.Name)
		}
		names[t.Name] = true
		ct := &threshold{Threshold: t}
		var lookups []reftable.Lookup
		if ct.fire, lookups, err = compileCondition(env, s.refNames, t.Name, "condition", t.Condition, s.costLimit, hints); err != nil {
			return nil, err
		}
		s.addLookups(lookups)
		s.needPrev = s.needPrev || ct.fire.usesPrev
		if t.Clear != "" {
			if ct.clear, lookups, err = compileCondition(env, s.refNames, t.Name, "clear", t.Clear, s.costLimit, hints); err != nil {
				return nil, err
			}
			s.addLookups(lookups)
			s.needPrev = s.needPrev || ct.clear.usesPrev
		}
		if err := s.bindTables(ct); err != nil {
			return nil, err
		}
		s.thresholds = append(s.thresholds, ct)
	}
	for _, a := range cfg.Anomalies {
		if err := a.Validate(); err != nil {
			return nil, err
		}
		if names[a.Name] {
			return nil, fmt.Errorf("rule %q: field name: used by another rule", a.Name)
		}
		names[a.Name] = true
		i, ok := s.aggIndex[a.Aggregate]
		if !ok {
			return nil, fieldErr(a.Name, "aggregate", fmt.Sprintf("no aggregate named %q", a.Aggregate))
		}
		if s.aggs[i].List {
			return nil, fieldErr(a.Name, "aggregate", fmt.Sprintf("%q is a list, not a number", a.Aggregate))
		}
		s.anomalies = append(s.anomalies, &anomaly{Anomaly: a, warm: a.warmup()})
	}
	for _, c := range cfg.Crossovers {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if names[c.Name] {
			return nil, fmt.Errorf("rule %q: field name: used by another rule", c.Name)
		}
		names[c.Name] = true
		i, ok := s.aggIndex[c.Of]
		if !ok {
			return nil, fieldErr(c.Name, "of", fmt.Sprintf("no aggregate named %q", c.Of))
		}
		if s.aggs[i].List {
			return nil, fieldErr(c.Name, "of", fmt.Sprintf("%q is a list, not a number", c.Of))
		}
		s.crossovers = append(s.crossovers, newCrossover(c))
	}
	return s, nil
}

// CheckCost reports every condition whose worst-case CEL cost, estimated statically, exceeds the
// cost limit: such a rule could fail at run time on some window (each failure is then a per-window
// error, see EvalError). The estimate takes list aggregates at their declared length
// (Aggregate.MaxItems) and the key and attribute values at MaxStringEstimate bytes; a list of
// unknown length is unbounded. Errors name the rule and the field.
func (s *Set) CheckCost() error {
	var errs []error
	for _, t := range s.thresholds {
		for _, c := range []*condition{t.fire, t.clear} {
			if c == nil || c.worst <= s.costLimit {
				continue
			}
			worst := "unbounded"
			if c.worst != math.MaxUint64 {
				worst = fmt.Sprint(c.worst)
			}
			errs = append(errs, fieldErr(c.rule, c.field, fmt.Sprintf("worst-case CEL cost %s exceeds the limit of %d: %s (bound the loops: iterate over a top-k with a declared k, avoid nested comprehensions, or raise limits.cost_limit)", worst, s.costLimit, c.src)))
		}
	}
	return errors.Join(errs...)
}

// NewEngine returns an engine with no per-key state.
func (s *Set) NewEngine() *Engine {
	e := &Engine{set: s, keys: make(map[string]*keyState)}
	e.act.set = s
	e.act.cache = make([]ref.Val, len(s.aggs))
	for _, n := range s.refNames {
		h, _ := s.ref.Handle(n)
		e.act.tables = append(e.act.tables, pinned{name: reftable.VarPrefix + n, h: h})
	}
	e.act.lookups = slices.Clone(s.lookups)
	return e
}

// keyState is everything an Engine keeps for one key.
type keyState struct {
	// fn is the function of the key's latest window result.
	fn string
	// start and end are the key's latest window (unix ns), rev its latest revision; prevEnd is the
	// end of the window before it (0 if none).
	start, end, prevEnd int64
	rev                 int
	// hasPrev is set when the key had a window before the latest one.
	hasPrev bool
	// cur and prev are the values of the latest window and the one before, kept only when a
	// condition reads prev.
	cur, prev []core.NamedValue
	th        []thPair
	an        []anState
	cr        []crState
}

// Engine applies a Set's rules to window results, keeping per-key state. It is not safe for
// concurrent use: use one per partition. Its state round-trips through MarshalBinary and
// UnmarshalBinary.
type Engine struct {
	set  *Set
	keys map[string]*keyState
	act  activation
}

// EvalError is a condition that failed to evaluate for one window result. The rule's state for the
// key is left as it was.
type EvalError struct {
	Rule     string    // the rule whose condition failed
	Key      string    // the key of the window result
	Window   core.Span // the window
	Revision int       // the window result's revision
	Err      error     // what CEL reported, or an error wrapping ErrCostLimit
}

// Error implements error.
func (e *EvalError) Error() string {
	return fmt.Sprintf("rule %q: key %q window [%s, %s) revision %d: %v", e.Rule, e.Key,
		e.Window.Start.UTC().Format(core.TimeLayout), e.Window.End.UTC().Format(core.TimeLayout), e.Revision, e.Err)
}

// Unwrap returns the evaluation error.
func (e *EvalError) Unwrap() error { return e.Err }

// Decide implements Handler: it applies every rule to r with empty attrs.
func (e *Engine) Decide(ctx context.Context, r *core.WindowResult, emit Emit) error {
	return e.DecideAttrs(ctx, r, nil, emit)
}

// AppendDecisions applies every rule to r and appends the decisions to dst.
func (e *Engine) AppendDecisions(ctx context.Context, dst []*core.Decision, r *core.WindowResult) ([]*core.Decision, error) {
	err := e.Decide(ctx, r, func(d *core.Decision) { dst = append(dst, d) })
	return dst, err
}

// DecideAttrs applies every rule to r, binding attrs to the CEL variable attrs. Decisions are
// emitted in rule order: thresholds, anomaly detectors, crossovers, then handlers. Evaluation
// errors do not stop the other rules; they are returned joined, each an *EvalError.
//
// Results must come in window-end order per key. A result whose window ends at the same time as
// the key's latest one is a revision of it: the rules re-evaluate that window from the state they
// had before it. A result for an older window, or an older revision of the latest one, is ignored by
// thresholds, anomaly detectors and crossovers (handlers still see it).
func (e *Engine) DecideAttrs(ctx context.Context, r *core.WindowResult, attrs map[string]string, emit Emit) error {
	s := e.set
	ks := e.keys[r.Key]
	if ks == nil {
		ks = s.newKeyState()
		e.keys[r.Key] = ks
		ks.start, ks.end = math.MinInt64, math.MinInt64
	}
	var errs []error
	start, end := r.Start.UnixNano(), r.End.UnixNano()
	revision := false
	switch {
	case end > ks.end:
		if ks.end != math.MinInt64 {
			ks.prevEnd = ks.end
			// Without the latest window's values (state restored from rules that kept none) prev
			// is unknown, so the key counts as having no previous window.
			ks.hasPrev = !s.needPrev || ks.cur != nil
		}
		ks.start, ks.end, ks.rev, ks.fn = start, end, r.Revision, r.Function
		if s.needPrev {
			// cur is never nil once set, which is how a restored key tells values were kept.
			ks.prev, ks.cur = ks.cur, appendValues(ks.prev[:0], r.Values)
			if ks.cur == nil {
				ks.cur = []core.NamedValue{}
			}
		}
		for i := range ks.th {
			ks.th[i].before = ks.th[i].cur
		}
	case end == ks.end && r.Revision >= ks.rev:
		revision = true
		ks.start, ks.rev = start, r.Revision
		if s.needPrev {
			ks.cur = appendValues(ks.cur[:0], r.Values)
		}
	default:
		return e.handlers(ctx, r, emit, errs)
	}
	var prev []core.NamedValue
	if ks.hasPrev {
		prev = ks.prev
	}
	e.act.reset(r, attrs, !ks.hasPrev, prev)
	prevEnd := ks.prevEnd
	if !ks.hasPrev {
		prevEnd = 0
	}
	for i, t := range s.thresholds {
		p := &ks.th[i]
		next, err := t.step(p.before, &e.act, prevEnd, s.costLimit)
		if err != nil {
			errs = append(errs, &EvalError{Rule: t.Name, Key: r.Key, Window: core.Span{Start: r.Start, End: r.End},
				Revision: r.Revision, Err: err})
			continue
		}
		from := p.cur.phase
		if t.EachWindow && !revision {
			// A new window starts from nothing: only its own revisions compare with it.
			from = inactive
		}
		t.emit(r, from, next.phase, &e.act, emit)
		p.cur = next
	}
	for i, a := range s.anomalies {
		st := &ks.an[i]
		if !revision {
			st.flagged = false
		}
		x, ok := numValue(r, a.Aggregate)
		sc := a.step(st, x, ok, revision)
		if a.flags(sc) && !st.flagged {
			st.flagged = true
			a.emit(r, sc, emit)
		}
	}
	for i, c := range s.crossovers {
		x, ok := numValue(r, c.Of)
		c.decide(r, &ks.cr[i], x, ok, revision, emit)
	}
	e.act.reset(nil, nil, false, nil)
	return e.handlers(ctx, r, emit, errs)
}

// newKeyState is the state of a key with no window yet.
func (s *Set) newKeyState() *keyState {
	return &keyState{th: make([]thPair, len(s.thresholds)), an: make([]anState, len(s.anomalies)),
		cr: make([]crState, len(s.crossovers))}
}

func (e *Engine) handlers(ctx context.Context, r *core.WindowResult, emit Emit, errs []error) error {
	for _, h := range e.set.handlers {
		if err := h.Decide(ctx, r, emit); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// numValue is the named aggregate's value; ok is false when r lacks it or it is not finite.
func numValue(r *core.WindowResult, name string) (float64, bool) {
	v, ok := r.Value(name)
	if !ok || v.IsList || math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
		return 0, false
	}
	return v.Num, true
}

// Expires reports whether Expire can drop anything (Config.IdleTTL is set) or a handler may keep
// state of its own: a tick then may change the engine's state.
func (e *Engine) Expires() bool { return e.set.idleTTL > 0 || len(e.set.handlers) > 0 }

// Len is the number of keys the engine holds state for.
func (e *Engine) Len() int { return len(e.keys) }

// Expire drops the state of keys whose latest window ended more than the Set's IdleTTL before now
// (normally the watermark) and returns how many it dropped. A rule that is firing for an expired
// key (or pending, with EmitPending) emits "resolved" first, so that no alarm is left open; its id
// uses the transition "resolved/expired" and the key's latest window, its time is now and it
// carries no values. Anomaly detectors and crossovers have no open state to resolve: an expired
// key's averages and history are dropped, and it warms up afresh when it comes back.
// Keys are expired in sorted order so that the decisions are deterministic.
func (e *Engine) Expire(now time.Time, emit Emit) int {
	if e.set.idleTTL <= 0 {
		return 0
	}
	limit := now.UnixNano() - int64(e.set.idleTTL)
	var expired []string
	for k, ks := range e.keys {
		if ks.end < limit {
			expired = append(expired, k)
		}
	}
	slices.Sort(expired)
	for _, k := range expired {
		ks := e.keys[k]
		w := core.Span{Start: time.Unix(0, ks.start).UTC(), End: time.Unix(0, ks.end).UTC()}
		for i, t := range e.set.thresholds {
			// An each_window rule holds nothing open across windows: there is nothing to resolve.
			if t.EachWindow || t.view(ks.th[i].cur.phase) == inactive {
				continue
			}
			d := newDecision(ks.fn, t.Name, k, w, core.StateResolved, string(core.StateResolved)+"/expired", ks.rev, t.Severity, nil, 0)
			d.Time = now
			emit(d)
		}
		delete(e.keys, k)
	}
	return len(expired)
}

// bindTables records which reference tables t reads (its conditions and enrichment fields) and
// checks the enrichment fields.
func (s *Set) bindTables(t *threshold) error {
	names := append([]string(nil), t.fire.tables...)
	if t.clear != nil {
		names = append(names, t.clear.tables...)
	}
	for _, f := range t.Enrich {
		tbl, col, ok := strings.Cut(f, ".")
		if !ok || tbl == "" || col == "" {
			return fieldErr(t.Name, "enrich", fmt.Sprintf("%q is not table.column", f))
		}
		cur := s.ref.Table(tbl)
		if cur == nil {
			return fieldErr(t.Name, "enrich", fmt.Sprintf("%q: no reference table named %q (declared: %s)", f, tbl, strings.Join(s.refNames, ", ")))
		}
		// A declared table not loaded yet (spec validation) has no columns to check against.
		if cur.Version() != "" && !slices.Contains(cur.Columns(), col) {
			return fieldErr(t.Name, "enrich", fmt.Sprintf("%q: table %q has no column %q (columns: %s)", f, tbl, col, strings.Join(cur.Columns(), ", ")))
		}
		t.enrich = append(t.enrich, enrichField{name: f, column: col})
		names = append(names, tbl)
	}
	for i, n := range s.refNames {
		if slices.Contains(names, n) {
			t.tables = append(t.tables, i)
		}
	}
	for i := range t.enrich {
		tbl, _, _ := strings.Cut(t.enrich[i].name, ".")
		t.enrich[i].table = slices.Index(s.refNames, tbl)
	}
	return nil
}

func (s *Set) addLookups(ls []reftable.Lookup) {
	for _, l := range ls {
		if !slices.ContainsFunc(s.lookups, func(p lookupPin) bool { return p.name == l.Name }) {
			s.lookups = append(s.lookups, lookupPin{name: l.Name, table: slices.Index(s.refNames, l.Table), column: l.Column})
		}
	}
}
