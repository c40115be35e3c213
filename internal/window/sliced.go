package window

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// slicedWindows are tumbling and sliding windows: time is cut into slices of length slice (the
// greatest common divisor of size and slide; a tumbling window is one slice), each key keeps its
// non-empty slices in a ring, and a window's aggregate is combined from its slices by a two-stacks
// aggregator. A sliding window fires every key at every slide, which is what most of this file's
// care (layout, prefetching, caching divisions) is for.
type slicedWindows struct {
	*Operator
	size, slide, slice int64
	// stride is the words of a ring slot (see stride), ringHint the slots a key's ring needs when
	// every slice fills.
	stride, ringHint int
	closed           int64 // cache of closedEnd
	// firedEnd is the end of the window fireWindow last fired; firedEndIdx, firedStartIdx and
	// nextStartIdx the indexes of its end slice, its first slice and the next window's first.
	firedEnd, firedEndIdx, firedStartIdx, nextStartIdx int64
}

func newSliced(o *Operator, size, slide int64) *slicedWindows {
	s := &slicedWindows{Operator: o, size: size, slide: slide, slice: gcd(size, slide), closed: minTime, firedEnd: minTime}
	// A window spans size/slice slices; out-of-order events open a few more before it fires.
	s.ringHint = int(min(s.size/s.slice, 1<<16)) + 4
	s.stride = stride(s.width, s.size/s.slice)
	return s
}

// slicedKey is one key's sliced windows.
type slicedKey struct {
	// The first cache line holds what an event reads of its key, the second what a firing reads
	// besides: a sliding window fires every key at every slide, and touching less per key is what
	// keeps it fast (TestKeyStateLayout keeps it so).
	//
	// q holds the key's non-empty slices in order. Slots [0, backStart) are the front of the
	// two-stacks aggregator (each the aggregate of itself and every slice after it up to
	// backStart), [backStart, pendStart) the back (raw slices whose aggregate is back), and
	// [pendStart, q.len()) slices of windows that have not fired yet.
	q ring
	// tIdx caches q's last slice index (when q is not empty): most events fall in the newest slice
	// or open one after it, which this tells without reading the ring.
	tIdx int64
	// hIdx caches q's first slice index (maxTime when the aggregator is empty): the head slot is
	// the key's coldest memory, read at every event and firing otherwise.
	hIdx    int64
	lastEnd int64
	// floor is the end of the last window that closed before the key got an event in it: windows
	// up to it never fire, even if a slice they share with open windows fills.
	floor int64

	keyHead
	backStart, pendStart int32
	// back is the aggregate of the back slices, inline for narrow rows (an average's).
	back inlineRow

	// raw keeps every slice's own partial while windows that fired may still change (allowed
	// lateness > 0), to recompute them; revs counts each open window's emissions.
	raw  ring
	revs []rev
	// The padding makes a slicedKey 256 bytes, a size class whose objects start on a cache line:
	// at 208 most keys' first two lines would straddle three.
	_ [48]byte
}

type rev struct {
	end int64
	n   int
}

const slicedHead = unsafe.Offsetof(slicedKey{}.keyHead)

// slicedOf returns the slicedKey whose head h is.
func slicedOf(h *keyHead) *slicedKey { return keyAt[slicedKey](h, slicedHead) }

// stride is the words of a ring slot for rows of width words: the slice index and the row. When a
// window spans few slices (tumbling ones: one) the ring is a few slots that every event touches,
// and a slot is padded to 2, 4 or 8 words or a multiple of 8 so that none straddles two cache
// lines (a ring's array starts on one in practice: Go's size classes for such arrays are multiples
// of 64 bytes). A window of many slices reads each slot about once, and there density wins:
// measured on W2 (300 slices), 3-word slots run 8% faster than 4-word ones.
func stride(width int, slices int64) int {
	st := 1 + width
	switch {
	case slices > 8:
		return st
	case st <= 2:
		return 2
	case st <= 4:
		return 4
	}
	return (st + 7) &^ 7
}

func (s *slicedWindows) newKey(key string) *keyHead { return &s.newSlicedKey(key).keyHead }

func (s *slicedWindows) newSlicedKey(key string) *slicedKey {
	ks := &slicedKey{lastEnd: minTime, floor: minTime, hIdx: maxTime}
	ks.keyHead.init(key)
	ks.back.init(s.width)
	return ks
}

