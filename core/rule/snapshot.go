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
// Rule states are length-prefixed and matched to the engine's rules by kind and name when
// restored, so a snapshot survives rules being added, removed or reordered: unknown rules are
// skipped and new rules start fresh.
const (
	snapMagic   = "eRUL"
	snapVersion = 1

	kindThreshold = 1
	kindAnomaly   = 2

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
	b = binary.AppendUvarint(b, uint64(len(s.thresholds)+len(s.anomalies)))
	for _, t := range s.thresholds {
		b = append(b, kindThreshold)
		b = appendString(b, t.Name)
	}
	for _, a := range s.anomalies {
		b = append(b, kindAnomaly)
		b = appendString(b, a.Name)
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
	// slot maps each snapshot rule to an index into the engine's thresholds (>= 0), anomalies
	// (encoded as -1-i), or none (math.MinInt).
	slot := make([]int, 0, n)
	for range n {
		kind, name := d.byte(), d.string()
		idx := math.MinInt
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
					idx = -1 - i
				}
			}
		default:
			if d.err == nil {
				d.err = fmt.Errorf("rule %q: unknown rule kind %d", name, kind)
			}
		}
		slot = append(slot, idx)
	}
	nkeys := d.count()
	keys := make(map[string]*keyState, nkeys)
	for range nkeys {
		if d.err != nil {
			break
		}
		k := d.string()
		ks := &keyState{th: make([]thPair, len(s.thresholds)), an: make([]anState, len(s.anomalies))}
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
		for _, idx := range slot {
			rd := &decoder{b: d.bytes(d.count())}
			switch {
			case idx == math.MinInt:
				continue
			case idx >= 0:
				ks.th[idx] = rd.thPair()
			default:
				a := s.anomalies[-1-idx]
				ks.an[-1-idx] = rd.anState(a)
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
