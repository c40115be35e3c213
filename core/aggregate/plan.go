package aggregate

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/predicate"
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
	stat  int // Stats slot, or -1
	sk    int // sketch slot, or -1
	count bool
}

// slotKey identifies a Stats slot: aggregates of the same field under the same condition share one.
type slotKey struct{ field, cond int }

// Compile checks specs and lays out their partial. Every field they read, the fields of their where
// conditions included, is added to table, so the decoder extracts it.
func Compile(specs []Spec, table *core.FieldTable) (*Plan, error) {
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
				c, err := predicate.Compile(src, table, 0)
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

// Partial is the running aggregate of some events: a window's, or a slice's that windows combine.
// The zero Partial is not usable: get one from Plan.New. A Partial belongs to the Plan that made it.
type Partial struct {
	// N counts the events added.
	N  int64
	s0 Stats
	// x holds what a plan needs beyond one numeric field; nil for the common case, which keeps a
	// partial at 48 bytes.
	x *ext
}

type ext struct {
	more  []Stats
	skets []sketch
}

// New returns an empty partial.
func (p *Plan) New() Partial {
	var part Partial
	if len(p.statFields) <= 1 && len(p.skNew) == 0 {
		return part
	}
	part.x = &ext{}
	if n := len(p.statFields); n > 1 {
		part.x.more = make([]Stats, n-1)
	}
	if len(p.skNew) > 0 {
		part.x.skets = make([]sketch, len(p.skNew))
		for i, f := range p.skNew {
			part.x.skets[i] = f()
		}
	}
	return part
}

func (part *Partial) stat(i int) *Stats {
	if i == 0 {
		return &part.s0
	}
	return &part.x.more[i-1]
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
func (p *Plan) Add(part *Partial, ev *core.Event, t int64) {
	if p.conds != nil {
		p.AddWhere(part, ev, t, p.Where(ev))
		return
	}
	part.N++
	for i, f := range p.statFields {
		if v := &ev.Fields[f]; v.Kind == core.Number {
			part.stat(i).Add(v.Num, p.withM2)
		}
	}
	for i, f := range p.skFields {
		var v core.Value
		if f >= 0 {
			v = ev.Fields[f]
		}
		part.x.skets[i].add(v, t)
	}
}

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
	if p.conds == nil {
		p.Add(part, ev, t)
		return
	}
	part.N++
	for i, f := range p.statFields {
		if c := p.statConds[i]; c >= 0 && m&(1<<c) == 0 {
			continue
		}
		if f < 0 {
			part.stat(i).Count++
			continue
		}
		if v := &ev.Fields[f]; v.Kind == core.Number {
			part.stat(i).Add(v.Num, p.withM2)
		}
	}
	for i, f := range p.skFields {
		if c := p.skConds[i]; c >= 0 && m&(1<<c) == 0 {
			continue
		}
		var v core.Value
		if f >= 0 {
			v = ev.Fields[f]
		}
		part.x.skets[i].add(v, t)
	}
}

// Merge folds src into dst; src must hold events that come after dst's (first and last depend on it).
func (p *Plan) Merge(dst, src *Partial) {
	dst.N += src.N
	dst.s0.Merge(&src.s0, p.withM2)
	if dst.x == nil {
		return
	}
	for i := range dst.x.more {
		dst.x.more[i].Merge(&src.x.more[i], p.withM2)
	}
	for i := range dst.x.skets {
		dst.x.skets[i].merge(src.x.skets[i])
	}
}

// Clone returns a deep copy of part.
func (p *Plan) Clone(part *Partial) Partial {
	c := *part
	if part.x != nil {
		c.x = &ext{more: append([]Stats(nil), part.x.more...)}
		if part.x.skets != nil {
			c.x.skets = make([]sketch, len(part.x.skets))
			for i, s := range part.x.skets {
				c.x.skets[i] = s.clone()
			}
		}
	}
	return c
}

// Reset empties part for reuse, keeping what it allocated where it can.
func (p *Plan) Reset(part *Partial) {
	part.N = 0
	part.s0 = Stats{}
	if part.x == nil {
		return
	}
	clear(part.x.more)
	for i, f := range p.skNew {
		part.x.skets[i] = f()
	}
}

// Values appends part's named values to dst in spec order.
func (p *Plan) Values(part *Partial, dst []core.NamedValue) []core.NamedValue {
	for _, o := range p.outs {
		dst = append(dst, core.NamedValue{Name: o.name})
		nv := &dst[len(dst)-1]
		switch {
		case o.count:
			nv.Num = float64(part.N)
		case o.stat >= 0:
			nv.Num = part.stat(o.stat).value(o.op)
		default:
			part.x.skets[o.sk].value(nv)
		}
	}
	return dst
}

// encoding version of a partial; bump it when the layout changes and keep decoding the old one.
const partialVersion = 1

// AppendBinary appends part's compact encoding. It is self-delimiting.
func (p *Plan) AppendBinary(b []byte, part *Partial) []byte {
	b = append(b, partialVersion)
	b = binary.AppendUvarint(b, uint64(part.N))
	for i := range p.statFields {
		s := part.stat(i)
		b = binary.AppendUvarint(b, uint64(s.Count))
		if s.Count == 0 {
			continue
		}
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Sum))
		if p.minMax[i] {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Min))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Max))
		}
		if p.withM2 {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.M2))
		}
	}
	for i := range p.skNew {
		enc := part.x.skets[i].appendBinary(nil)
		b = binary.AppendUvarint(b, uint64(len(enc)))
		b = append(b, enc...)
	}
	return b
}