// back returns the aggregate of ks's back slices.
func (s *slicedWindows) back(ks *slicedKey) aggregate.Row { return ks.back.row(s.width) }

func (s *slicedWindows) isLate(ts int64) bool { return s.slicedLate(ts, s.closedEnd()) }

// slicedLate reports whether ts is late for sliced windows when closed is closedEnd: the last
// window holding ts ends at floor((ts+size)/slide)*slide, closed when that is at most closed, that
// is when ts+size < closed+slide.
func (s *slicedWindows) slicedLate(ts, closed int64) bool { return ts < closed+s.slide-s.size }

func (s *slicedWindows) add(ev *core.Event, emit Emit) (late bool) {
	ts := ev.Time.UnixNano()
	// Late's test, keeping the closed end that addSliced needs too.
	closed := s.closedEnd()
	if s.wm != minTime && s.slicedLate(ts, closed) {
		return true
	}
	var ks *slicedKey
	if h := s.lookup(ev.Key); h != nil {
		ks = slicedOf(h)
	} else {
		ks = s.newSlicedKey(ev.Key)
		s.keys[ev.Key] = &ks.keyHead
	}
	// Otherwise the key's due time did not move earlier, and a later one is found lazily.
	if s.addSliced(ks, ev, ts, closed, emit) {
		s.refile(&ks.keyHead, s.slicedDue(ks), emit)
	}
	if s.early {
		s.noteEarly(&ks.keyHead, emit)
	}
	return false
}

// addSliced reports whether the key's due time may have moved earlier (a new oldest slice, or
// lateness bookkeeping), so that only then the key is filed again. closed is closedEnd().
func (s *slicedWindows) addSliced(ks *slicedKey, ev *core.Event, ts, closed int64, emit Emit) (earlier bool) {
	j := floorDiv(ts, s.slice)
	// The event may go into several partials; its where conditions are evaluated once.
	m := s.where(ev)
	// A key with slices is filed under its next window; one without has hIdx maxTime.
	earlier = s.late > 0 || j < ks.hIdx
	if closed > ks.floor {
		ks.floor = closed
	}
	if s.late > 0 {
		i, ok := ks.raw.find(s.stride, 0, j)
		if !ok {
			ks.raw.insert(s.stride, i, j, s.ringHint)
		}
		s.addTo(m, ks.raw.row(s.stride, i), ev, ts)
	}
	q := &ks.q
	switch {
	case ks.lastEnd == minTime || j*s.slice >= ks.lastEnd:
		// A slice of windows that have not fired: the common case, mostly the newest slice or a
		// new one after it. (The newest is not in the aggregator: its slices are older than
		// lastEnd.)
		var i int
		switch n := q.len(); {
		case n > 0 && j == ks.tIdx:
			i = n - 1
		case n == 0 || j > ks.tIdx:
			i = n
			q.insert(s.stride, i, j, s.ringHint)
			ks.tIdx = j
		default:
			var ok bool
			i, ok = q.find(s.stride, int(ks.pendStart), j)
			if !ok {
				q.insert(s.stride, i, j, s.ringHint)
			}
		}
		s.addTo(m, q.row(s.stride, i), ev, ts)
		if i == 0 {
			ks.hIdx = j
		}
		// Otherwise the head did not change: reading it would cost a cache miss per event.
		return earlier
	case j*s.slice >= ks.lastEnd+s.slide-s.size:
		// A slice of the last fired window that later windows share, so inside the aggregator.
		// (Older slices are in no window left to fire; with allowed lateness, raw has them.)
		i, ok := q.findIn(s.stride, 0, int(ks.pendStart), j)
		switch {
		case ok && i >= int(ks.backStart):
			s.addTo(m, q.row(s.stride, i), ev, ts)
			s.addTo(m, s.back(ks), ev, ts)
		case ok:
			// Front entries are suffix aggregates: the event belongs to every one from 0 to i.
			for k := 0; k <= i; k++ {
				s.addTo(m, q.row(s.stride, k), ev, ts)
			}
		case i >= int(ks.backStart):
			q.insert(s.stride, i, j, s.ringHint)
			s.addTo(m, q.row(s.stride, i), ev, ts)
			if ks.backStart == ks.pendStart {
				s.plan.CopyRow(s.back(ks), q.row(s.stride, i), &s.sk)
			} else {
				s.addTo(m, s.back(ks), ev, ts)
			}
			ks.pendStart++
		default:
			// The new front entry aggregates itself and the suffix that follows it.
			q.insert(s.stride, i, j, s.ringHint)
			s.plan.CopyRow(q.row(s.stride, i), q.row(s.stride, i+1), &s.sk)
			ks.backStart++
			ks.pendStart++
			for k := 0; k <= i; k++ {
				s.addTo(m, q.row(s.stride, k), ev, ts)
			}
		}
	}
	ks.syncHead(s.stride)
	if n := q.len(); n > 0 {
		ks.tIdx = q.idx(s.stride, n-1) // the slice may have gone in last
	}
	if s.late > 0 && ks.lastEnd != minTime {
		s.reemit(ks, j, emit)
	}
	return earlier
}

