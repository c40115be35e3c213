package rule

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/eddyhq/eddy/core"
)

// Snapshot layout, version 1 (all integers varints unless said otherwise):
//
//	"eRUL" version(byte)
//	nrules { kind(byte) name(string) }
//	nkeys  { key(string) fn(string) start end prevEnd rev flags(byte) [cur values] [prev values]
//	         nrules { len(uvarint) rule state } }
//
// A crossover's state carries its own version and the parameters it was built with (see
// appendCrState), so that it can evolve, and survive changed parameters, without a new snapshot
// version.
//
// Rule states are length-prefixed and matched to the engine's rules by kind and name when
// restored, so a snapshot survives rules being added, removed or reordered: unknown rules are
// skipped and new rules start fresh.
const (
	snapMagic   = "eRUL"
	snapVersion = 1

	kindThreshold = 1
	kindAnomaly   = 2
	kindCrossover = 3

	crVersion = 1

	flagHasPrev    = 1
	flagCurValues  = 2
	flagPrevValues = 4
)

// MarshalBinary implements encoding.BinaryMarshaler: the engine's per-key state, versioned.
func (e *Engine) MarshalBinary() ([]byte, error) { return e.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender. Keys are written in sorted order, so equal
// states encode to equal bytes.
func (e *Engine) AppendBinary(b []byte) ([]byte, error) {
	s := e.set
	b = append(b, snapMagic...)
	b = append(b, snapVersion)
	b = binary.AppendUvarint(b, uint64(len(s.thresholds)+len(s.anomalies)+len(s.crossovers)))
	for _, t := range s.thresholds {
		b = append(b, kindThreshold)
		b = appendString(b, t.Name)
	}
	for _, a := range s.anomalies {
		b = append(b, kindAnomaly)
		b = appendString(b, a.Name)
	}
	for _, c := range s.crossovers {
		b = append(b, kindCrossover)
		b = appendString(b, c.Name)
	}
	keys := make([]string, 0, len(e.keys))
	for k := range e.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		ks := e.keys[k]
		b = appendString(b, k)
		b = appendString(b, ks.fn)
		b = binary.AppendVarint(b, ks.start)
		b = binary.AppendVarint(b, ks.end)
		b = binary.AppendVarint(b, ks.prevEnd)
		b = binary.AppendUvarint(b, uint64(ks.rev))
		var flags byte
		if ks.hasPrev {
			flags |= flagHasPrev
		}
		if ks.cur != nil {
			flags |= flagCurValues
		}
		if ks.prev != nil && ks.hasPrev {
			flags |= flagPrevValues
		}
		b = append(b, flags)
		if flags&flagCurValues != 0 {
			b = appendNamedValues(b, ks.cur)
		}
		if flags&flagPrevValues != 0 {
			b = appendNamedValues(b, ks.prev)
		}
		for i := range s.thresholds {
			b = appendSized(b, func(b []byte) []byte { return appendThPair(b, ks.th[i]) })
		}
		for i := range s.anomalies {
			b = appendSized(b, func(b []byte) []byte { return appendAnState(b, &ks.an[i]) })
		}
		for i, c := range s.crossovers {
			b = appendSized(b, func(b []byte) []byte { return appendCrState(b, c, &ks.cr[i]) })
		}
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces the engine's state with the
// snapshot's. On error the engine's state is unchanged.
func (e *Engine) UnmarshalBinary(data []byte) error {
	s := e.set
	d := &decoder{b: data}
	if string(d.bytes(len(snapMagic))) != snapMagic {
		return errors.New("rule state: not a rule snapshot (bad magic)")
	}
	if v := d.byte(); d.err == nil && v != snapVersion {
		return fmt.Errorf("rule state: unsupported version %d (want %d)", v, snapVersion)
	}
	n := d.count()
	// slots maps each snapshot rule to the engine's rule of that kind and name (idx -1: none).
	type slot struct {
		kind byte
		idx  int
	}
	slots := make([]slot, 0, n)
	for range n {
		kind, name := d.byte(), d.string()
		idx := -1
		switch kind {
		case kindThreshold:
			for i, t := range s.thresholds {
				if t.Name == name {
					idx = i
				}
			}
		case kindAnomaly:
			for i, a := range s.anomalies {
				if a.Name == name {
					idx = i
				}
			}
		case kindCrossover:
			for i, c := range s.crossovers {
				if c.Name == name {
					idx = i
				}
			}
		default:
			if d.err == nil {
				d.err = fmt.Errorf("rule %q: unknown rule kind %d", name, kind)
			}
		}
		slots = append(slots, slot{kind, idx})
	}
	nkeys := d.count()
	keys := make(map[string]*keyState, nkeys)
	for range nkeys {
		if d.err != nil {
			break
		}
		k := d.string()
		ks := s.newKeyState()
		ks.fn = d.string()
		ks.start, ks.end, ks.prevEnd = d.varint(), d.varint(), d.varint()
		ks.rev = int(d.uvarint())
		flags := d.byte()
		ks.hasPrev = flags&flagHasPrev != 0
		if flags&flagCurValues != 0 {
			ks.cur = d.namedValues()
		}
		if flags&flagPrevValues != 0 {
			ks.prev = d.namedValues()
		}
		if s.needPrev && ks.hasPrev && flags&flagPrevValues == 0 {
			// The snapshot was taken by rules that did not keep values: prev is unknown, so the
			// key starts over as if it had no previous window.
			ks.hasPrev = false
		}
		for _, sl := range slots {
			rd := &decoder{b: d.bytes(d.count())}
			if sl.idx < 0 {
				continue
			}
			switch sl.kind {
			case kindThreshold:
				ks.th[sl.idx] = rd.thPair()
			case kindAnomaly:
				ks.an[sl.idx] = rd.anState(s.anomalies[sl.idx])
			case kindCrossover:
				ks.cr[sl.idx] = rd.crState(s.crossovers[sl.idx])
			}
			if rd.err == nil && len(rd.b) != 0 {
				rd.err = errors.New("trailing bytes")
			}
			if rd.err != nil && d.err == nil {
				d.err = fmt.Errorf("key %q: %w", k, rd.err)
			}
		}
		if d.err == nil {
			if _, dup := keys[k]; dup {
				d.err = fmt.Errorf("key %q appears twice", k)
			}
		}
		keys[k] = ks
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("rule state: %w", d.err)
	}
	e.keys = keys
	return nil
}

func appendSized(b []byte, f func([]byte) []byte) []byte {
	// Reserve one byte for the length (states are short); move the body if it turns out longer.
	at := len(b)
	b = append(b, 0)
	b = f(b)
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	var lb [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(lb[:], uint64(n))
	b = append(b, lb[:l-1]...)
	copy(b[at+l:], b[at+1:at+1+n])
	copy(b[at:], lb[:l])
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

func appendNamedValues(b []byte, vs []core.NamedValue) []byte {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for _, v := range vs {
		b = appendString(b, v.Name)
		if !v.IsList {
			b = append(b, 0)
			b = appendFloat(b, v.Num)
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(v.Items)))
		for _, it := range v.Items {
			b = appendString(b, it.Value)
			b = binary.AppendUvarint(b, it.Count)
		}
	}
	return b
}

func appendThState(b []byte, s thState) []byte {
	b = append(b, byte(s.phase))
	b = binary.AppendVarint(b, int64(s.n))
	b = binary.AppendVarint(b, s.since)
	b = binary.AppendVarint(b, int64(s.cn))
	return binary.AppendVarint(b, s.csince)
}

func appendThPair(b []byte, p thPair) []byte {
	return appendThState(appendThState(b, p.before), p.cur)
}

func appendAnState(b []byte, s *anState) []byte {
	var flags byte
	if s.latestHas {
		flags |= 1
	}
	if s.flagged {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(s.hist)))
	for _, v := range s.hist {
		b = appendFloat(b, v)
	}
	for _, st := range [2]ewmaState{s.before, s.cur} {
		b = appendFloat(b, st.m)
		b = appendFloat(b, st.d)
		b = binary.AppendVarint(b, st.n)
	}
	return b
}

// decoder reads a snapshot; the first error sticks and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or corrupt %s", what)
	}
	d.b = nil
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.fail("data")
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) byte() byte {
	p := d.bytes(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length, bounded by the bytes left so corrupt input cannot make huge allocations.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail("length")
		return 0
	}
	return int(v)
}

