package aggregate

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/axiomhq/hyperloglog"

	"github.com/eddyhq/eddy/core"
)

// sketch is the partial of an aggregate that Stats cannot hold. Implementations are unexported; a
// Plan creates them.
type sketch interface {
	add(v core.Value, t int64)
	// merge folds o (same kind, holding events after the receiver's in arrival order) in.
	merge(o sketch)
	value(nv *core.NamedValue)
	appendBinary(b []byte) []byte
	decode(b []byte) error
	clone() sketch
}

var errCorrupt = errors.New("corrupt aggregate encoding")

// pick keeps the value of the first or last event by event time.
type pick struct {
	last bool
	set  bool
	t    int64
	v    float64
}

func (p *pick) add(v core.Value, t int64) {
	f, ok := v.Float()
	if !ok {
		return
	}
	// Ties go to the earliest arrival for first and the latest for last, so that merging partials of
	// consecutive slices in order gives what one pass over the events gives.
	if !p.set || (!p.last && t < p.t) || (p.last && t >= p.t) {
		p.set, p.t, p.v = true, t, f
	}
}

func (p *pick) merge(o sketch) {
	q := o.(*pick)
	if !q.set {
		return
	}
	if !p.set || (!p.last && q.t < p.t) || (p.last && q.t >= p.t) {
		p.set, p.t, p.v = true, q.t, q.v
	}
}

func (p *pick) value(nv *core.NamedValue) {
	nv.Num = math.NaN()
	if p.set {
		nv.Num = p.v
	}
}

func (p *pick) appendBinary(b []byte) []byte {
	if !p.set {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, p.t)
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(p.v))
}

func (p *pick) decode(b []byte) error {
	if len(b) == 0 {
		return errCorrupt
	}
	if b[0] == 0 {
		p.set = false
		return nil
	}
	t, n := binary.Varint(b[1:])
	if n <= 0 || len(b) != 1+n+8 {
		return errCorrupt
	}
	p.set, p.t, p.v = true, t, math.Float64frombits(binary.LittleEndian.Uint64(b[1+n:]))
	return nil
}

func (p *pick) clone() sketch { c := *p; return &c }

// quantile wraps a DDSketch: relative-error quantiles, mergeable, with integer bin counts so merge
// order never changes a result.
type quantile struct {
	q      float64
	acc    float64
	sketch *ddsketch.DDSketch
}

func newQuantile(q, acc float64) (*quantile, error) {
	m, err := mapping.NewLogarithmicMapping(acc)
	if err != nil {
		return nil, err
	}
	return &quantile{q: q, acc: acc, sketch: ddsketch.NewDDSketch(m, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())}, nil
}

func (s *quantile) add(v core.Value, _ int64) {
	if f, ok := v.Float(); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
		// Values beyond the mapping's range are the only error; they cannot be ranked, so skip them.
		_ = s.sketch.Add(f)
	}
}

func (s *quantile) merge(o sketch) { _ = s.sketch.MergeWith(o.(*quantile).sketch) }

func (s *quantile) value(nv *core.NamedValue) {
	nv.Num = math.NaN()
	if v, err := s.sketch.GetValueAtQuantile(s.q); err == nil {
		nv.Num = v
	}
}

func (s *quantile) appendBinary(b []byte) []byte {
	var enc []byte
	s.sketch.Encode(&enc, true)
	b = binary.AppendUvarint(b, uint64(len(enc)))
	return append(b, enc...)
}

func (s *quantile) decode(b []byte) (err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) != n {
		return errCorrupt
	}
	// ddsketch's decoder trusts what it reads: corrupt bins can make it panic (a slice of
	// absurd length, found by window.FuzzRestore). A corrupt snapshot is an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("quantile sketch: %w: %v", errCorrupt, r)
		}
	}()
	// Its paginated store allocates for the whole index range the bins span, which garbage can make
	// astronomical (out of memory, no panic to recover): refuse indexes no value maps to first.
	m := s.sketch.IndexMapping
	if err := checkSketchBins(b[k:], int64(m.Index(m.MinIndexableValue()))-1, int64(m.Index(m.MaxIndexableValue()))+1); err != nil {
		return fmt.Errorf("quantile sketch: %w: %v", errCorrupt, err)
	}
	sk, err := ddsketch.DecodeDDSketch(b[k:], store.BufferedPaginatedStoreConstructor, s.sketch.IndexMapping)
	if err != nil {
		return fmt.Errorf("quantile sketch: %w", err)
	}
	s.sketch = sk
	return nil
}

