package aggregate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/predicate"
	"github.com/eddyhq/eddy/core/reftable"
)

// Plan lays out and computes a fixed list of named aggregates. It is immutable after Compile and safe
// for concurrent use; partials are not.
type Plan struct {
	specs []Spec
	outs  []output
	// statFields holds the field-table index read by each Stats slot (-1 for a conditional count
	// of events); numFields the distinct indexes among them, which Check reads.
	statFields []int
	numFields  []int
	skFields   []int
	skNew      []func() sketch
	withM2     bool
	// minMax marks the Stats slots whose min and max some aggregate reads; the others do not
	// store them.
	minMax []bool
	// statOff is each Stats slot's first word in a Row, skWord the word of the sketch handle (-1
	// without sketches), width the words of a Row (see layout).
	statOff []int
	skWord  int
	width   int
	// plain is set when rows hold counts and sums only (no min/max, M2 or sketches): merges and
	// copies then are a few additions.
	plain bool
	// counted is set when a plain count reads the events of a row, which then has a word for them.
	counted bool
	// single is the first word of the only Stats slot of a plain plan without conditions or a
	// plain count (an average, a sum), -1 for other plans.
	single int

	// conds are the distinct where conditions; nil when no aggregate has one, which keeps Add on
	// its unconditional loop. statConds and skConds give each slot's condition (-1 for none).
	conds     []*predicate.Condition
	statConds []int
	skConds   []int
}

// MaxConditions is the most distinct where conditions one plan holds (they form a Mask).
const MaxConditions = 64

// Mask holds which of a plan's where conditions an event satisfies, bit i for condition i.
type Mask uint64

type output struct {
	name  string
	op    Op
	sop   statOp // op of a Stats value
	stat  int    // Stats slot, or -1
	sk    int    // sketch slot, or -1
	count bool
}

// slotKey identifies a Stats slot: aggregates of the same field under the same condition share one.
type slotKey struct{ field, cond int }

// Compile checks specs and lays out their partial. Every field they read, the fields of their where
// conditions included, is added to table, so the decoder extracts it.
func Compile(specs []Spec, table *core.FieldTable) (*Plan, error) {
	return CompileRef(specs, table, nil)
}

// CompileRef is Compile for a function with reference tables, which where conditions may read
// (see predicate.CompileRef).
func CompileRef(specs []Spec, table *core.FieldTable, ref *reftable.Set) (*Plan, error) {
	p := &Plan{specs: append([]Spec(nil), specs...)}
	seen := make(map[string]bool)
	statSlot := make(map[slotKey]int)
	condIdx := make(map[string]int)
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return nil, err
		}
		name := s.name()
		if seen[name] {
			return nil, fmt.Errorf("aggregate %q: the name is used twice", name)
		}
		seen[name] = true
		cond := -1
		if src := strings.TrimSpace(s.Where); src != "" {
			i, ok := condIdx[src]
			if !ok {
				if len(p.conds) == MaxConditions {
					return nil, fmt.Errorf("aggregate %q: more than %d distinct where conditions", name, MaxConditions)
				}
				c, err := predicate.CompileRef(src, table, 0, ref)
				if err != nil {
					return nil, &WhereError{Aggregate: name, Err: err}
				}
				i = len(p.conds)
				condIdx[src] = i
				p.conds = append(p.conds, c)
			}
			cond = i
		}
		o := output{name: name, op: s.Op, stat: -1, sk: -1}
		switch s.Op {
		case Count, Sum, Min, Max, Avg, Variance, Stddev:
			if s.Op == Count && s.Field == "" && cond < 0 {
				o.count = true
				break
			}
			f := -1 // a conditional count of events reads no field
			if s.Field != "" {
				f = table.Index(s.Field)
			}
			key := slotKey{f, cond}
			slot, ok := statSlot[key]
			if !ok {
				slot = len(p.statFields)
				statSlot[key] = slot
				p.statFields = append(p.statFields, f)
				p.statConds = append(p.statConds, cond)
				if f >= 0 && !slices.Contains(p.numFields, f) {
					p.numFields = append(p.numFields, f)
				}
			}
			o.stat = slot
			o.sop = statOpOf(s.Op)
			if s.Op == Variance || s.Op == Stddev {
				p.withM2 = true
			}
			if len(p.minMax) <= slot {
				p.minMax = append(p.minMax, false)
			}
			if s.Op == Min || s.Op == Max {
				p.minMax[slot] = true
			}
		default:
			o.sk = len(p.skFields)
			f := -1 // a custom aggregate may read no field
			if s.Field != "" {
				f = table.Index(s.Field)
			}
			p.skFields = append(p.skFields, f)
			p.skConds = append(p.skConds, cond)
			newSk, err := sketchMaker(s)
			if err != nil {
				return nil, fmt.Errorf("aggregate %q: %w", name, err)
			}
			p.skNew = append(p.skNew, newSk)
		}
		p.outs = append(p.outs, o)
	}
	if len(p.conds) == 0 {
		p.statConds, p.skConds = nil, nil
	}
	p.layout()
	return p, nil
}