// reemit emits again every fired, still open window that contains slice j, recomputed from the raw
// slices.
func (s *slicedWindows) reemit(ks *slicedKey, j int64, emit Emit) {
	start := j * s.slice
	first := floorDiv(start, s.slide)*s.slide + s.slide
	for e := first; e <= start+s.size && e <= ks.lastEnd; e += s.slide {
		if e+s.late <= s.wm {
			continue
		}
		lo, hi := (e-s.size)/s.slice, e/s.slice
		s.plan.FreeRow(s.row, &s.sk)
		for k := range ks.raw.len() {
			if idx := ks.raw.idx(s.stride, k); idx >= lo && idx < hi {
				s.plan.MergeRow(s.row, ks.raw.row(s.stride, k), &s.sk)
			}
		}
		s.emitSpan(emit, ks.key, e-s.size, e, nextRev(ks, e), s.row)
	}
}

// nextRev returns the next revision of ks's window ending at e and counts it.
func nextRev(ks *slicedKey, e int64) int {
	i, ok := slices.BinarySearchFunc(ks.revs, e, func(r rev, t int64) int { return cmpInt(r.end, t) })
	if ok {
		ks.revs[i].n++
		return ks.revs[i].n - 1
	}
	ks.revs = slices.Insert(ks.revs, i, rev{end: e, n: 1})
	return 0
}

// dropRevs forgets the revisions of ks's windows ending at or before e.
func dropRevs(ks *slicedKey, e int64) {
	n := 0
	for n < len(ks.revs) && ks.revs[n].end <= e {
		n++
	}
	if n > 0 {
		ks.revs = slices.Delete(ks.revs, 0, n)
	}
}

// nextEnd is the end of the next window of ks to fire: the first after the last fired one that holds
// the key's oldest remaining slice.
func (s *slicedWindows) nextEnd(ks *slicedKey) int64 {
	if ks.hIdx == maxTime {
		return never
	}
	e := ks.hIdx*s.slice + s.slice
	if s.slice != s.slide {
		e = floorDiv(ks.hIdx*s.slice, s.slide)*s.slide + s.slide
	}
	// (lastEnd and floor start at minTime, and minTime+slide is before every window.)
	return max(e, max(ks.lastEnd, ks.floor)+s.slide)
}

// closedEnd is the end of the last window the watermark closed (end + allowed lateness <= wm), kept
// up incrementally since the watermark moves by small steps and divisions cost. Any multiple of
// slide up to the limit is a start it steps from correctly: a restored watermark needs no reset.
func (s *slicedWindows) closedEnd() int64 {
	if s.wm == minTime {
		return minTime
	}
	limit := s.wm - s.late
	if s.closed == minTime || limit-s.closed > 64*s.slide || limit < s.closed {
		s.closed = floorDiv(limit, s.slide) * s.slide
	}
	for s.closed+s.slide <= limit {
		s.closed += s.slide
	}
	return s.closed
}

func (s *slicedWindows) dueOf(h *keyHead) int64 { return s.slicedDue(slicedOf(h)) }

// slicedDue is when ks next needs the watermark's attention: its next window end, or when state it
// keeps for late events expires.
func (s *slicedWindows) slicedDue(ks *slicedKey) int64 {
	due := s.nextEnd(ks)
	if s.late > 0 {
		if ks.raw.n > 0 {
			due = min(due, floorDiv(ks.raw.idx(s.stride, 0)*s.slice+s.size, s.slide)*s.slide+s.late)
		}
		if len(ks.revs) > 0 {
			due = min(due, ks.revs[0].end+s.late)
		}
	}
	return due
}

