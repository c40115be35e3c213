package pattern

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/eddyhq/eddy/core"
)

// Snapshot format, version 2 (all integers varint or uvarint unless noted):
//
//	"ep" version(1 byte) fingerprint(8 bytes LE) watermark seq ord rid
//	counters: events late matches absences dropped expired evalErrors
//	nkeys, per key (sorted): key last nruns runs...
//	npending, per event (in (time, arrival) order): keyIndex t seq fp mask vals
//
// run: id step count total deadline hash(8 bytes LE), then per positive step: n [first last]
// evRef: t ord fp vals (fp: the payload's fingerprint, 8 bytes LE; version 1 had the record id, a
// string, read now as its fingerprint); vals: n, per value: kind, then Number 8 bytes LE | String, Object len+bytes |
// Bool 1 byte. Strings are uvarint length + bytes.
const snapshotVersion = 2

// ErrSnapshot is wrapped by every error UnmarshalBinary returns for bytes it cannot read.
var ErrSnapshot = errors.New("pattern snapshot")

// AppendBinary appends the matcher's whole state (buffered events, partial matches, absence
// deadlines, watermark and counters) to b. The bytes are deterministic for a given state.
func (m *Matcher) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, 'e', 'p', snapshotVersion)
	b = binary.LittleEndian.AppendUint64(b, m.p.fp)
	b = binary.AppendVarint(b, m.wm)
	for _, u := range []uint64{m.seq, m.ord, m.rid, m.st.Events, m.st.Late, m.st.Matches, m.st.Absences, m.st.DroppedPartials, m.st.ExpiredPartials, m.st.EvalErrors} {
		b = binary.AppendUvarint(b, u)
	}
	keys := make([]*keyState, 0, len(m.keys))
	for _, ks := range m.keys {
		keys = append(keys, ks)
	}
	slices.SortFunc(keys, func(a, b *keyState) int { return strings.Compare(a.key, b.key) })
	index := make(map[*keyState]uint64, len(keys))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for i, ks := range keys {
		index[ks] = uint64(i)
		b = appendString(b, ks.key)
		b = binary.AppendVarint(b, ks.last)
		b = binary.AppendUvarint(b, uint64(len(ks.runs)))
		for j := range ks.runs {
			b = m.appendRun(b, &ks.runs[j])
		}
	}
	evs := slices.Clone(m.events)
	slices.SortFunc(evs, func(a, b evItem) int {
		if a.less(b) {
			return -1
		}
		return 1
	})
	b = binary.AppendUvarint(b, uint64(len(evs)))
	for _, it := range evs {
		pe := &m.slots[it.slot]
		b = binary.AppendUvarint(b, index[pe.ks])
		b = binary.AppendVarint(b, pe.t)
		b = binary.AppendUvarint(b, pe.seq)
		b = binary.LittleEndian.AppendUint64(b, pe.fp)
		b = binary.AppendUvarint(b, pe.mask)
		b = appendVals(b, pe.vals)
	}
	return b, nil
}

func (m *Matcher) appendRun(b []byte, r *run) []byte {
	b = binary.AppendUvarint(b, r.id)
	b = binary.AppendUvarint(b, uint64(r.step))
	b = binary.AppendUvarint(b, uint64(r.count))
	b = binary.AppendUvarint(b, uint64(r.total))
	b = binary.AppendVarint(b, r.deadline)
	b = binary.LittleEndian.AppendUint64(b, r.hash)
	for i := range r.caps {
		c := &r.caps[i]
		b = binary.AppendUvarint(b, uint64(c.n))
		if c.n > 0 {
			b = appendRef(b, &c.first)
			b = appendRef(b, &c.last)
		}
	}
	return b
}

func appendRef(b []byte, e *evRef) []byte {
	b = binary.AppendVarint(b, e.t)
	b = binary.AppendUvarint(b, e.ord)
	b = binary.LittleEndian.AppendUint64(b, e.fp)
	return appendVals(b, e.vals)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendVals(b []byte, vals []core.Value) []byte {
	b = binary.AppendUvarint(b, uint64(len(vals)))
	for _, v := range vals {
		b = append(b, byte(v.Kind))
		switch v.Kind {
		case core.Number:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Num))
		case core.String:
			b = appendString(b, v.Str)
		case core.Bool:
			if v.Bool {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case core.Object:
			b = appendString(b, string(v.Raw))
		}
	}
	return b
}

// UnmarshalBinary replaces the matcher's state with a snapshot from AppendBinary. It fails, leaving
// the matcher unchanged, on bytes it cannot read or a snapshot of a different pattern definition.
func (m *Matcher) UnmarshalBinary(data []byte) error {
	n := m.p.NewMatcher()
	if err := n.restore(data); err != nil {
		return fmt.Errorf("%w of %q: %w", ErrSnapshot, m.p.name, err)
	}
	*m = *n
	return nil
}

type reader struct {
	b   []byte
	err error
	v1  bool // a version 1 snapshot: record ids where version 2 has fingerprints
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or malformed integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated or malformed integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) fixed64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// count reads a length, refusing more items than the remaining bytes could hold.
func (r *reader) count(what string) int {
	v := r.uvarint()
	if r.err == nil && v > uint64(len(r.b)) {
		r.fail("%s count %d exceeds the %d bytes left", what, v, len(r.b))
		return 0
	}
	return int(v)
}