// Decode reads a partial that AppendBinary wrote and returns the bytes after it.
func (p *Plan) Decode(b []byte) (Partial, []byte, error) {
	part := p.New()
	if len(b) == 0 || b[0] != partialVersion {
		return part, nil, fmt.Errorf("decode partial: %w (version)", errCorrupt)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return part, nil, fmt.Errorf("decode partial: %w", errCorrupt)
	}
	part.N = int64(n)
	b = b[k:]
	for i := range p.statFields {
		floats := 1
		if p.minMax[i] {
			floats += 2
		}
		if p.withM2 {
			floats++
		}
		c, k := binary.Uvarint(b)
		if k <= 0 {
			return part, nil, fmt.Errorf("decode partial: %w", errCorrupt)
		}
		b = b[k:]
		s := part.stat(i)
		s.Count = int64(c)
		if c == 0 {
			continue
		}
		if len(b) < 8*floats {
			return part, nil, fmt.Errorf("decode partial: %w", errCorrupt)
		}
		s.Sum = math.Float64frombits(binary.LittleEndian.Uint64(b))
		at := 8
		if p.minMax[i] {
			s.Min = math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
			s.Max = math.Float64frombits(binary.LittleEndian.Uint64(b[16:]))
			at = 24
		}
		if p.withM2 {
			s.M2 = math.Float64frombits(binary.LittleEndian.Uint64(b[at:]))
		}
		b = b[8*floats:]
	}
	for i := range p.skNew {
		s := part.x.skets[i]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return part, nil, fmt.Errorf("decode partial: %w", errCorrupt)
		}
		if err := s.decode(b[k : k+int(l)]); err != nil {
			return part, nil, fmt.Errorf("decode partial: %w", err)
		}
		b = b[k+int(l):]
	}
	return part, b, nil
}

// Combine sets dst to the merge of a and then b, reusing dst's storage; a and b are unchanged.
func (p *Plan) Combine(dst, a, b *Partial) {
	dst.N = a.N
	dst.s0 = a.s0
	if a.x != nil {
		if dst.x == nil {
			dst.x = &ext{}
		}
		dst.x.more = append(dst.x.more[:0], a.x.more...)
		if len(dst.x.skets) != len(a.x.skets) {
			dst.x.skets = make([]sketch, len(a.x.skets))
		}
		for i, s := range a.x.skets {
			dst.x.skets[i] = s.clone()
		}
	}
	p.Merge(dst, b)
}
