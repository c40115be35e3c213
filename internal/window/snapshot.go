package window

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/eddyhq/eddy/internal/aggregate"
)

// snapshotVersion is the operator state's encoding version. Bump it when the layout changes, and
// keep Restore reading every older version.
//
// Version 2 is version 1 followed by the early firings' state (appendEarly); operators without
// early firings keep writing version 1, byte for byte what they wrote before.
const (
	snapshotVersion      = 1
	snapshotVersionEarly = 2
)

var errSnapshot = errors.New("corrupt window snapshot")

// AppendBinary appends the operator's whole state (watermark and every key's windows) in a compact,
// versioned encoding. Keys are written in order, so equal states encode to equal bytes.
func (o *Operator) AppendBinary(b []byte) []byte {
	if o.early {
		b = append(b, snapshotVersionEarly)
	} else {
		b = append(b, snapshotVersion)
	}
	b = binary.AppendVarint(b, o.wm)
	keys := make([]string, 0, len(o.keys))
	for k := range o.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		ks := o.keys[k]
		b = appendString(b, k)
		switch o.spec.Kind {
		case Tumbling, Sliding:
			b = binary.AppendVarint(b, ks.lastEnd)
			b = binary.AppendVarint(b, ks.floor)
			b = binary.AppendUvarint(b, uint64(ks.q.n))
			b = binary.AppendUvarint(b, uint64(ks.b))
			b = binary.AppendUvarint(b, uint64(ks.p))
			b = o.appendSlots(b, &ks.q)
			if ks.b < ks.p {
				b = o.plan.AppendRow(b, o.back(ks), &o.sk)
			}
			b = binary.AppendUvarint(b, uint64(ks.raw.n))
			b = o.appendSlots(b, &ks.raw)
			b = binary.AppendUvarint(b, uint64(len(ks.revs)))
			for _, r := range ks.revs {
				b = binary.AppendVarint(b, r.end)
				b = binary.AppendUvarint(b, uint64(r.n))
			}
		case Session:
			b = binary.AppendUvarint(b, uint64(len(ks.sessions)))
			for i := range ks.sessions {
				s := &ks.sessions[i]
				b = binary.AppendVarint(b, s.start)
				b = binary.AppendVarint(b, s.end)
				b = binary.AppendUvarint(b, uint64(s.emitted))
				b = appendBool(b, s.fired)
				b = o.plan.AppendRow(b, o.srow(s), &o.sk)
			}
		case Count:
			b = o.appendCslot(b, &ks.cur)
			b = binary.AppendUvarint(b, uint64(len(ks.ring)))
			for i := range ks.ring {
				b = o.appendCslot(b, &ks.ring[i])
			}
		case Global:
			b = binary.AppendUvarint(b, uint64(ks.gEmit))
			b = appendBool(b, ks.dirty)
			b = o.appendRow(b, ks.glob)
		}
	}
	if o.early {
		b = o.appendEarly(b, keys)
	}
	return b
}

func (o *Operator) appendSlots(b []byte, q *ring) []byte {
	for i := range q.len() {
		b = binary.AppendVarint(b, q.idx(o.st, i))
		b = o.plan.AppendRow(b, q.row(o.st, i), &o.sk)
	}
	return b
}

// appendRow appends r's encoding, an empty partial's when r is nil.
func (o *Operator) appendRow(b []byte, r aggregate.Row) []byte {
	if r == nil {
		r = o.newRow()
	}
	return o.plan.AppendRow(b, r, &o.sk)
}