func (d *decoder) string() string { return string(d.bytes(d.count())) }

func (d *decoder) float() float64 {
	p := d.bytes(8)
	if p == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(p))
}

func (d *decoder) namedValues() []core.NamedValue {
	n := d.count()
	vs := make([]core.NamedValue, 0, n)
	for range n {
		v := core.NamedValue{Name: d.string()}
		switch d.byte() {
		case 0:
			v.Num = d.float()
		case 1:
			v.IsList = true
			m := d.count()
			v.Items = make([]core.Item, 0, m)
			for range m {
				v.Items = append(v.Items, core.Item{Value: d.string(), Count: d.uvarint()})
			}
		default:
			d.fail("value kind")
		}
		if d.err != nil {
			return nil
		}
		vs = append(vs, v)
	}
	return vs
}

func (d *decoder) thState() thState {
	s := thState{phase: phase(d.byte())}
	if s.phase > firing {
		d.fail("threshold phase")
	}
	s.n = int32(d.varint())
	s.since = d.varint()
	s.cn = int32(d.varint())
	s.csince = d.varint()
	return s
}

func (d *decoder) thPair() thPair {
	return thPair{before: d.thState(), cur: d.thState()}
}

func (d *decoder) anState(a *anomaly) anState {
	var s anState
	flags := d.byte()
	s.latestHas, s.flagged = flags&1 != 0, flags&2 != 0
	n := d.count()
	s.hist = make([]float64, 0, max(n, a.Window+1))
	for range n {
		s.hist = append(s.hist, d.float())
	}
	if a.Method == ZScore && len(s.hist) > a.Window+1 {
		// The window shrank since the snapshot: keep the newest values.
		s.hist = append(s.hist[:0], s.hist[len(s.hist)-a.Window-1:]...)
	}
	s.before = ewmaState{m: d.float(), d: d.float(), n: d.varint()}
	s.cur = ewmaState{m: d.float(), d: d.float(), n: d.varint()}
	return s
}

