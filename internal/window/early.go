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
func (o *Operator) noteEarly(ks *keyState, emit Emit) {
	if o.eEvery > 0 && !ks.edirty {
		ks.edirty = true
		o.eDirty = append(o.eDirty, ks)
	}
	if o.eCount > 0 {
		ks.ecnt++
		if int64(ks.ecnt) >= o.eCount {
			ks.ecnt = 0
			if o.keys[ks.key] == ks {
				o.fireEarly(ks, emit)
			}
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
	if o.eEvery == 0 || now.IsZero() {
		return
	}
	t := now.UnixNano()
	if o.eNext == 0 {
		// The first call starts the clock: a run whose invocations all carry one time (a test,
		// a replay) then fires by count only, and splitting it into batches changes nothing.
		o.eNext = floorDiv(t, o.eEvery)*o.eEvery + o.eEvery
		return
	}
	if t < o.eNext {
		return
	}
	o.eNext = floorDiv(t, o.eEvery)*o.eEvery + o.eEvery
	keys := o.eDirty
	slices.SortFunc(keys, func(x, y *keyState) int { return strings.Compare(x.key, y.key) })
	for _, ks := range keys {
		ks.edirty = false
		// A key dropped since (all its windows closed) has nothing to say.
		if o.keys[ks.key] == ks {
			o.fireEarly(ks, emit)
		}
	}
	clear(keys)
	o.eDirty = keys[:0]
}

// fireEarly emits ks's early results.
func (o *Operator) fireEarly(ks *keyState, emit Emit) {
	o.res.Early = true
	defer func() { o.res.Early = false }()
	switch o.spec.Kind {
	case Tumbling, Sliding:
		o.earlySliced(ks, emit)
	case Session:
		for i := range ks.sessions {
			s := &ks.sessions[i]
			if !s.fired {
				o.emitSpan(emit, ks.key, s.start, s.end, s.emitted, o.srow(s))
				s.emitted++
			}
		}
	case Count:
		o.earlyCount(ks, emit)
	case Global:
		if ks.glob != nil {
			o.emit(emit, ks.key, time.Time{}, o.Watermark(), ks.gEmit, false, ks.glob)
			ks.gEmit++
		}
	}
}

// earlySliced emits ks's next window to fire as it stands, reading the two-stacks aggregator
// without changing it: the front slot at the window's first slice (a suffix aggregate) and the
// back, or the back's raw slices from there, then the slices not in the aggregator yet.
func (o *Operator) earlySliced(ks *keyState, emit Emit) {
	e := o.nextEnd(ks)
	if e == never {
		return
	}
	sIdx, eIdx := floorDiv(e-o.size, o.sl), floorDiv(e, o.sl)
	q := &ks.q
	r := o.row
	o.plan.FreeRow(r, &o.sk)
	any := false
	i := 0
	for i < int(ks.p) && q.idx(o.st, i) < sIdx {
		i++
	}
	switch {
	case i < int(ks.b):
		o.plan.MergeRow(r, q.row(o.st, i), &o.sk)
		if ks.b < ks.p {
			o.plan.MergeRow(r, o.back(ks), &o.sk)
		}
		any = true
	case i == int(ks.b) && ks.b < ks.p:
		o.plan.MergeRow(r, o.back(ks), &o.sk)
		any = true
	default:
		for ; i < int(ks.p); i++ {
			o.plan.MergeRow(r, q.row(o.st, i), &o.sk)
			any = true
		}
	}
	for k := int(ks.p); k < q.len() && q.idx(o.st, k) < eIdx; k++ {
		if q.idx(o.st, k) >= sIdx {
			o.plan.MergeRow(r, q.row(o.st, k), &o.sk)
			any = true
		}
	}
	if !any {
		return
	}
	o.emitSpan(emit, ks.key, e-o.size, e, o.nextRev(ks, e), r)
}

// earlyCount emits the count window in progress: the slices it shares with the last one that fired
// and the current slice.
func (o *Operator) earlyCount(ks *keyState, emit Emit) {
	from := max(0, len(ks.ring)-(o.countSlices-1))
	parts := ks.ring[from:]
	if len(parts) == 0 && ks.cur.n == 0 {
		return
	}
	r := o.row
	o.plan.FreeRow(r, &o.sk)
	lo, hi := int64(maxTime), int64(minTime)
	add := func(c *cslot) {
		o.plan.MergeRow(r, c.p, &o.sk)
		lo, hi = min(lo, c.lo), max(hi, c.hi)
	}
	for i := range parts {
		add(&parts[i])
	}
	if ks.cur.n > 0 {
		add(&ks.cur)
	}
	o.emit(emit, ks.key, time.Unix(0, lo).UTC(), time.Unix(0, hi).UTC(), ks.gEmit, false, r)
	ks.gEmit++
}

// appendEarly appends the early firings' state (snapshot version 2): the next Every firing, then per
// key in keys' order its count toward Early.Count, its dirty mark and its early revisions of count
// windows.
func (o *Operator) appendEarly(b []byte, keys []string) []byte {
	b = binary.AppendVarint(b, o.eNext)
	for _, k := range keys {
		ks := o.keys[k]
		b = binary.AppendUvarint(b, uint64(ks.ecnt))
		b = appendBool(b, ks.edirty)
		if o.spec.Kind == Count {
			b = binary.AppendUvarint(b, uint64(ks.gEmit))
		}
	}
	return b
}

// readEarly reads what appendEarly wrote, for the keys restored in order.
func (o *Operator) readEarly(d *decoder, keys []*keyState) {
	o.eNext = d.varint()
	for _, ks := range keys {
		ks.ecnt = int32(d.uvarint())
		if ks.edirty = d.bool(); ks.edirty {
			o.eDirty = append(o.eDirty, ks)
		}
		if o.spec.Kind == Count {
			ks.gEmit = int(d.uvarint())
		}
	}
}

// EarlyEvery is the operator's Early.Every: when not zero, ticks change its state and emit (a
// runner that skips ticks, or emits before it commits on the grounds that ticks cannot race a
// batch, must not treat it as tick-free).
func (o *Operator) EarlyEvery() time.Duration { return time.Duration(o.eEvery) }