func (s *slicedWindows) fire(keys []*keyHead, tm int64, pass uint64, emit Emit) {
	if s.late == 0 {
		s.fireAll(keys, tm, pass, emit)
		return
	}
	for _, h := range keys {
		ks := slicedOf(h)
		// A key whose due time moved later waited here lazily: it acts only at its real time.
		if s.slicedDue(ks) == tm {
			s.act(ks, tm, emit)
		}
		s.schedule(h, s.slicedDue(ks), pass)
	}
}

// prefetchAhead is how many keys ahead prefetch asks for a key's head slots (and twice as many for
// its state): far enough for the memory to answer while the keys between fire.
const prefetchAhead = 8

// fireAll is fire without allowed lateness, where every key of a sliding window comes once per
// slide: a key's due time is then its next window's end, and the loop goes straight to it (3-4% of
// W2 over the general loop's cases).
func (s *slicedWindows) fireAll(keys []*keyHead, tm int64, pass uint64, emit Emit) {
	for i, h := range keys {
		s.prefetch(keys, i)
		ks := slicedOf(h)
		// A key whose due time moved later waited here lazily: it acts only at its real time.
		if s.nextEnd(ks) == tm {
			s.fireWindow(ks, tm, emit)
		}
		s.schedule(h, s.nextEnd(ks), pass)
	}
}

// prefetch asks, while keys[i] fires, for what sliced windows read of the keys some places ahead:
// keys of a slide come one after another in key order, each with its state and the head of its
// slices far from the CPU. Their state first and, once that is near, their first two slots (the
// head, and the head once the firing evicts it).
func (s *slicedWindows) prefetch(keys []*keyHead, i int) {
	var next *slicedKey
	var h0, h1 *uint64
	if k := i + 2*prefetchAhead; k < len(keys) {
		next = slicedOf(keys[k])
	}
	if k := i + prefetchAhead; k < len(keys) {
		if q := &slicedOf(keys[k]).q; q.n > 1 {
			h0, h1 = &q.w[q.off(s.stride, 0)], &q.w[q.off(s.stride, 1)]
		}
	}
	prefetch3(next, h0, h1)
}

// act does what made ks due at time due (at most the watermark), with allowed lateness.
func (s *slicedWindows) act(ks *slicedKey, due int64, emit Emit) {
	// Fire only when the window is what made the key due, so windows fire in order of end.
	if s.nextEnd(ks) == due {
		s.fireWindow(ks, due, emit)
	}
	for ks.raw.n > 0 && floorDiv(ks.raw.idx(s.stride, 0)*s.slice+s.size, s.slide)*s.slide+s.late <= s.wm {
		s.plan.FreeRow(ks.raw.row(s.stride, 0), &s.sk)
		ks.raw.pop(s.stride)
	}
	if s.wm != maxTime {
		ks.raw.fit(s.stride)
	}
	n := 0
	// A window counted by early firings that has not fired yet keeps its count, unless it never
	// will (it ends before the next window to fire).
	for n < len(ks.revs) && ks.revs[n].end+s.late <= s.wm && (ks.revs[n].end <= ks.lastEnd || ks.revs[n].end < s.nextEnd(ks)) {
		n++
	}
	ks.revs = slices.Delete(ks.revs, 0, n)
}

