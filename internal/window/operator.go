package window

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

const (
	minTime = math.MinInt64
	maxTime = math.MaxInt64
	never   = math.MaxInt64
)

// Emit receives a window result. The result and its values are reused after Emit returns: clone
// them (WindowResult.Clone) to keep them.
type Emit func(*core.WindowResult)

// Operator computes one function's windows over the events of one partition. It is not safe for
// concurrent use: a partition is processed by one goroutine at a time.
type Operator struct {
	fn   string
	spec Spec
	plan *aggregate.Plan

	size, slide, sl, gap, maxDur, late int64
	countSlices                        int
	cond                               bool // the plan has where conditions

	wm     int64
	closed int64 // cache of closedEnd
	keys   map[string]*keyState
	due    timers

	res  core.WindowResult
	vals []core.NamedValue
	// width is the plan's row width, st the words of a ring slot (see stride); hint the slots a
	// key's ring needs when every slice fills.
	width, st, hint int
	// sketches is set when rows hold sketches: dropping a row must then release them.
	sketches bool
	// pass counts advanceTo's runs over a bucket, which file keys in key order (see timers.add).
	pass uint64
	// sk holds the sketches of the sliced windows' rows; row is a scratch row.
	sk  aggregate.Sketches
	row aggregate.Row
	// fe is the end of the window fire last fired; feIdx, fsIdx and fnIdx the indexes of its end
	// slice, first slice and the next window's first slice.
	fe, feIdx, fsIdx, fnIdx int64
	// span is the window last emitted by emitSpan, spanT its times.
	span  [2]int64
	spanT [2]time.Time

	// revd is set when sliced windows count revisions (allowed lateness or early firings).
	revd bool
	// early is set when spec.Early is: the only early test an event pays without it.
	early          bool
	eEvery, eCount int64
	// eNext is the processing time of the next early firing by Every (0: not started);
	// eDirty the keys that received events since the last (each with edirty set).
	eNext  int64
	eDirty []*keyState
}

// keyState is one key's windows. Only the members of the operator's kind are used.
type keyState struct {
	// The first cache line holds what an event reads of its key, the second what a firing reads
	// besides: a sliding window fires every key at every slide, and touching less per key is what
	// keeps it fast (TestKeyStateLayout keeps it so).
	//
	// Sliced (tumbling and sliding): q holds the key's non-empty slices in order. Slots [0, b) are
	// the front of the two-stacks aggregator (each the aggregate of itself and every slice after
	// it up to b), [b, p) the back (raw slices whose aggregate is back), [p, q.len()) slices of
	// windows that have not fired yet.
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

	key  string
	b, p int32
	hi   int32 // index in its timers bucket, -1 when absent
	due  int64
	// back is the aggregate of the back slices, inline for narrow rows (an average's).
	back inlineRow

	// raw keeps every slice's own partial while windows that fired may still change (allowed
	// lateness > 0), to recompute them; revs counts each open window's emissions.
	raw  ring
	revs []rev

	sessions []session

	cur  cslot
	ring []cslot
	glob aggregate.Row
	// gEmit counts a global window's emissions, and with early firings a count window key's.
	gEmit int
	dirty bool
	// edirty is set while the key waits in eDirty; ecnt counts its events toward Early.Count.
	edirty bool
	ecnt   int32
	// The padding makes a keyState 384 bytes, a size class whose objects start on a cache line:
	// at 352 every other key's first two lines would straddle three.
	_ [40]byte
}

type rev struct {
	end int64
	n   int
}

type session struct {
	start, end int64
	// p is the session's partial. Sessions move within their slice, so a row inside one is got
	// through srow, not kept.
	p       inlineRow
	emitted int
	fired   bool
}

// srow returns s's partial.
func (o *Operator) srow(s *session) aggregate.Row { return s.p.row(o.width) }

// newSession returns a session of [start, end) with an empty partial.
func (o *Operator) newSession(start, end int64) session {
	s := session{start: start, end: end}
	s.p.init(o.width)
	return s
}

// inlineRow is a row held inside its owner when it is narrow (an average's is two words, a
// count's one): a key's back row and a session's partial cost no allocation and no pointer to
// follow. Wider rows are allocated.
type inlineRow struct {
	w    [3]uint64
	wide aggregate.Row
}

// init makes room for a row of width words.
func (r *inlineRow) init(width int) {
	if width > len(r.w) {
		r.wide = make(aggregate.Row, width)
	}
}

// row returns the row of width words (the width init got).
func (r *inlineRow) row(width int) aggregate.Row {
	if r.wide != nil {
		return r.wide
	}
	return r.w[:width:width]
}