// WhereError is the error of a where condition that does not compile.
type WhereError struct {
	// Aggregate names the aggregate.
	Aggregate string
	// Err is the compile error; a CEL error carries the position inside the condition.
	Err error
}

// Error names the aggregate and the reason.
func (e *WhereError) Error() string {
	return fmt.Sprintf("aggregate %q: where: %v", e.Aggregate, e.Err)
}

// Unwrap returns Err.
func (e *WhereError) Unwrap() error { return e.Err }

func sketchMaker(s Spec) (func() sketch, error) {
	switch s.Op {
	case First:
		return func() sketch { return &pick{} }, nil
	case Last:
		return func() sketch { return &pick{last: true} }, nil
	case Quantile:
		acc := s.RelativeAccuracy
		if acc == 0 {
			acc = 0.01
		}
		if _, err := newQuantile(s.Q, acc); err != nil {
			return nil, err
		}
		return func() sketch { q, _ := newQuantile(s.Q, acc); return q }, nil
	case Distinct:
		p := s.Precision
		if p == 0 {
			p = 14
		}
		if _, err := newDistinct(p); err != nil {
			return nil, err
		}
		return func() sketch { d, _ := newDistinct(p); return d }, nil
	case Custom:
		return func() sketch { return &custom{fn: s.Func, acc: s.Func.New()} }, nil
	case TopK:
		k := s.K
		if k == 0 {
			k = 10
		}
		return func() sketch { return &topk{k: k} }, nil
	}
	return nil, fmt.Errorf("op %q has no sketch", s.Op)
}

// Specs returns the plan's specs.
func (p *Plan) Specs() []Spec { return p.specs }

// Len is the number of named values a result holds.
func (p *Plan) Len() int { return len(p.outs) }

// Partial is a Row with a Sketches store of its own: the convenient form for one partial at a
// time (a session, a global window, a test). The zero Partial is not usable: get one from Plan.New.
// A Partial belongs to the Plan that made it; copies share their storage.
type Partial struct {
	r  Row
	sk *Sketches
}

// New returns an empty partial.
func (p *Plan) New() Partial {
	return Partial{r: make(Row, p.width), sk: &Sketches{}}
}

// Check reports the first field of ev that an aggregate needs as a number but holds something else.
// A missing or null field is fine: the aggregate skips the event.
//
// A field that only conditional aggregates read is checked only when one of their conditions holds:
// an event they leave out may hold anything there. Conditions are evaluated only for such a bad
// value, so the common case costs nothing extra.
func (p *Plan) Check(ev *core.Event) (field string, reason string) {
	for _, f := range p.numFields {
		v := &ev.Fields[f]
		switch v.Kind {
		case core.Number, core.Missing, core.Null:
		default:
			if p.conds != nil && !p.checkedUnder(f, ev) {
				continue
			}
			return p.fieldPath(f), fmt.Sprintf("%s is not a number", describe(*v))
		}
	}
	return "", ""
}