// fireWindow emits ks's window ending at e.
func (s *slicedWindows) fireWindow(ks *slicedKey, e int64, emit Emit) {
	q := &ks.q
	if e != s.firedEnd {
		// Keys fire in runs of the same window: divide once per run.
		s.firedEnd, s.firedEndIdx, s.firedStartIdx, s.nextStartIdx = e, e/s.slice, floorDiv(e-s.size, s.slice), floorDiv(e+s.slide-s.size, s.slice)
	}
	eIdx, sIdx := s.firedEndIdx, s.firedStartIdx
	back := s.back(ks)
	for ks.pendStart < q.n && q.idx(s.stride, int(ks.pendStart)) < eIdx {
		if ks.backStart == ks.pendStart {
			s.plan.CopyRow(back, q.row(s.stride, int(ks.pendStart)), &s.sk)
		} else {
			s.plan.MergeRow(back, q.row(s.stride, int(ks.pendStart)), &s.sk)
		}
		ks.pendStart++
	}
	s.evict(ks, sIdx)
	switch {
	case 0 < ks.backStart && ks.backStart < ks.pendStart:
		s.plan.SetMergedValues(q.row(s.stride, 0), back, s.row, &s.sk, s.vals)
	case 0 < ks.backStart:
		s.plan.SetValues(q.row(s.stride, 0), &s.sk, s.vals)
	case ks.backStart < ks.pendStart:
		s.plan.SetValues(back, &s.sk, s.vals)
	default:
		// Unreachable while nextEnd only picks windows holding a slice; never emit an empty window.
		ks.lastEnd = e
		if s.early && s.late == 0 {
			dropRevs(ks, e)
		}
		return
	}
	rv := 0
	if s.revd {
		rv = nextRev(ks, e)
		if s.late == 0 {
			// Without allowed lateness the window is done: only early firings counted it.
			dropRevs(ks, e)
		}
	}
	s.sendSpan(emit, ks.key, e-s.size, e, rv)
	ks.lastEnd = e
	// Slices before the next window's start are in no future window.
	s.evict(ks, s.nextStartIdx)
}

// evict drops the aggregator's slices before idx, flipping the back into the front when the front
// runs out (Two-Stacks Lite: the back's raw slices become suffix aggregates in place).
func (s *slicedWindows) evict(ks *slicedKey, idx int64) {
	if ks.hIdx < idx {
		s.evictHead(ks, idx)
	}
}

// evictHead is evict when the head slice goes: evict stays small enough to be inlined, since at
// every firing one of its two calls has nothing to do.
func (s *slicedWindows) evictHead(ks *slicedKey, idx int64) {
	q := &ks.q
	for ks.pendStart > 0 && q.idx(s.stride, 0) < idx {
		if ks.backStart == 0 {
			for i := int(ks.pendStart) - 2; i >= 0; i-- {
				s.plan.MergeRow(q.row(s.stride, i), q.row(s.stride, i+1), &s.sk)
			}
			ks.backStart = ks.pendStart
			s.plan.FreeRow(s.back(ks), &s.sk)
		}
		if s.sketches {
			s.plan.FreeRow(q.row(s.stride, 0), &s.sk)
		}
		q.pop(s.stride)
		ks.backStart--
		ks.pendStart--
	}
	if s.wm != maxTime {
		// (At the end of the stream every key drains and goes: nothing to give back.)
		q.fit(s.stride)
	}
	ks.syncHead(s.stride)
}

// syncHead refreshes the cache of the head slice's index after q changed; st is the ring's stride.
func (ks *slicedKey) syncHead(st int) {
	if ks.q.n > 0 {
		ks.hIdx = ks.q.idx(st, 0)
	} else {
		ks.hIdx = maxTime
	}
}

func (s *slicedWindows) empty(h *keyHead) bool {
	ks := slicedOf(h)
	return ks.q.n == 0 && ks.raw.n == 0 && len(ks.revs) == 0
}

func (s *slicedWindows) footprint(h *keyHead) (partials, revs, slices int) {
	ks := slicedOf(h)
	partials = ks.q.len() + ks.raw.len()
	if ks.backStart < ks.pendStart {
		partials++
	}
	if s.late > 0 {
		slices = ks.raw.len() // every slice still in an open window
	} else {
		slices = ks.q.len()
	}
	return partials, len(ks.revs), slices
}

func (s *slicedWindows) describe(h *keyHead) string {
	ks := slicedOf(h)
	if ks.q.len() == 0 {
		return "closed windows kept for late events"
	}
	lo, hi := ks.q.idx(s.stride, 0), ks.q.idx(s.stride, ks.q.len()-1)
	return fmt.Sprintf("%d slices [%s, %s)", ks.q.len(), spanTime(lo*s.slice), spanTime((hi+1)*s.slice))
}