// fp reads an event's fingerprint.
func (r *reader) fp() uint64 {
	if r.v1 {
		return payloadHash([]byte(r.string()))
	}
	return r.fixed64()
}

func (r *reader) string() string {
	n := r.count("string")
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) vals(want int) []core.Value {
	n := r.count("value")
	if r.err != nil {
		return nil
	}
	if n != want {
		r.fail("%d values, the pattern keeps %d", n, want)
		return nil
	}
	if n == 0 {
		return nil
	}
	vals := make([]core.Value, n)
	for i := range vals {
		k := core.Kind(r.byte())
		switch k {
		case core.Missing, core.Null:
		case core.Number:
			vals[i].Num = math.Float64frombits(r.fixed64())
		case core.String:
			vals[i].Str = r.string()
		case core.Bool:
			switch r.byte() {
			case 0:
			case 1:
				vals[i].Bool = true
			default:
				r.fail("bad bool")
			}
		case core.Object:
			vals[i].Raw = []byte(r.string())
		default:
			r.fail("unknown value kind %d", k)
		}
		vals[i].Kind = k
	}
	return vals
}

func (r *reader) ref(nvals int) evRef {
	return evRef{t: r.varint(), ord: r.uvarint(), fp: r.fp(), vals: r.vals(nvals)}
}

const maxCount = 1 << 30

func (m *Matcher) restore(data []byte) error {
	p := m.p
	r := &reader{b: data}
	if len(data) < 3 || data[0] != 'e' || data[1] != 'p' {
		return errors.New("not a pattern snapshot")
	}
	if data[2] != snapshotVersion && data[2] != 1 {
		return fmt.Errorf("snapshot version %d, this build reads 1 and %d", data[2], snapshotVersion)
	}
	r.v1 = data[2] == 1
	r.b = data[3:]
	if fp := r.fixed64(); r.err == nil && fp != p.fp {
		return errors.New("the snapshot was taken for a different definition of the pattern")
	}
	m.wm = r.varint()
	c := []*uint64{&m.seq, &m.ord, &m.rid, &m.st.Events, &m.st.Late, &m.st.Matches, &m.st.Absences, &m.st.DroppedPartials, &m.st.ExpiredPartials, &m.st.EvalErrors}
	for _, u := range c {
		*u = r.uvarint()
	}
	nsteps := len(p.steps)
	nvals := len(p.retained)
	nkeys := r.count("key")
	keys := make([]*keyState, 0, nkeys)
	for i := 0; i < nkeys && r.err == nil; i++ {
		ks := &keyState{key: r.string(), last: r.varint()}
		if _, dup := m.keys[ks.key]; dup && r.err == nil {
			r.fail("key %q twice", ks.key)
		}
		nruns := r.count("run")
		for j := 0; j < nruns && r.err == nil; j++ {
			ru := run{id: r.uvarint()}
			step, count, total := r.uvarint(), r.uvarint(), r.uvarint()
			ru.deadline = r.varint()
			ru.hash = r.fixed64()
			limit := uint64(nsteps)
			if p.absent == nil {
				limit--
			}
			if step > limit || count > maxCount || total > maxCount || (count == 0 && step < uint64(nsteps)) {
				r.fail("key %q: bad partial match (step %d, count %d)", ks.key, step, count)
				break
			}
			ru.step, ru.count, ru.total = int32(step), int32(count), int32(total)
			ru.caps = make([]capture, nsteps)
			for s := 0; s < nsteps && r.err == nil; s++ {
				n := r.uvarint()
				if n > maxCount {
					r.fail("key %q: bad capture count", ks.key)
					break
				}
				ru.caps[s].n = int32(n)
				if n > 0 {
					ru.caps[s].first = r.ref(nvals)
					ru.caps[s].last = r.ref(nvals)
				}
			}
			if r.err == nil && ru.caps[0].n == 0 {
				r.fail("key %q: partial match without a first event", ks.key)
			}
			if r.err == nil && int(ru.step) == nsteps && ru.caps[nsteps-1].n == 0 {
				r.fail("key %q: absence wait without its last event", ks.key)
			}
			ks.runs = append(ks.runs, ru)
			if int(ru.step) == nsteps {
				m.timers.push(timerItem{deadline: ru.deadline, id: ru.id, ks: ks})
			}
		}
		m.keys[ks.key] = ks
		keys = append(keys, ks)
	}
	npend := r.count("event")
	for i := 0; i < npend && r.err == nil; i++ {
		k := r.uvarint()
		if r.err == nil && k >= uint64(len(keys)) {
			r.fail("event of key %d, only %d keys", k, len(keys))
			break
		}
		pe := pending{t: r.varint(), seq: r.uvarint(), fp: r.fp(), mask: r.uvarint(), vals: r.vals(nvals)}
		if r.err != nil {
			break
		}
		pe.ks = keys[k]
		pe.ks.pending++
		m.slots = append(m.slots, pe)
		m.events.push(evItem{t: pe.t, seq: pe.seq, slot: int32(len(m.slots) - 1)})
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}