func (o *Operator) appendCslot(b []byte, c *cslot) []byte {
	b = binary.AppendUvarint(b, uint64(c.n))
	if c.n == 0 {
		return b
	}
	b = binary.AppendVarint(b, c.lo)
	b = binary.AppendVarint(b, c.hi)
	return o.plan.AppendRow(b, c.p, &o.sk)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// decoder reads a snapshot, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errSnapshot
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length and checks it against what is left, so garbage cannot ask for huge slices.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 {
		d.fail()
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v == 1
}

// row decodes a partial into r, which must be empty.
func (d *decoder) row(o *Operator, r aggregate.Row) {
	if d.err != nil {
		return
	}
	rest, err := o.plan.DecodeRow(d.b, r, &o.sk)
	if err != nil {
		d.err = err
		d.b = nil
		return
	}
	d.b = rest
}

// saneLimit bounds every time a snapshot may hold (about ±146 years around 1970, unix ns), so that
// window arithmetic on it (an end plus a size, a slide and the lateness) cannot overflow: a corrupt
// snapshot is refused instead of sending Flush through billions of windows.
const saneLimit = int64(1) << 62

// time reads a time that is either minTime (unset), maxTime (the end of the stream: a flushed
// operator's watermark) or within ±saneLimit.
func (d *decoder) time() int64 {
	t := d.varint()
	if t != minTime && t != maxTime && (t < -saneLimit || t > saneLimit) {
		d.fail()
		return 0
	}
	return t
}

// Restore replaces the operator's state with a snapshot from AppendBinary. An empty snapshot means
// fresh state.
func (o *Operator) Restore(b []byte) error {
	o.keys = make(map[string]*keyState)
	o.due.reset()
	o.wm, o.closed = minTime, minTime
	o.sk = aggregate.Sketches{}
	o.eNext, o.eDirty = 0, nil
	if len(b) == 0 {
		return nil
	}
	if b[0] != snapshotVersion && b[0] != snapshotVersionEarly {
		return fmt.Errorf("window snapshot version %d: this release reads versions %d and %d", b[0], snapshotVersion, snapshotVersionEarly)
	}
	// A snapshot without early state restores into an operator with early firings (which start
	// from nothing) and the other way round (the early state is dropped): the spec may change.
	withEarly := b[0] == snapshotVersionEarly
	var order []*keyState
	d := &decoder{b: b[1:]}
	o.wm = d.time()
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		ks := o.newKey(d.string())
		switch o.spec.Kind {
		case Tumbling, Sliding:
			ks.lastEnd = d.time()
			ks.floor = d.time()
			nq, nb, np := d.count(), d.count(), d.count()
			if nb > np || np > nq {
				d.fail()
			}
			o.readSlots(d, &ks.q, nq)
			ks.b, ks.p = int32(nb), int32(np)
			ks.syncHead(o.st)
			if nq > 0 && d.err == nil {
				ks.tIdx = ks.q.idx(o.st, nq-1)
			}
			if nb < np {
				d.row(o, o.back(ks))
			}
			o.readSlots(d, &ks.raw, d.count())
			nr := d.count()
			for j := 0; j < nr && d.err == nil; j++ {
				r := rev{end: d.time(), n: int(d.uvarint())}
				if r.n < 0 || (j > 0 && r.end <= ks.revs[j-1].end) {
					d.fail() // revisions are counts, in order of window end
				}
				ks.revs = append(ks.revs, r)
			}
		case Session:
			ns := d.count()
			for j := 0; j < ns && d.err == nil; j++ {
				start, end := d.time(), d.time()
				if start > end || (j > 0 && start < ks.sessions[j-1].start) {
					d.fail() // sessions are spans, in order
				}
				s := o.newSession(start, end)
				s.emitted, s.fired = int(d.uvarint()), d.bool()
				if s.emitted < 0 {
					d.fail()
				}
				d.row(o, o.srow(&s))
				ks.sessions = append(ks.sessions, s)
			}
		case Count:
			ks.cur = o.readCslot(d)
			nr := d.count()
			for j := 0; j < nr && d.err == nil; j++ {
				ks.ring = append(ks.ring, o.readCslot(d))
			}
		case Global:
			ks.gEmit = int(d.uvarint())
			ks.dirty = d.bool()
			ks.glob = o.newRow()
			d.row(o, ks.glob)
		}
		if d.err != nil {
			break
		}
		o.keys[ks.key] = ks
		o.schedule(ks, 0)
		if withEarly {
			order = append(order, ks)
		}
	}
	if withEarly && d.err == nil {
		o.readEarly(d, order)
		if !o.early {
			for _, ks := range order {
				ks.edirty, ks.ecnt = false, 0
			}
			o.eDirty, o.eNext = nil, 0
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		o.keys = make(map[string]*keyState)
		o.due.reset()
		o.wm = minTime
		o.eNext, o.eDirty = 0, nil
		return fmt.Errorf("restore window state: %w", d.err)
	}
	return nil
}

func (o *Operator) readSlots(d *decoder, q *ring, n int) {
	for i := 0; i < n && d.err == nil; i++ {
		idx := d.varint()
		if i > 0 && idx <= q.idx(o.st, q.len()-1) {
			d.fail() // slices are in order
			return
		}
		if idx < -saneLimit/o.sl || idx > saneLimit/o.sl {
			d.fail() // the slice's time would overflow window arithmetic
			return
		}
		d.row(o, q.push(o.st, idx, o.hint))
	}
}

func (o *Operator) readCslot(d *decoder) cslot {
	c := cslot{n: int(d.uvarint())}
	if c.n == 0 || d.err != nil {
		return c
	}
	c.lo, c.hi = d.time(), d.time()
	if c.n < 0 || c.lo > c.hi {
		d.fail()
		return cslot{}
	}
	c.p = o.newRow()
	d.row(o, c.p)
	return c
}
