package aggregate

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/eddyhq/eddy/core"
)

// Row is a partial laid out flat in Plan.Width words, without pointers: a sliding window keeps one
// per slice per key, and in one pointer-free array per key the collector never scans them, copies
// need no write barriers and a partial takes only the words its plan reads (three for an average:
// events, count, sum). All-zero words are the empty partial.
//
// A plan with sketches (first/last, quantile, distinct, top-k, custom) keeps them in a Sketches
// store that the row's owner holds; the row's last word is a handle to its set there.
//
// The layout is the plan's business: word 0 counts events when a count reads it; each Stats slot
// takes its Count and Sum,
// then Min and Max when an aggregate reads them, then M2 when the plan has a variance or stddev.
// What is stable is the encoding (AppendRow, DecodeRow). A row may be longer than Width (a slot
// padded to a cache-friendly size): the plan uses its first Width words.
type Row []uint64

// Sketches holds the sketch sets of the rows of one owner. The zero value is ready to use. It is not
// safe for concurrent use.
type Sketches struct {
	sets [][]sketch
	free []uint64 // handles of released sets, for reuse
}

func (s *Sketches) alloc(p *Plan) uint64 { return s.put(p.freshSketches()) }

// put stores set and returns its handle, reusing a released one.
func (s *Sketches) put(set []sketch) uint64 {
	if n := len(s.free); n > 0 {
		h := s.free[n-1]
		s.free = s.free[:n-1]
		s.sets[h-1] = set
		return h
	}
	s.sets = append(s.sets, set)
	return uint64(len(s.sets))
}

func (s *Sketches) release(h uint64) {
	s.sets[h-1] = nil
	s.free = append(s.free, h)
}

// Len is the number of sketch sets held, for memory accounting.
func (s *Sketches) Len() int { return len(s.sets) - len(s.free) }

// HasSketches reports whether the plan's rows hold sketches, which FreeRow must release.
func (p *Plan) HasSketches() bool { return p.skWord >= 0 }

// Width is the number of words of the plan's rows.
func (p *Plan) Width() int { return p.width }

// layout assigns each Stats slot its words, after Compile has settled minMax and withM2.
func (p *Plan) layout() {
	p.statOff = make([]int, len(p.statFields))
	// Only a plain count reads the events of a row; other plans leave it out (and encode 0).
	w := 0
	p.counted = slices.ContainsFunc(p.outs, func(o output) bool { return o.count })
	if p.counted {
		w = 1
	}
	for i := range p.statFields {
		p.statOff[i] = w
		w += 2
		if p.minMax[i] {
			w += 2
		}
		if p.withM2 {
			w++
		}
	}
	p.skWord = -1
	if len(p.skNew) > 0 {
		p.skWord = w
		w++
	}
	p.width = w
	p.plain = !p.withM2 && len(p.skNew) == 0 && !slices.Contains(p.minMax, true)
	p.single = -1
	if p.plain && !p.counted && p.conds == nil && len(p.statFields) == 1 && p.statFields[0] >= 0 {
		p.single = p.statOff[0]
	}
}

func f64(w uint64) float64 { return math.Float64frombits(w) }
func u64(f float64) uint64 { return math.Float64bits(f) }

// stats reads Stats slot i of r.
func (p *Plan) stats(r Row, i int) Stats {
	o := p.statOff[i]
	s := Stats{Count: int64(r[o]), Sum: f64(r[o+1])}
	o += 2
	if p.minMax[i] {
		s.Min, s.Max = f64(r[o]), f64(r[o+1])
		o += 2
	}
	if p.withM2 {
		s.M2 = f64(r[o])
	}
	return s
}

// setStats writes s into Stats slot i of r.
func (p *Plan) setStats(r Row, i int, s *Stats) {
	o := p.statOff[i]
	r[o], r[o+1] = uint64(s.Count), u64(s.Sum)
	o += 2
	if p.minMax[i] {
		r[o], r[o+1] = u64(s.Min), u64(s.Max)
		o += 2
	}
	if p.withM2 {
		r[o] = u64(s.M2)
	}
}

// addStat folds v into Stats slot i of r: Stats.Add over words, without unpacking the slot unless
// a variance needs Welford's update.
func (p *Plan) addStat(r Row, i int, v float64) {
	if p.withM2 {
		s := p.stats(r, i)
		s.Add(v, true)
		p.setStats(r, i, &s)
		return
	}
	o := p.statOff[i]
	if p.minMax[i] {
		if r[o] == 0 {
			r[o+2], r[o+3] = u64(v), u64(v)
		} else {
			if v < f64(r[o+2]) {
				r[o+2] = u64(v)
			}
			if v > f64(r[o+3]) {
				r[o+3] = u64(v)
			}
		}
	}
	r[o]++
	r[o+1] = u64(f64(r[o+1]) + v)
}

// set returns r's sketches, making them on first use.
func (p *Plan) set(r Row, sk *Sketches) []sketch {
	h := r[p.skWord]
	if h == 0 {
		h = sk.alloc(p)
		r[p.skWord] = h
	}
	return sk.sets[h-1]
}