// appendCrState appends a crossover's state for one key:
//
//	version(byte) average(byte: 0 sma, 1 ema) fast slow flags(byte)
//	side told (before) side told (cur) (bytes)
//	sma: n { value(float64) }
//	ema: { n sum(float64) comp(float64) fast(float64) slow(float64) } before, then cur
func appendCrState(b []byte, c *crossover, s *crState) []byte {
	b = append(b, crVersion)
	avg := byte(0)
	if c.Average == EMA {
		avg = 1
	}
	b = append(b, avg)
	b = binary.AppendUvarint(b, uint64(c.Fast))
	b = binary.AppendUvarint(b, uint64(c.Slow))
	var flags byte
	if s.latestHas {
		flags |= 1
	}
	b = append(b, flags, byte(s.pb.side), byte(s.pb.told), byte(s.pc.side), byte(s.pc.told))
	if avg == 0 {
		b = binary.AppendUvarint(b, uint64(len(s.hist)))
		for _, v := range s.hist {
			b = appendFloat(b, v)
		}
		return b
	}
	for _, a := range [2]emaAcc{s.before, s.cur} {
		b = binary.AppendVarint(b, a.n)
		b = appendFloat(b, a.sum)
		b = appendFloat(b, a.comp)
		b = appendFloat(b, a.fast)
		b = appendFloat(b, a.slow)
	}
	return b
}

func (d *decoder) crPhase() crPhase {
	p := crPhase{side: side(d.byte()), told: side(d.byte())}
	if p.side > sideDown || p.told > sideDown || p.told == sideBand {
		d.fail("crossover phase")
	}
	return p
}

// crState decodes a crossover's state for c. State written with other parameters keeps what still
// means the same: the phases (the side the key is on and what was announced) always, the newest
// values of an SMA's history, and an EMA's averages only if both lengths are unchanged (an EMA
// with other lengths warms up again).
func (d *decoder) crState(c *crossover) crState {
	var s crState
	if v := d.byte(); d.err == nil && v != crVersion {
		d.err = fmt.Errorf("crossover %q: unsupported state version %d (want %d)", c.Name, v, crVersion)
		return s
	}
	avg := d.byte()
	fast, slow := d.uvarint(), d.uvarint()
	flags := d.byte()
	s.latestHas = flags&1 != 0
	s.pb, s.pc = d.crPhase(), d.crPhase()
	switch avg {
	case 0:
		n := d.count()
		var hist []float64
		for range n {
			hist = append(hist, d.float())
		}
		if c.Average == SMA {
			// Keep the newest values when the slow average got shorter.
			hist = hist[max(0, len(hist)-c.Slow):]
			s.hist = append(make([]float64, 0, c.Slow), hist...)
		}
	case 1:
		var accs [2]emaAcc
		for i := range accs {
			accs[i] = emaAcc{n: d.varint(), sum: d.float(), comp: d.float(), fast: d.float(), slow: d.float()}
			if accs[i].n < 0 || accs[i].n > int64(slow)+1 {
				d.fail("crossover count")
			}
		}
		if c.Average == EMA && fast == uint64(c.Fast) && slow == uint64(c.Slow) {
			s.before, s.cur = accs[0], accs[1]
		}
	default:
		d.fail("crossover average")
	}
	return s
}