type cslot struct {
	p      aggregate.Row
	n      int
	lo, hi int64
}

// New returns an operator for function fn computing plan's aggregates over spec's windows.
func New(fn string, spec Spec, t Time, plan *aggregate.Plan) (*Operator, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	o := &Operator{
		fn: fn, spec: spec, plan: plan,
		size: int64(spec.Size), slide: int64(spec.Slide), gap: int64(spec.Gap), maxDur: int64(spec.MaxDuration),
		late: int64(t.AllowedLateness),
		wm:   minTime, closed: minTime, span: [2]int64{minTime, minTime}, fe: minTime,
		keys: make(map[string]*keyState),
	}
	o.due.reset()
	switch spec.Kind {
	case Tumbling:
		o.slide = o.size
		o.sl = o.size
	case Sliding:
		o.sl = gcd(o.size, o.slide)
	case Count:
		slide := spec.CountSlide
		if slide == 0 {
			slide = spec.Count
		}
		o.countSlices = spec.Count / slide
		o.slide = int64(slide)
	}
	o.width = plan.Width()
	o.sketches = plan.HasSketches()
	// A window spans size/sl slices; out-of-order events open a few more before it fires.
	if o.sl > 0 {
		o.hint = int(min(o.size/o.sl, 1<<16)) + 4
		o.st = stride(o.width, o.size/o.sl)
	}
	o.row = make(aggregate.Row, o.width)
	// Results reuse one slice of values: the names are set once, emissions set the numbers.
	o.vals = plan.RowValues(o.row, &o.sk, nil)
	o.cond = plan.Conditional()
	o.res.Function = fn
	o.early = !spec.Early.IsZero()
	o.eEvery, o.eCount = int64(spec.Early.Every), int64(spec.Early.Count)
	o.revd = o.late > 0 || o.early
	return o, nil
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

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

// newRow returns an empty partial.
func (o *Operator) newRow() aggregate.Row { return make(aggregate.Row, o.width) }

// newKey returns the empty state of a key.
func (o *Operator) newKey(key string) *keyState {
	ks := &keyState{key: key, hi: -1, lastEnd: minTime, floor: minTime, due: never, hIdx: maxTime}
	if o.sl > 0 {
		ks.back.init(o.width)
	}
	return ks
}

// back returns the aggregate of ks's back slices.
func (o *Operator) back(ks *keyState) aggregate.Row { return ks.back.row(o.width) }

// Watermark returns the operator's watermark (the zero Time before any).
func (o *Operator) Watermark() time.Time {
	if o.wm == minTime {
		return time.Time{}
	}
	return time.Unix(0, o.wm).UTC()
}

// Global reports whether the operator's windows are global (ticks emit their running values).
func (o *Operator) Global() bool { return o.spec.Kind == Global }

// HasKey reports whether key holds state.
func (o *Operator) HasKey(key string) bool {
	_, ok := o.keys[key]
	return ok
}

// Keys is the number of keys holding state.
func (o *Operator) Keys() int { return len(o.keys) }

// keyBytes estimates the memory and snapshot bytes key state ks holds: its partials at the row's
// width, the key, and the key's fixed state.
func (o *Operator) keyBytes(ks *keyState) int {
	n := ks.q.len() + ks.raw.len() + len(ks.sessions) + len(ks.ring) + len(ks.revs)
	if ks.b < ks.p || o.spec.Kind == Count || o.spec.Kind == Global {
		n++
	}
	return n*8*max(o.width, 1) + len(ks.key) + 384
}

// Heaviest names the key holding the most state, the span of its state (the windows it keeps open)
// and its estimated bytes; ok is false when no key holds state. Budget errors and memory reports
// use it; it walks every key.
func (o *Operator) Heaviest() (key, span string, bytes int, ok bool) {
	var best *keyState
	for _, ks := range o.keys {
		b := o.keyBytes(ks)
		if best == nil || b > bytes || (b == bytes && ks.key < best.key) {
			best, bytes = ks, b
		}
	}
	if best == nil {
		return "", "", 0, false
	}
	ts := func(t int64) string { return time.Unix(0, t).UTC().Format(core.TimeLayout) }
	switch o.spec.Kind {
	case Tumbling, Sliding:
		if best.q.len() > 0 {
			lo, hi := best.q.idx(o.st, 0), best.q.idx(o.st, best.q.len()-1)
			span = fmt.Sprintf("%d slices [%s, %s)", best.q.len(), ts(lo*o.sl), ts((hi+1)*o.sl))
		} else {
			span = "closed windows kept for late events"
		}
	case Session:
		span = fmt.Sprintf("%d sessions", len(best.sessions))
		if n := len(best.sessions); n > 0 {
			span += fmt.Sprintf(" [%s, %s)", ts(best.sessions[0].start), ts(best.sessions[n-1].end))
		}
	case Count:
		span = "count window"
	case Global:
		span = "global window"
	}
	return best.key, span, bytes, true
}

// StateBytes estimates the bytes all keys' window state holds.
func (o *Operator) StateBytes() int {
	n := 0
	for _, ks := range o.keys {
		n += o.keyBytes(ks)
	}
	return n
}

// Partials counts the aggregate partials the operator holds, for memory accounting: slices, running
// aggregates, sessions and count slices.
func (o *Operator) Partials() int {
	n := 0
	for _, ks := range o.keys {
		n += ks.q.len() + ks.raw.len() + len(ks.sessions) + len(ks.ring)
		if ks.b < ks.p {
			n++
		}
		if o.spec.Kind == Count || o.spec.Kind == Global {
			n++
		}
	}
	return n
}

// Late reports whether an event at time t would be late: every window it belongs to has closed.
func (o *Operator) Late(t time.Time) bool {
	if o.wm == minTime {
		return false
	}
	ts := t.UnixNano()
	switch o.spec.Kind {
	case Tumbling, Sliding:
		return o.slicedLate(ts, o.closedEnd())
	case Session:
		return ts+o.gap+o.late <= o.wm
	}
	return false
}

// slicedLate reports whether ts is late for sliced windows when closed is closedEnd: the last
// window holding ts ends at floor((ts+size)/slide)*slide, closed when that is at most closed, that
// is when ts+size < closed+slide.
func (o *Operator) slicedLate(ts, closed int64) bool { return ts < closed+o.slide-o.size }

// Add folds ev into its windows and reports whether it was late (then nothing changed and the caller
// writes it to the late output). Windows re-emitted because of a late event go to emit.
func (o *Operator) Add(ev *core.Event, emit Emit) (late bool) {
	ts := ev.Time.UnixNano()
	var closed int64
	if o.sl > 0 {
		// Late's test, keeping the closed end that addSliced needs too.
		closed = o.closedEnd()
		if o.wm != minTime && o.slicedLate(ts, closed) {
			return true
		}
	} else if o.Late(ev.Time) {
		return true
	}
	ks := o.keys[ev.Key]
	if ks == nil {
		ks = o.newKey(ev.Key)
		o.keys[ev.Key] = ks
	}
	switch o.spec.Kind {
	case Tumbling, Sliding:
		if !o.addSliced(ks, ev, ts, closed, emit) {
			// The key's due time did not move earlier, and a later one is found lazily.
			if o.early {
				o.noteEarly(ks, emit)
			}
			return false
		}
	case Session:
		o.addSession(ks, ev, ts)
	case Count:
		o.addCount(ks, ev, ts, emit)
	case Global:
		if ks.glob == nil {
			ks.glob = o.newRow()
		}
		o.addTo(o.where(ev), ks.glob, ev, ts)
		ks.dirty = true
	}
	o.schedule(ks, 0)
	// An event in a window the watermark already passed (but within the allowed lateness) makes
	// it due now, not at the next watermark move.
	if tm, ok := o.due.next(); ok && tm <= o.wm {
		o.advanceTo(o.wm, emit)
	}
	if o.early {
		o.noteEarly(ks, emit)
	}
	return false
}

// Advance moves the watermark to wm (never backwards) and fires every window whose end it passed,
// in order of end time, then key.
func (o *Operator) Advance(wm time.Time, emit Emit) {
	w := wm.UnixNano()
	if wm.IsZero() {
		return
	}
	o.advanceTo(w, emit)
}

func (o *Operator) advanceTo(w int64, emit Emit) {
	if w > o.wm {
		o.wm = w
	}
	for {
		tm, ok := o.due.next()
		if !ok || tm > o.wm {
			return
		}
		keys := o.due.take(tm)
		// One run over a bucket files keys in key order (see timers.add).
		o.pass++
		if o.sl > 0 && o.late == 0 {
			o.fireAll(keys, tm, emit)
			o.due.recycle(keys)
			continue
		}
		for _, ks := range keys {
			// A key whose due time moved later waited here lazily: it acts only at its real time.
			if o.dueOf(ks) == tm {
				switch o.spec.Kind {
				case Tumbling, Sliding:
					o.actSliced(ks, tm, emit)
				case Session:
					o.actSession(ks, emit)
				}
			}
			o.schedule(ks, o.pass)
		}
		o.due.recycle(keys)
	}
}

// prefetchAhead is how many keys ahead prefetch asks for a key's head slots (and twice as many for
// its state): far enough for the memory to answer while the keys between fire.
const prefetchAhead = 8

// fireAll is advanceTo's run over the keys due at tm for sliced windows without allowed lateness,
// where every key of a sliding window comes once per slide: a key's due time is then its next
// window's end, and the loop goes straight to it (3-4% of W2 over the general loop's cases).
func (o *Operator) fireAll(keys []*keyState, tm int64, emit Emit) {
	for i, ks := range keys {
		o.prefetch(keys, i)
		// A key whose due time moved later waited here lazily: it acts only at its real time.
		if o.nextEnd(ks) == tm {
			o.fire(ks, tm, emit)
		}
		o.schedule(ks, o.pass)
	}
}

// prefetch asks, while keys[i] fires, for what sliced windows read of the keys some places ahead:
// keys of a slide come one after another in key order, each with its state and the head of its
// slices far from the CPU. Their state first and, once that is near, their first two slots (the
// head, and the head once the firing evicts it).
func (o *Operator) prefetch(keys []*keyState, i int) {
	var next *keyState
	var h0, h1 *uint64
	if k := i + 2*prefetchAhead; k < len(keys) {
		next = keys[k]
	}
	if k := i + prefetchAhead; k < len(keys) {
		if q := &keys[k].q; q.n > 1 {
			h0, h1 = &q.w[q.off(o.st, 0)], &q.w[q.off(o.st, 1)]
		}
	}
	prefetch3(next, h0, h1)
}

// Flush ends the stream: the watermark moves to the end of time, so every window fires and closes,
// and global windows emit their value.
func (o *Operator) Flush(emit Emit) {
	o.advanceTo(maxTime, emit)
	o.EmitGlobal(emit)
}

// EmitGlobal emits the running value of every global window that changed since it was last emitted,
// in key order. Ticks call it.
func (o *Operator) EmitGlobal(emit Emit) {
	if o.spec.Kind != Global {
		return
	}
	keys := make([]string, 0, len(o.keys))
	for k, ks := range o.keys {
		if ks.dirty {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		ks := o.keys[k]
		o.emit(emit, k, time.Time{}, o.Watermark(), ks.gEmit, false, ks.glob)
		ks.gEmit++
		ks.dirty = false
	}
}

func (o *Operator) emit(emit Emit, key string, start, end time.Time, revision int, final bool, r aggregate.Row) {
	o.plan.SetValues(r, &o.sk, o.vals)
	o.send(emit, key, start, end, revision, final)
}

// send emits the result whose values o.vals holds.
func (o *Operator) send(emit Emit, key string, start, end time.Time, revision int, final bool) {
	o.res.Key = key
	o.res.Start = start
	o.res.End = end
	o.res.Revision = revision
	o.res.Final = final && !o.res.Early
	o.res.Values = o.vals
	emit(&o.res)
}

func (o *Operator) emitSpan(emit Emit, key string, start, end int64, revision int, r aggregate.Row) {
	o.plan.SetValues(r, &o.sk, o.vals)
	o.sendSpan(emit, key, start, end, revision)
}

// sendSpan emits the result of window [start, end) whose values o.vals holds.
func (o *Operator) sendSpan(emit Emit, key string, start, end int64, revision int) {
	// Keys fire in runs of the same window: convert its times once per run.
	if start != o.span[0] || end != o.span[1] {
		o.span = [2]int64{start, end}
		o.spanT = [2]time.Time{time.Unix(0, start).UTC(), time.Unix(0, end).UTC()}
	}
	o.send(emit, key, o.spanT[0], o.spanT[1], revision, o.late == 0)
}

// dueOf is when ks next needs the watermark's attention: its next window end, or when state it keeps
// for late events expires.
func (o *Operator) dueOf(ks *keyState) int64 {
	switch o.spec.Kind {
	case Tumbling, Sliding:
		return o.slicedDue(ks)
	case Session:
		return o.sessionDue(ks)
	}
	return never
}

// schedule files ks under its due time, or drops the key when it holds nothing. A due time that
// moved later leaves the key where it is (a session's end moves with every event): when that earlier
// time comes, the key is filed again under its real time. pass is advanceTo's run filing the key,
// 0 for any other caller (see timers.add).
func (o *Operator) schedule(ks *keyState, pass uint64) {
	due := o.dueOf(ks)
	if ks.hi >= 0 {
		if due >= ks.due {
			return
		}
		o.due.remove(ks, ks.due)
	}
	ks.due = due
	if ks.due == never {
		if o.empty(ks) {
			delete(o.keys, ks.key)
		}
		return
	}
	o.due.add(ks, pass)
}

func (o *Operator) empty(ks *keyState) bool {
	switch o.spec.Kind {
	case Tumbling, Sliding:
		return ks.q.n == 0 && ks.raw.n == 0 && len(ks.revs) == 0
	case Session:
		return len(ks.sessions) == 0
	}
	return false
}

// ---- sliced windows (tumbling, sliding) ----

// addSliced reports whether the key's due time may have moved earlier (a new oldest slice, or
// lateness bookkeeping), so that only then the key is filed again. closed is closedEnd().
func (o *Operator) addSliced(ks *keyState, ev *core.Event, ts, closed int64, emit Emit) (earlier bool) {
	j := floorDiv(ts, o.sl)
	// The event may go into several partials; its where conditions are evaluated once.
	m := o.where(ev)
	// A key with slices is filed under its next window; one without has hIdx maxTime.
	earlier = o.late > 0 || j < ks.hIdx
	if closed > ks.floor {
		ks.floor = closed
	}
	if o.late > 0 {
		i, ok := ks.raw.find(o.st, 0, j)
		if !ok {
			ks.raw.insert(o.st, i, j, o.hint)
		}
		o.addTo(m, ks.raw.row(o.st, i), ev, ts)
	}
	q := &ks.q
	switch {
	case ks.lastEnd == minTime || j*o.sl >= ks.lastEnd:
		// A slice of windows that have not fired: the common case, mostly the newest slice or a
		// new one after it. (The newest is not in the aggregator: its slices are older than
		// lastEnd.)
		var i int
		switch n := q.len(); {
		case n > 0 && j == ks.tIdx:
			i = n - 1
		case n == 0 || j > ks.tIdx:
			i = n
			q.insert(o.st, i, j, o.hint)
			ks.tIdx = j
		default:
			var ok bool
			i, ok = q.find(o.st, int(ks.p), j)
			if !ok {
				q.insert(o.st, i, j, o.hint)
			}
		}
		o.addTo(m, q.row(o.st, i), ev, ts)
		if i == 0 {
			ks.hIdx = j
		}
		// Otherwise the head did not change: reading it would cost a cache miss per event.
		return earlier
	case j*o.sl >= ks.lastEnd+o.slide-o.size:
		// A slice of the last fired window that later windows share, so inside the aggregator.
		// (Older slices are in no window left to fire; with allowed lateness, raw has them.)
		i, ok := q.findIn(o.st, 0, int(ks.p), j)
		switch {
		case ok && i >= int(ks.b):
			o.addTo(m, q.row(o.st, i), ev, ts)
			o.addTo(m, o.back(ks), ev, ts)
		case ok:
			// Front entries are suffix aggregates: the event belongs to every one from 0 to i.
			for k := 0; k <= i; k++ {
				o.addTo(m, q.row(o.st, k), ev, ts)
			}
		case i >= int(ks.b):
			q.insert(o.st, i, j, o.hint)
			o.addTo(m, q.row(o.st, i), ev, ts)
			if ks.b == ks.p {
				o.plan.CopyRow(o.back(ks), q.row(o.st, i), &o.sk)
			} else {
				o.addTo(m, o.back(ks), ev, ts)
			}
			ks.p++
		default:
			// The new front entry aggregates itself and the suffix that follows it.
			q.insert(o.st, i, j, o.hint)
			o.plan.CopyRow(q.row(o.st, i), q.row(o.st, i+1), &o.sk)
			ks.b++
			ks.p++
			for k := 0; k <= i; k++ {
				o.addTo(m, q.row(o.st, k), ev, ts)
			}
		}
	}
	ks.syncHead(o.st)
	if n := q.len(); n > 0 {
		ks.tIdx = q.idx(o.st, n-1) // the slice may have gone in last
	}
	if o.late > 0 && ks.lastEnd != minTime {
		o.reemit(ks, j, emit)
	}
	return earlier
}

// where evaluates the plan's where conditions over ev (none: zero).
func (o *Operator) where(ev *core.Event) aggregate.Mask {
	if o.cond {
		return o.plan.Where(ev)
	}
	return 0
}

// addTo adds ev to r, with the plan's where conditions already evaluated into m.
func (o *Operator) addTo(m aggregate.Mask, r aggregate.Row, ev *core.Event, ts int64) {
	o.plan.AddRowWhere(r, &o.sk, ev, ts, m)
}

// reemit emits again every fired, still open window that contains slice j, recomputed from the raw
// slices.
func (o *Operator) reemit(ks *keyState, j int64, emit Emit) {
	start := j * o.sl
	first := floorDiv(start, o.slide)*o.slide + o.slide
	for e := first; e <= start+o.size && e <= ks.lastEnd; e += o.slide {
		if e+o.late <= o.wm {
			continue
		}
		lo, hi := (e-o.size)/o.sl, e/o.sl
		o.plan.FreeRow(o.row, &o.sk)
		for k := range ks.raw.len() {
			if idx := ks.raw.idx(o.st, k); idx >= lo && idx < hi {
				o.plan.MergeRow(o.row, ks.raw.row(o.st, k), &o.sk)
			}
		}
		o.emitSpan(emit, ks.key, e-o.size, e, o.nextRev(ks, e), o.row)
	}
}

// nextRev returns the next revision of ks's window ending at e and counts it.
func (o *Operator) nextRev(ks *keyState, e int64) int {
	i, ok := slices.BinarySearchFunc(ks.revs, e, func(r rev, t int64) int { return cmpInt(r.end, t) })
	if ok {
		ks.revs[i].n++
		return ks.revs[i].n - 1
	}
	ks.revs = slices.Insert(ks.revs, i, rev{end: e, n: 1})
	return 0
}

// dropRevs forgets the revisions of ks's windows ending at or before e.
func (o *Operator) dropRevs(ks *keyState, e int64) {
	n := 0
	for n < len(ks.revs) && ks.revs[n].end <= e {
		n++
	}
	if n > 0 {
		ks.revs = slices.Delete(ks.revs, 0, n)
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// nextEnd is the end of the next window of ks to fire: the first after the last fired one that holds
// the key's oldest remaining slice.
func (o *Operator) nextEnd(ks *keyState) int64 {
	if ks.hIdx == maxTime {
		return never
	}
	e := ks.hIdx*o.sl + o.sl
	if o.sl != o.slide {
		e = floorDiv(ks.hIdx*o.sl, o.slide)*o.slide + o.slide
	}
	// (lastEnd and floor start at minTime, and minTime+slide is before every window.)
	return max(e, max(ks.lastEnd, ks.floor)+o.slide)
}

// closedEnd is the end of the last window the watermark closed (end + allowed lateness <= wm), kept
// up incrementally since the watermark moves by small steps and divisions cost.
func (o *Operator) closedEnd() int64 {
	if o.wm == minTime {
		return minTime
	}
	limit := o.wm - o.late
	if o.closed == minTime || limit-o.closed > 64*o.slide || limit < o.closed {
		o.closed = floorDiv(limit, o.slide) * o.slide
	}
	for o.closed+o.slide <= limit {
		o.closed += o.slide
	}
	return o.closed
}

func (o *Operator) slicedDue(ks *keyState) int64 {
	due := o.nextEnd(ks)
	if o.late > 0 {
		if ks.raw.n > 0 {
			due = min(due, floorDiv(ks.raw.idx(o.st, 0)*o.sl+o.size, o.slide)*o.slide+o.late)
		}
		if len(ks.revs) > 0 {
			due = min(due, ks.revs[0].end+o.late)
		}
	}
	return due
}

// actSliced does what made ks due at time due (at most the watermark).
func (o *Operator) actSliced(ks *keyState, due int64, emit Emit) {
	if o.late == 0 {
		// Then the due time is the next window's end.
		o.fire(ks, due, emit)
		return
	}
	// Fire only when the window is what made the key due, so windows fire in order of end.
	if o.nextEnd(ks) == due {
		o.fire(ks, due, emit)
	}
	for ks.raw.n > 0 && floorDiv(ks.raw.idx(o.st, 0)*o.sl+o.size, o.slide)*o.slide+o.late <= o.wm {
		o.plan.FreeRow(ks.raw.row(o.st, 0), &o.sk)
		ks.raw.pop(o.st)
	}
	if o.wm != maxTime {
		ks.raw.fit(o.st)
	}
	n := 0
	// A window counted by early firings that has not fired yet keeps its count, unless it never
	// will (it ends before the next window to fire).
	for n < len(ks.revs) && ks.revs[n].end+o.late <= o.wm && (ks.revs[n].end <= ks.lastEnd || ks.revs[n].end < o.nextEnd(ks)) {
		n++
	}
	ks.revs = slices.Delete(ks.revs, 0, n)
}

func (o *Operator) fire(ks *keyState, e int64, emit Emit) {
	q := &ks.q
	if e != o.fe {
		// Keys fire in runs of the same window: divide once per run.
		o.fe, o.feIdx, o.fsIdx, o.fnIdx = e, e/o.sl, floorDiv(e-o.size, o.sl), floorDiv(e+o.slide-o.size, o.sl)
	}
	eIdx, sIdx := o.feIdx, o.fsIdx
	back := o.back(ks)
	for ks.p < q.n && q.idx(o.st, int(ks.p)) < eIdx {
		if ks.b == ks.p {
			o.plan.CopyRow(back, q.row(o.st, int(ks.p)), &o.sk)
		} else {
			o.plan.MergeRow(back, q.row(o.st, int(ks.p)), &o.sk)
		}
		ks.p++
	}
	o.evict(ks, sIdx)
	switch {
	case 0 < ks.b && ks.b < ks.p:
		o.plan.SetMergedValues(q.row(o.st, 0), back, o.row, &o.sk, o.vals)
	case 0 < ks.b:
		o.plan.SetValues(q.row(o.st, 0), &o.sk, o.vals)
	case ks.b < ks.p:
		o.plan.SetValues(back, &o.sk, o.vals)
	default:
		// Unreachable while nextEnd only picks windows holding a slice; never emit an empty window.
		ks.lastEnd = e
		if o.early && o.late == 0 {
			o.dropRevs(ks, e)
		}
		return
	}
	rv := 0
	if o.revd {
		rv = o.nextRev(ks, e)
		if o.late == 0 {
			// Without allowed lateness the window is done: only early firings counted it.
			o.dropRevs(ks, e)
		}
	}
	o.sendSpan(emit, ks.key, e-o.size, e, rv)
	ks.lastEnd = e
	// Slices before the next window's start are in no future window.
	o.evict(ks, o.fnIdx)
}

// evict drops the aggregator's slices before idx, flipping the back into the front when the front
// runs out (Two-Stacks Lite: the back's raw slices become suffix aggregates in place).
func (o *Operator) evict(ks *keyState, idx int64) {
	if ks.hIdx < idx {
		o.evictHead(ks, idx)
	}
}

// evictHead is evict when the head slice goes: evict stays small enough to be inlined, since at
// every firing one of its two calls has nothing to do.
func (o *Operator) evictHead(ks *keyState, idx int64) {
	q := &ks.q
	for ks.p > 0 && q.idx(o.st, 0) < idx {
		if ks.b == 0 {
			for i := int(ks.p) - 2; i >= 0; i-- {
				o.plan.MergeRow(q.row(o.st, i), q.row(o.st, i+1), &o.sk)
			}
			ks.b = ks.p
			o.plan.FreeRow(o.back(ks), &o.sk)
		}
		if o.sketches {
			o.plan.FreeRow(q.row(o.st, 0), &o.sk)
		}
		q.pop(o.st)
		ks.b--
		ks.p--
	}
	if o.wm != maxTime {
		// (At the end of the stream every key drains and goes: nothing to give back.)
		q.fit(o.st)
	}
	ks.syncHead(o.st)
}

// syncHead refreshes the cache of the head slice's index after q changed; st is the ring's stride.
func (ks *keyState) syncHead(st int) {
	if ks.q.n > 0 {
		ks.hIdx = ks.q.idx(st, 0)
	} else {
		ks.hIdx = maxTime
	}
}

// ---- session windows ----

func (o *Operator) addSession(ks *keyState, ev *core.Event, ts int64) {
	lo, hi := ts, ts+o.gap
	// Sessions overlapping [ts, ts+gap) merge with the event.
	first, last := -1, -1
	for i, s := range ks.sessions {
		if s.start < hi && lo < s.end {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 && o.maxDur > 0 {
		start := min(ks.sessions[first].start, ts)
		end := max(ks.sessions[last].end, hi)
		if end-o.gap-start >= o.maxDur {
			// Merging all would overstep the cap: join the latest overlapping session if it fits,
			// else start a new one.
			s := ks.sessions[last]
			if max(s.end, hi)-o.gap-min(s.start, ts) < o.maxDur {
				first = last
			} else {
				first = -1
			}
		}
	}
	if first < 0 {
		s := o.newSession(lo, hi)
		o.addTo(o.where(ev), o.srow(&s), ev, ts)
		i, _ := slices.BinarySearchFunc(ks.sessions, lo, func(s session, t int64) int { return cmpInt(s.start, t) })
		ks.sessions = slices.Insert(ks.sessions, i, s)
		return
	}
	m := &ks.sessions[first]
	m.fired = false
	for i := first + 1; i <= last; i++ {
		s := &ks.sessions[i]
		o.plan.MergeRow(o.srow(m), o.srow(s), &o.sk)
		o.plan.FreeRow(o.srow(s), &o.sk)
		m.end = max(m.end, s.end)
		m.emitted = max(m.emitted, s.emitted)
	}
	ks.sessions = slices.Delete(ks.sessions, first+1, last+1)
	m.start = min(m.start, lo)
	m.end = max(m.end, hi)
	o.addTo(o.where(ev), o.srow(m), ev, ts)
	// A merged session may now start before sessions it did not merge with; keep them ordered.
	slices.SortStableFunc(ks.sessions, func(a, b session) int { return cmpInt(a.start, b.start) })
}

func (o *Operator) sessionDue(ks *keyState) int64 {
	due := int64(never)
	for _, s := range ks.sessions {
		if s.fired {
			due = min(due, s.end+o.late)
		} else {
			due = min(due, s.end)
		}
	}
	return due
}

func (o *Operator) actSession(ks *keyState, emit Emit) {
	best := -1
	for i, s := range ks.sessions {
		d := s.end
		if s.fired {
			d = s.end + o.late
		}
		if d <= o.wm && (best < 0 || d < o.sessionAt(ks, best)) {
			best = i
		}
	}
	if best < 0 {
		return
	}
	s := &ks.sessions[best]
	if !s.fired {
		o.emitSpan(emit, ks.key, s.start, s.end, s.emitted, o.srow(s))
		s.emitted++
		s.fired = true
		if s.end+o.late > o.wm {
			return
		}
	}
	o.plan.FreeRow(o.srow(s), &o.sk)
	ks.sessions = slices.Delete(ks.sessions, best, best+1)
}

func (o *Operator) sessionAt(ks *keyState, i int) int64 {
	s := ks.sessions[i]
	if s.fired {
		return s.end + o.late
	}
	return s.end
}

// ---- count windows ----

func (o *Operator) addCount(ks *keyState, ev *core.Event, ts int64, emit Emit) {
	c := &ks.cur
	if c.n == 0 {
		c.p = o.newRow()
		c.lo, c.hi = ts, ts
	}
	o.addTo(o.where(ev), c.p, ev, ts)
	c.n++
	c.lo, c.hi = min(c.lo, ts), max(c.hi, ts)
	if int64(c.n) < o.slide {
		return
	}
	ks.ring = append(ks.ring, *c)
	ks.cur = cslot{}
	if len(ks.ring) > o.countSlices {
		o.plan.FreeRow(ks.ring[0].p, &o.sk)
		ks.ring[0] = cslot{}
		ks.ring = ks.ring[1:]
	}
	if len(ks.ring) < o.countSlices {
		return
	}
	p := ks.ring[0].p
	lo, hi := ks.ring[0].lo, ks.ring[0].hi
	if len(ks.ring) > 1 {
		o.plan.FreeRow(o.row, &o.sk)
		for i := range ks.ring {
			o.plan.MergeRow(o.row, ks.ring[i].p, &o.sk)
			lo, hi = min(lo, ks.ring[i].lo), max(hi, ks.ring[i].hi)
		}
		p = o.row
	}
	// With early firings a key's count windows number their results in one sequence (early ones
	// included): a count window's span is known only when it closes, and consecutive windows of a
	// key may share one, so only a key-wide count keeps ids unique. Without them it stays 0.
	o.emit(emit, ks.key, time.Unix(0, lo).UTC(), time.Unix(0, hi).UTC(), ks.gEmit, true, p)
	if o.early {
		ks.gEmit++
	}
	if o.countSlices == 1 {
		o.plan.FreeRow(ks.ring[0].p, &o.sk)
		ks.ring = ks.ring[:0]
	}
}

// String describes the operator, for logs.
func (o *Operator) String() string {
	return fmt.Sprintf("window %s %s (%d keys)", o.fn, o.spec.Kind, len(o.keys))
}

// Memory counts what the operator holds: keys, non-empty slices (for sliced windows: those of
// windows still to fire or still open), and aggregate partials of every kind. Partials minus slices
// is the overhead of the two-stacks aggregator: at most one running aggregate per key.
func (o *Operator) Memory() (keys, slices, partials int) {
	for _, ks := range o.keys {
		if o.late > 0 {
			slices += ks.raw.len() // every slice still in an open window
		} else {
			slices += ks.q.len()
		}
	}
	return len(o.keys), slices, o.Partials()
}