// view returns r's sketches to read: fresh empty ones when r has none yet.
func (p *Plan) view(r Row, sk *Sketches) []sketch {
	if p.skWord < 0 {
		return nil
	}
	if h := r[p.skWord]; h != 0 {
		return sk.sets[h-1]
	}
	return p.freshSketches()
}

// freshSketches returns a new, empty sketch set of the plan.
func (p *Plan) freshSketches() []sketch {
	set := make([]sketch, len(p.skNew))
	for i, f := range p.skNew {
		set[i] = f()
	}
	return set
}

// AddRow folds ev into r, whose sketches live in sk. Values that are not numbers are skipped; call
// Check first to reject them. To add one event to several rows, evaluate the where conditions once
// with Where and call AddRowWhere.
func (p *Plan) AddRow(r Row, sk *Sketches, ev *core.Event, t int64) {
	var m Mask
	if p.conds != nil {
		m = p.Where(ev)
	}
	p.AddRowWhere(r, sk, ev, t, m)
}

// AddRowWhere is AddRow with the conditions already evaluated: m must be p.Where(ev).
func (p *Plan) AddRowWhere(r Row, sk *Sketches, ev *core.Event, t int64, m Mask) {
	if p.single >= 0 {
		// One plain Stats slot and nothing else (an average): a sliding window's every event.
		if v := &ev.Fields[p.statFields[0]]; v.Kind == core.Number {
			r[p.single]++
			r[p.single+1] = u64(f64(r[p.single+1]) + v.Num)
		}
		return
	}
	if p.counted {
		r[0]++
	}
	for i, f := range p.statFields {
		if p.conds != nil {
			if c := p.statConds[i]; c >= 0 && m&(1<<c) == 0 {
				continue
			}
			if f < 0 {
				r[p.statOff[i]]++ // a conditional count of events
				continue
			}
		}
		if v := &ev.Fields[f]; v.Kind == core.Number {
			p.addStat(r, i, v.Num)
		}
	}
	if p.skWord < 0 {
		return
	}
	set := p.set(r, sk)
	for i, f := range p.skFields {
		if p.conds != nil {
			if c := p.skConds[i]; c >= 0 && m&(1<<c) == 0 {
				continue
			}
		}
		var v core.Value
		if f >= 0 {
			v = ev.Fields[f]
		}
		set[i].add(v, t)
	}
}

// MergeRow folds src into dst, both rows of sk; src must hold events that come after dst's (first
// and last depend on it).
func (p *Plan) MergeRow(dst, src Row, sk *Sketches) { p.merge(dst, sk, src, sk) }

func (p *Plan) merge(dst Row, dsk *Sketches, src Row, ssk *Sketches) {
	if p.counted {
		dst[0] += src[0]
	}
	if p.plain {
		// Counts and sums only (averages): what sliding windows merge most, twice per firing.
		for _, o := range p.statOff {
			if c := src[o]; c != 0 {
				dst[o] += c
				dst[o+1] = u64(f64(dst[o+1]) + f64(src[o+1]))
			}
		}
		return
	}
	for i, o := range p.statOff {
		switch {
		case src[o] == 0:
		case !p.minMax[i] && !p.withM2:
			dst[o] += src[o]
			dst[o+1] = u64(f64(dst[o+1]) + f64(src[o+1]))
		default:
			d, s := p.stats(dst, i), p.stats(src, i)
			d.Merge(&s, p.withM2)
			p.setStats(dst, i, &d)
		}
	}
	if p.skWord < 0 || src[p.skWord] == 0 {
		return
	}
	from := ssk.sets[src[p.skWord]-1]
	if dst[p.skWord] == 0 {
		dst[p.skWord] = dsk.clone(from)
		return
	}
	to := dsk.sets[dst[p.skWord]-1]
	for i := range to {
		to[i].merge(from[i])
	}
}

// clone stores a copy of set and returns its handle.
func (s *Sketches) clone(set []sketch) uint64 {
	c := make([]sketch, len(set))
	for i, x := range set {
		c[i] = x.clone()
	}
	return s.put(c)
}

// CopyRow sets dst to a copy of src, both rows of sk, releasing what dst held.
func (p *Plan) CopyRow(dst, src Row, sk *Sketches) { p.copyRow(dst, sk, src, sk) }

func (p *Plan) copyRow(dst Row, dsk *Sketches, src Row, ssk *Sketches) {
	if p.skWord < 0 {
		copy(dst, src)
		return
	}
	p.FreeRow(dst, dsk)
	copy(dst, src)
	if p.skWord >= 0 && src[p.skWord] != 0 {
		dst[p.skWord] = dsk.clone(ssk.sets[src[p.skWord]-1])
	}
}

// FreeRow empties r, releasing its sketches in sk.
func (p *Plan) FreeRow(r Row, sk *Sketches) {
	if p.skWord >= 0 && r[p.skWord] != 0 {
		sk.release(r[p.skWord])
	}
	clear(r)
}

