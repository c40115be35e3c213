package window

import (
	"encoding/binary"
	"slices"
	"strings"
	"time"
)

// Early firings stay off the per-event path unless configured: Add tests one flag, and the work is
// a key's counter and dirty mark (noteEarly) plus, once per Every, a pass over the keys that
// changed (FireEarly). Firing a key reads its state and writes only revision counters, so a window's
// on-time and late results are exactly those without early firings, with revisions shifted by the
// number of early results that came before.

// noteEarly counts ev's key toward Early.Count (firing it when the count is reached) and marks it
// for the next Every firing.
func (o *Operator) noteEarly(h *keyHead, emit Emit) {
	if o.earlyEvery > 0 && !h.inDirtyKeys() {
		h.setInDirtyKeys(true)
		o.dirtyKeys = append(o.dirtyKeys, h)
	}
	if o.earlyCount > 0 {
		n := h.earlyEvents() + 1
		if int64(n) >= o.earlyCount {
			n = 0
		}
		h.setEarlyEvents(n)
		if n == 0 && o.keys[h.key] == h {
			o.fireEarly(h, emit)
		}
	}
}

// FireEarly fires early, when Early.Every is set and now has reached the next multiple of Every
// after the previous call that fired (or the first call, which only starts the clock), the windows
// of every key that received events since the last firing, in key order.
// The pipeline calls it once per batch with the batch's time and on every tick, so a quiet stream
// speaks too; the times it is given are the only processing-time input, and the next firing time
// is part of the snapshot.
func (o *Operator) FireEarly(now time.Time, emit Emit) {
	if o.earlyEvery == 0 || now.IsZero() {
		return
	}
	t := now.UnixNano()
	if o.earlyNext == 0 {
		// The first call starts the clock: a run whose invocations all carry one time (a test,
		// a replay) then fires by count only, and splitting it into batches changes nothing.
		o.earlyNext = floorDiv(t, o.earlyEvery)*o.earlyEvery + o.earlyEvery
		return
	}
	if t < o.earlyNext {
		return
	}
	o.earlyNext = floorDiv(t, o.earlyEvery)*o.earlyEvery + o.earlyEvery
	keys := o.dirtyKeys
	slices.SortFunc(keys, func(x, y *keyHead) int { return strings.Compare(x.key, y.key) })
	for _, h := range keys {
		h.setInDirtyKeys(false)
		// A key dropped since (all its windows closed) has nothing to say.
		if o.keys[h.key] == h {
			o.fireEarly(h, emit)
		}
	}
	clear(keys)
	o.dirtyKeys = keys[:0]
}

// fireEarly emits h's early results.
func (o *Operator) fireEarly(h *keyHead, emit Emit) {
	o.res.Early = true
	defer func() { o.res.Early = false }()
	o.kind.fireEarly(h, emit)
}

// appendEarlyState appends the early firings' state (snapshot version 2): the next Every firing, then per
// key in keys' order its count toward Early.Count, its dirty mark and the kind's own early state
// (a count window key's result count).
func (o *Operator) appendEarlyState(b []byte, keys []string) []byte {
	b = binary.AppendVarint(b, o.earlyNext)
	for _, k := range keys {
		h := o.keys[k]
		b = binary.AppendUvarint(b, uint64(h.earlyEvents()))
		b = appendBool(b, h.inDirtyKeys())
		b = o.kind.appendEarly(b, h)
	}
	return b
}

// readEarlyState reads what appendEarlyState wrote, for the keys restored in order.
func (o *Operator) readEarlyState(d *decoder, keys []*keyHead) {
	o.earlyNext = d.varint()
	for _, h := range keys {
		h.setEarlyEvents(uint32(d.uvarint()))
		if d.bool() {
			h.setInDirtyKeys(true)
			o.dirtyKeys = append(o.dirtyKeys, h)
		}
		o.kind.readEarly(d, h)
	}
}

// EarlyEvery is the operator's Early.Every: when not zero, ticks change its state and emit (a
// runner that skips ticks, or emits before it commits on the grounds that ticks cannot race a
// batch, must not treat it as tick-free).
func (o *Operator) EarlyEvery() time.Duration { return time.Duration(o.earlyEvery) }