// checkedUnder reports whether some Stats slot of field f applies to ev: it has no condition, or
// ev satisfies its condition.
func (p *Plan) checkedUnder(f int, ev *core.Event) bool {
	for i, g := range p.statFields {
		if g != f {
			continue
		}
		if c := p.statConds[i]; c < 0 || p.conds[c].Eval(ev) {
			return true
		}
	}
	return false
}

func (p *Plan) fieldPath(f int) string {
	for _, o := range p.outs {
		if o.stat >= 0 && p.statFields[o.stat] == f {
			return p.specFor(o.name).Field
		}
	}
	return ""
}

func (p *Plan) specFor(name string) Spec {
	for _, s := range p.specs {
		if s.name() == name {
			return s
		}
	}
	return Spec{}
}

func describe(v core.Value) string {
	switch v.Kind {
	case core.String:
		b := core.AppendString(nil, v.Str)
		if len(b) > 40 {
			b = append(b[:37], "..."...)
		}
		return "string " + string(b)
	case core.Bool:
		return "bool " + v.Text()
	case core.Object:
		return "object"
	}
	return "value"
}

// Add folds ev into part. Values that are not numbers are skipped; call Check first to reject them.
// Each distinct where condition is evaluated once; to add one event to several partials, evaluate
// them once with Where and call AddWhere.
func (p *Plan) Add(part *Partial, ev *core.Event, t int64) { p.AddRow(part.r, part.sk, ev, t) }

// Conditional reports whether some aggregate of the plan has a where condition.
func (p *Plan) Conditional() bool { return p.conds != nil }

// Where evaluates the plan's where conditions over ev (zero when it has none).
func (p *Plan) Where(ev *core.Event) Mask {
	var m Mask
	for i, c := range p.conds {
		if c.Eval(ev) {
			m |= 1 << i
		}
	}
	return m
}

// AddWhere is Add with the conditions already evaluated: m must be p.Where(ev).
func (p *Plan) AddWhere(part *Partial, ev *core.Event, t int64, m Mask) {
	p.AddRowWhere(part.r, part.sk, ev, t, m)
}

// Merge folds src into dst; src must hold events that come after dst's (first and last depend on it).
func (p *Plan) Merge(dst, src *Partial) { p.merge(dst.r, dst.sk, src.r, src.sk) }

// Clone returns a deep copy of part.
func (p *Plan) Clone(part *Partial) Partial {
	c := p.New()
	p.copyRow(c.r, c.sk, part.r, part.sk)
	return c
}

// Reset empties part for reuse.
func (p *Plan) Reset(part *Partial) { p.FreeRow(part.r, part.sk) }

// Values appends part's named values to dst in spec order.
func (p *Plan) Values(part *Partial, dst []core.NamedValue) []core.NamedValue {
	return p.RowValues(part.r, part.sk, dst)
}

// AppendBinary appends part's compact encoding (AppendRow's). It is self-delimiting.
func (p *Plan) AppendBinary(b []byte, part *Partial) []byte { return p.AppendRow(b, part.r, part.sk) }

// Decode reads a partial that AppendBinary wrote and returns the bytes after it.
func (p *Plan) Decode(b []byte) (Partial, []byte, error) {
	part := p.New()
	rest, err := p.DecodeRow(b, part.r, part.sk)
	return part, rest, err
}

// Combine sets dst to the merge of a and then b, reusing dst's storage; a and b are unchanged.
func (p *Plan) Combine(dst, a, b *Partial) {
	p.copyRow(dst.r, dst.sk, a.r, a.sk)
	p.merge(dst.r, dst.sk, b.r, b.sk)
}