// fireEarly emits ks's next window to fire as it stands, reading the two-stacks aggregator
// without changing it: the front slot at the window's first slice (a suffix aggregate) and the
// back, or the back's raw slices from there, then the slices not in the aggregator yet.
func (s *slicedWindows) fireEarly(h *keyHead, emit Emit) {
	ks := slicedOf(h)
	e := s.nextEnd(ks)
	if e == never {
		return
	}
	sIdx, eIdx := floorDiv(e-s.size, s.slice), floorDiv(e, s.slice)
	q := &ks.q
	r := s.row
	s.plan.FreeRow(r, &s.sk)
	any := false
	i := 0
	for i < int(ks.pendStart) && q.idx(s.stride, i) < sIdx {
		i++
	}
	switch {
	case i < int(ks.backStart):
		s.plan.MergeRow(r, q.row(s.stride, i), &s.sk)
		if ks.backStart < ks.pendStart {
			s.plan.MergeRow(r, s.back(ks), &s.sk)
		}
		any = true
	case i == int(ks.backStart) && ks.backStart < ks.pendStart:
		s.plan.MergeRow(r, s.back(ks), &s.sk)
		any = true
	default:
		for ; i < int(ks.pendStart); i++ {
			s.plan.MergeRow(r, q.row(s.stride, i), &s.sk)
			any = true
		}
	}
	for k := int(ks.pendStart); k < q.len() && q.idx(s.stride, k) < eIdx; k++ {
		if q.idx(s.stride, k) >= sIdx {
			s.plan.MergeRow(r, q.row(s.stride, k), &s.sk)
			any = true
		}
	}
	if !any {
		return
	}
	s.emitSpan(emit, ks.key, e-s.size, e, nextRev(ks, e), r)
}

func (s *slicedWindows) appendKey(b []byte, h *keyHead) []byte {
	ks := slicedOf(h)
	b = binary.AppendVarint(b, ks.lastEnd)
	b = binary.AppendVarint(b, ks.floor)
	b = binary.AppendUvarint(b, uint64(ks.q.n))
	b = binary.AppendUvarint(b, uint64(ks.backStart))
	b = binary.AppendUvarint(b, uint64(ks.pendStart))
	b = s.appendSlots(b, &ks.q)
	if ks.backStart < ks.pendStart {
		b = s.plan.AppendRow(b, s.back(ks), &s.sk)
	}
	b = binary.AppendUvarint(b, uint64(ks.raw.n))
	b = s.appendSlots(b, &ks.raw)
	b = binary.AppendUvarint(b, uint64(len(ks.revs)))
	for _, r := range ks.revs {
		b = binary.AppendVarint(b, r.end)
		b = binary.AppendUvarint(b, uint64(r.n))
	}
	return b
}

func (s *slicedWindows) appendSlots(b []byte, q *ring) []byte {
	for i := range q.len() {
		b = binary.AppendVarint(b, q.idx(s.stride, i))
		b = s.plan.AppendRow(b, q.row(s.stride, i), &s.sk)
	}
	return b
}

func (s *slicedWindows) readKey(d *decoder, h *keyHead) {
	ks := slicedOf(h)
	ks.lastEnd = d.time()
	ks.floor = d.time()
	nq, nb, np := d.count(), d.count(), d.count()
	if nb > np || np > nq {
		d.fail()
	}
	s.readSlots(d, &ks.q, nq)
	ks.backStart, ks.pendStart = int32(nb), int32(np)
	ks.syncHead(s.stride)
	if nq > 0 && d.err == nil {
		ks.tIdx = ks.q.idx(s.stride, nq-1)
	}
	if nb < np {
		d.row(s.Operator, s.back(ks))
	}
	s.readSlots(d, &ks.raw, d.count())
	nr := d.count()
	for j := 0; j < nr && d.err == nil; j++ {
		r := rev{end: d.time(), n: int(d.uvarint())}
		if r.n < 0 || (j > 0 && r.end <= ks.revs[j-1].end) {
			d.fail() // revisions are counts, in order of window end
		}
		ks.revs = append(ks.revs, r)
	}
}

func (s *slicedWindows) readSlots(d *decoder, q *ring, n int) {
	for i := 0; i < n && d.err == nil; i++ {
		idx := d.varint()
		if i > 0 && idx <= q.idx(s.stride, q.len()-1) {
			d.fail() // slices are in order
			return
		}
		if idx < -saneLimit/s.slice || idx > saneLimit/s.slice {
			d.fail() // the slice's time would overflow window arithmetic
			return
		}
		d.row(s.Operator, q.push(s.stride, idx, s.ringHint))
	}
}

func (s *slicedWindows) appendEarly(b []byte, _ *keyHead) []byte { return b }
func (s *slicedWindows) readEarly(*decoder, *keyHead)            {}