// RowValues appends r's named values to dst in spec order.
func (p *Plan) RowValues(r Row, sk *Sketches, dst []core.NamedValue) []core.NamedValue {
	n := len(dst)
	for _, o := range p.outs {
		dst = append(dst, core.NamedValue{Name: o.name})
	}
	p.SetValues(r, sk, dst[n:])
	return dst
}

// SetValues sets vals, which RowValues filled for some row of the plan, to r's values: a window
// emitting result after result keeps one slice of values and rewrites only the numbers.
func (p *Plan) SetValues(r Row, sk *Sketches, vals []core.NamedValue) {
	set := p.view(r, sk)
	for i := range p.outs {
		o, nv := &p.outs[i], &vals[i]
		switch {
		case o.count:
			nv.Num = float64(r[0])
		case o.stat >= 0:
			nv.Num = p.statValue(r, o.stat, o.sop)
		default:
			*nv = core.NamedValue{Name: o.name}
			set[o.sk].value(nv)
		}
	}
}

// SetMergedValues is SetValues for the merge of a and then b (both rows of sk), which a sliding
// window emits at every firing: a plan of counts and sums reads it off the two rows, others build
// the merge in scratch, a row of the plan.
func (p *Plan) SetMergedValues(a, b, scratch Row, sk *Sketches, vals []core.NamedValue) {
	if !p.plain {
		p.CopyRow(scratch, a, sk)
		p.MergeRow(scratch, b, sk)
		p.SetValues(scratch, sk, vals)
		return
	}
	for i := range p.outs {
		o := &p.outs[i]
		if o.count {
			vals[i].Num = float64(a[0] + b[0])
			continue
		}
		off := p.statOff[o.stat]
		c, sum := a[off], f64(a[off+1])
		if bc := b[off]; bc != 0 {
			// As MergeRow adds them.
			c += bc
			sum += f64(b[off+1])
		}
		vals[i].Num = plainValue(c, sum, o.sop)
	}
}

// plainValue is the value op of a Stats slot holding count c and sum: a plain plan's ops.
func plainValue(c uint64, sum float64, op statOp) float64 {
	switch op {
	case sCount:
		return float64(c)
	case sSum:
		return sum
	}
	if c == 0 {
		return math.NaN()
	}
	return sum / float64(c) // sAvg
}

// statValue is the value op of Stats slot i of r.
func (p *Plan) statValue(r Row, i int, op statOp) float64 {
	o := p.statOff[i]
	c := r[o]
	switch {
	case op == sCount || op == sSum || op == sAvg:
		return plainValue(c, f64(r[o+1]), op)
	case c == 0:
		return math.NaN()
	}
	switch op {
	case sMin:
		return f64(r[o+2])
	case sMax:
		return f64(r[o+3])
	}
	m2 := o + 2
	if p.minMax[i] {
		m2 += 2
	}
	v := f64(r[m2]) / float64(c)
	if op == sStddev {
		return math.Sqrt(v)
	}
	return v
}

// encoding version of a partial; bump it when the layout changes and keep decoding the old one.
const partialVersion = 1

// AppendRow appends r's compact encoding. It is self-delimiting, and the same for equal partials
// whatever their layout in memory.
func (p *Plan) AppendRow(b []byte, r Row, sk *Sketches) []byte {
	b = append(b, partialVersion)
	var n uint64
	if p.counted {
		n = r[0]
	}
	b = binary.AppendUvarint(b, n)
	for i := range p.statFields {
		s := p.stats(r, i)
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
	set := p.view(r, sk)
	for i := range set {
		enc := set[i].appendBinary(nil)
		b = binary.AppendUvarint(b, uint64(len(enc)))
		b = append(b, enc...)
	}
	return b
}

// DecodeRow reads a partial that AppendRow wrote into r, which must be empty, and returns the bytes
// after it.
func (p *Plan) DecodeRow(b []byte, r Row, sk *Sketches) ([]byte, error) {
	if len(b) == 0 || b[0] != partialVersion {
		return nil, fmt.Errorf("decode partial: %w (version)", errCorrupt)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, fmt.Errorf("decode partial: %w", errCorrupt)
	}
	if p.counted {
		r[0] = n
	}
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
			return nil, fmt.Errorf("decode partial: %w", errCorrupt)
		}
		b = b[k:]
		s := Stats{Count: int64(c)}
		if c != 0 {
			if len(b) < 8*floats {
				return nil, fmt.Errorf("decode partial: %w", errCorrupt)
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
		p.setStats(r, i, &s)
	}
	if p.skWord < 0 {
		return b, nil
	}
	set := p.set(r, sk)
	for i := range set {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("decode partial: %w", errCorrupt)
		}
		if err := set[i].decode(b[k : k+int(l)]); err != nil {
			return nil, fmt.Errorf("decode partial: %w", err)
		}
		b = b[k+int(l):]
	}
	return b, nil
}
