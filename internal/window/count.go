package window

import (
	"encoding/binary"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// countWindows are count windows: a key's windows hold its last count events (in arrival order)
// and advance every slide events. The key keeps one partial per slide of events (cslot): the one
// filling, and the full ones the next window shares.
type countWindows struct {
	*Operator
	noLateness
	notTimed
	// slide is the events a window advances by, slices the slides a window spans.
	slide  int64
	slices int
}

func newCount(o *Operator, count, slide int) *countWindows {
	if slide == 0 {
		slide = count
	}
	return &countWindows{Operator: o, slide: int64(slide), slices: count / slide}
}

// countKey is one key's count windows.
type countKey struct {
	keyHead
	cur  cslot
	ring []cslot
	// emitted counts the key's results when there are early firings (see addCount).
	emitted int
}

// cslot is the partial of a slide of events, and the span of their times.
type cslot struct {
	p      aggregate.Row
	n      int
	lo, hi int64
}

// countOf returns the countKey whose head h is.
func countOf(h *keyHead) *countKey { return keyAt[countKey](h, 0) }

func (c *countWindows) newKey(key string) *keyHead {
	ks := &countKey{}
	ks.keyHead.init(key)
	return &ks.keyHead
}

func (c *countWindows) add(ev *core.Event, emit Emit) (late bool) {
	h := c.key(ev.Key)
	// A count window fires on its events, never by the watermark: nothing to file.
	c.addCount(countOf(h), ev, ev.Time.UnixNano(), emit)
	if c.early {
		c.noteEarly(h, emit)
	}
	return false
}

func (c *countWindows) addCount(ks *countKey, ev *core.Event, ts int64, emit Emit) {
	cur := &ks.cur
	if cur.n == 0 {
		cur.p = c.newRow()
		cur.lo, cur.hi = ts, ts
	}
	c.addTo(c.where(ev), cur.p, ev, ts)
	cur.n++
	cur.lo, cur.hi = min(cur.lo, ts), max(cur.hi, ts)
	if int64(cur.n) < c.slide {
		return
	}
	ks.ring = append(ks.ring, *cur)
	ks.cur = cslot{}
	if len(ks.ring) > c.slices {
		c.plan.FreeRow(ks.ring[0].p, &c.sk)
		ks.ring[0] = cslot{}
		ks.ring = ks.ring[1:]
	}
	if len(ks.ring) < c.slices {
		return
	}
	p := ks.ring[0].p
	lo, hi := ks.ring[0].lo, ks.ring[0].hi
	if len(ks.ring) > 1 {
		c.plan.FreeRow(c.row, &c.sk)
		for i := range ks.ring {
			c.plan.MergeRow(c.row, ks.ring[i].p, &c.sk)
			lo, hi = min(lo, ks.ring[i].lo), max(hi, ks.ring[i].hi)
		}
		p = c.row
	}
	// With early firings a key's count windows number their results in one sequence (early ones
	// included): a count window's span is known only when it closes, and consecutive windows of a
	// key may share one, so only a key-wide count keeps ids unique. Without them it stays 0.
	c.emit(emit, ks.key, time.Unix(0, lo).UTC(), time.Unix(0, hi).UTC(), ks.emitted, true, p)
	if c.early {
		ks.emitted++
	}
	if c.slices == 1 {
		c.plan.FreeRow(ks.ring[0].p, &c.sk)
		ks.ring = ks.ring[:0]
	}
}

func (c *countWindows) footprint(h *keyHead) (partials, revs, slices int) {
	return len(countOf(h).ring) + 1, 0, 0
}

func (c *countWindows) describe(*keyHead) string { return "count window" }

// fireEarly emits the count window in progress: the slices it shares with the last one that fired
// and the current slice.
func (c *countWindows) fireEarly(h *keyHead, emit Emit) {
	ks := countOf(h)
	from := max(0, len(ks.ring)-(c.slices-1))
	parts := ks.ring[from:]
	if len(parts) == 0 && ks.cur.n == 0 {
		return
	}
	r := c.row
	c.plan.FreeRow(r, &c.sk)
	lo, hi := int64(maxTime), int64(minTime)
	add := func(s *cslot) {
		c.plan.MergeRow(r, s.p, &c.sk)
		lo, hi = min(lo, s.lo), max(hi, s.hi)
	}
	for i := range parts {
		add(&parts[i])
	}
	if ks.cur.n > 0 {
		add(&ks.cur)
	}
	c.emit(emit, ks.key, time.Unix(0, lo).UTC(), time.Unix(0, hi).UTC(), ks.emitted, false, r)
	ks.emitted++
}

func (c *countWindows) appendKey(b []byte, h *keyHead) []byte {
	ks := countOf(h)
	b = c.appendCslot(b, &ks.cur)
	b = binary.AppendUvarint(b, uint64(len(ks.ring)))
	for i := range ks.ring {
		b = c.appendCslot(b, &ks.ring[i])
	}
	return b
}

func (c *countWindows) appendCslot(b []byte, s *cslot) []byte {
	b = binary.AppendUvarint(b, uint64(s.n))
	if s.n == 0 {
		return b
	}
	b = binary.AppendVarint(b, s.lo)
	b = binary.AppendVarint(b, s.hi)
	return c.plan.AppendRow(b, s.p, &c.sk)
}

func (c *countWindows) readKey(d *decoder, h *keyHead) {
	ks := countOf(h)
	ks.cur = c.readCslot(d)
	nr := d.count()
	for j := 0; j < nr && d.err == nil; j++ {
		ks.ring = append(ks.ring, c.readCslot(d))
	}
}

func (c *countWindows) readCslot(d *decoder) cslot {
	s := cslot{n: int(d.uvarint())}
	if s.n == 0 || d.err != nil {
		return s
	}
	s.lo, s.hi = d.time(), d.time()
	if s.n < 0 || s.lo > s.hi {
		d.fail()
		return cslot{}
	}
	s.p = c.newRow()
	d.row(c.Operator, s.p)
	return s
}

// appendEarly appends the key's result count: early firings number count windows' results.
func (c *countWindows) appendEarly(b []byte, h *keyHead) []byte {
	return binary.AppendUvarint(b, uint64(countOf(h).emitted))
}

func (c *countWindows) readEarly(d *decoder, h *keyHead) { countOf(h).emitted = int(d.uvarint()) }