func (s *quantile) clone() sketch { return &quantile{q: s.q, acc: s.acc, sketch: s.sketch.Copy()} }

// distinct wraps a HyperLogLog sketch; registers take maxima, so merge order never matters.
type distinct struct {
	p  uint8
	hl *hyperloglog.Sketch
}

func newDistinct(p uint8) (*distinct, error) {
	hl, err := hyperloglog.NewSketch(p, true)
	if err != nil {
		return nil, err
	}
	return &distinct{p: p, hl: hl}, nil
}

func (d *distinct) add(v core.Value, _ int64) {
	switch v.Kind {
	case core.Missing:
		return
	case core.String:
		d.hl.Insert([]byte(v.Str))
	default:
		d.hl.Insert([]byte(v.Text()))
	}
}

func (d *distinct) merge(o sketch) { _ = d.hl.Merge(o.(*distinct).hl) }

func (d *distinct) value(nv *core.NamedValue) { nv.Num = float64(d.hl.Estimate()) }

func (d *distinct) appendBinary(b []byte) []byte {
	enc, err := d.hl.MarshalBinary()
	if err != nil {
		enc = nil
	}
	b = binary.AppendUvarint(b, uint64(len(enc)))
	return append(b, enc...)
}

func (d *distinct) decode(b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) != n {
		return errCorrupt
	}
	hl, err := hyperloglog.NewSketch(d.p, true)
	if err != nil {
		return err
	}
	if err := hl.UnmarshalBinary(b[k:]); err != nil {
		return fmt.Errorf("distinct sketch: %w", err)
	}
	d.hl = hl
	return nil
}

func (d *distinct) clone() sketch { return &distinct{p: d.p, hl: d.hl.Clone()} }

// topCapacity bounds the values a top-k partial counts exactly. Past it, the least frequent value
// is evicted (space-saving): counts of rare values become approximate, the frequent ones stay right.
const topCapacity = 1024

// topk counts values; the K most frequent are its value (ties by value, ascending).
type topk struct {
	k      int
	counts map[string]uint64
}

func (t *topk) add(v core.Value, _ int64) {
	if v.Kind == core.Missing || v.Kind == core.Null {
		return
	}
	s := v.Str
	if v.Kind != core.String {
		s = v.Text()
	}
	t.inc(s, 1)
}

func (t *topk) inc(s string, n uint64) {
	if t.counts == nil {
		t.counts = make(map[string]uint64)
	}
	if _, ok := t.counts[s]; !ok && len(t.counts) >= topCapacity {
		// Space-saving: the newcomer inherits the evicted minimum's count.
		minK, minC := "", uint64(math.MaxUint64)
		for k, c := range t.counts {
			if c < minC || (c == minC && k > minK) {
				minK, minC = k, c
			}
		}
		delete(t.counts, minK)
		n += minC
	}
	t.counts[s] += n
}

func (t *topk) merge(o sketch) {
	for _, k := range sortedKeys(o.(*topk).counts) {
		t.inc(k, o.(*topk).counts[k])
	}
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (t *topk) items() []core.Item {
	items := make([]core.Item, 0, len(t.counts))
	for k, c := range t.counts {
		items = append(items, core.Item{Value: k, Count: c})
	}
	slices.SortFunc(items, func(a, b core.Item) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return cmp.Compare(a.Value, b.Value)
	})
	return items
}

func (t *topk) value(nv *core.NamedValue) {
	items := t.items()
	if len(items) > t.k {
		items = items[:t.k]
	}
	nv.IsList = true
	nv.Items = items
}

func (t *topk) appendBinary(b []byte) []byte {
	keys := sortedKeys(t.counts)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, t.counts[k])
	}
	return b
}

func (t *topk) decode(b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errCorrupt
	}
	b = b[k:]
	t.counts = make(map[string]uint64, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return errCorrupt
		}
		s := string(b[k : k+int(l)])
		b = b[k+int(l):]
		c, k2 := binary.Uvarint(b)
		if k2 <= 0 {
			return errCorrupt
		}
		b = b[k2:]
		t.counts[s] = c
	}
	if len(b) != 0 {
		return errCorrupt
	}
	return nil
}

func (t *topk) clone() sketch {
	c := &topk{k: t.k}
	if t.counts != nil {
		c.counts = make(map[string]uint64, len(t.counts))
		for k, v := range t.counts {
			c.counts[k] = v
		}
	}
	return c
}
