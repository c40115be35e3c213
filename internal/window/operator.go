package window

import (
	"fmt"
	"math"
	"time"
	"unsafe"

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
//
// The operator keeps what every kind of window shares: the watermark, the keys and the timers that
// file them by due time, early firings and the emission of results. What a kind keeps per key and
// how its windows fire is its windows implementation's (sliced.go, session.go, count.go,
// global.go).
type Operator struct {
	fn   string
	spec Spec
	plan *aggregate.Plan
	kind windows

	// late is the allowed lateness; cond is set when the plan has where conditions.
	late int64
	cond bool

	wm   int64
	keys map[string]*keyHead
	due  timers
	// kc caches lookups of keys by the address of the key's bytes: a decoder interns keys, so
	// each key comes with the same few addresses, and the cache's hit is cheaper than hashing the
	// key for the map. kgen invalidates every entry when a key leaves keys (see dropKey).
	kc   *[keyCacheSize]keySlot
	kgen uint64

	res  core.WindowResult
	vals []core.NamedValue
	// width is the plan's row width.
	width int
	// sketches is set when rows hold sketches: dropping a row must then release them.
	sketches bool
	// pass counts advanceTo's runs over a bucket, which file keys in key order (see timers.add).
	pass uint64
	// sk holds the sketches of the rows; row is a scratch row.
	sk  aggregate.Sketches
	row aggregate.Row
	// span is the window last emitted by emitSpan, spanT its times.
	span  [2]int64
	spanT [2]time.Time

	// revd is set when windows count revisions (allowed lateness or early firings).
	revd bool
	// early is set when spec.Early is: the only early test an event pays without it.
	early                  bool
	earlyEvery, earlyCount int64
	// earlyNext is the processing time of the next early firing by Every (0: not started);
	// dirtyKeys the keys that received events since the last (each marked dirty).
	earlyNext int64
	dirtyKeys []*keyHead
}

// windows is one kind of window: its keys' state and how their windows fire. The operator calls it
// with the keys it files; each kind's key type embeds a keyHead, and converts back (see slicedOf).
type windows interface {
	// newKey returns the empty state of key.
	newKey(key string) *keyHead
	// isLate reports whether an event at ts would be late: every window it belongs to has
	// closed. The watermark is set.
	isLate(ts int64) bool
	// add is Operator.Add: it folds ev into its key's windows, files the key again (refile) when
	// its due time may have moved earlier, and counts the event toward early firings (noteEarly).
	add(ev *core.Event, emit Emit) (late bool)
	// dueOf is when h next needs the watermark's attention (never: not before another event).
	dueOf(h *keyHead) int64
	// fire acts on keys, the keys due at tm in key order, and files each again
	// (Operator.schedule with pass).
	fire(keys []*keyHead, tm int64, pass uint64, emit Emit)
	// empty reports whether h holds nothing, so that a key with nothing due can go.
	empty(h *keyHead) bool
	// fireEarly emits h's early results.
	fireEarly(h *keyHead, emit Emit)
	// footprint counts h's aggregate partials and the revision counters it keeps, and the slices it
	// holds (Memory's count: of windows still to fire, or with allowed lateness still open).
	footprint(h *keyHead) (partials, revs, slices int)
	// describe is the span of h's state (the windows it keeps open), for Heaviest.
	describe(h *keyHead) string
	// appendKey appends h's state to a snapshot, readKey reads it back into a new key.
	appendKey(b []byte, h *keyHead) []byte
	readKey(d *decoder, h *keyHead)
	// appendEarly appends the early-firing state of h that is the kind's own (snapshot version
	// 2), readEarly reads it back.
	appendEarly(b []byte, h *keyHead) []byte
	readEarly(d *decoder, h *keyHead)
}

// keyHead is what the operator knows of a key whatever its kind: its name, where the timers hold
// it and its early-firing state.
type keyHead struct {
	key       string
	due       int64 // when the key is due (never: not filed)
	bucketIdx int32 // index in its timers bucket, -1 when absent
	// early is the key's early-firing state: its events toward Early.Count, and the earlyDirty bit
	// while it waits in dirtyKeys. One word, so that a sliced key's firing state stays in its second
	// cache line (see slicedKey).
	early uint32
}

// earlyDirty marks a key waiting in dirtyKeys for the next Every firing.
const earlyDirty = 1 << 31

func (h *keyHead) init(key string) {
	*h = keyHead{key: key, due: never, bucketIdx: -1}
}

// earlyEvents is the key's count of events toward Early.Count.
func (h *keyHead) earlyEvents() uint32 { return h.early &^ earlyDirty }

func (h *keyHead) setEarlyEvents(n uint32) { h.early = h.early&earlyDirty | n&^earlyDirty }

// inDirtyKeys reports whether the key waits in dirtyKeys.
func (h *keyHead) inDirtyKeys() bool { return h.early&earlyDirty != 0 }

func (h *keyHead) setInDirtyKeys(v bool) {
	if v {
		h.early |= earlyDirty
	} else {
		h.early &^= earlyDirty
	}
}

// keyOverhead estimates the bytes a key holds besides its partials: its state, its map entry and
// its place in the timers.
const keyOverhead = 384

// keyAt returns the key state of type K whose keyHead field, at offset off, is h.
func keyAt[K any](h *keyHead, off uintptr) *K {
	// The keyHead is a field of a K: stepping back to the K stays inside one allocation.
	return (*K)(unsafe.Add(unsafe.Pointer(h), -int(off)))
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
		late: int64(t.AllowedLateness),
		wm:   minTime, span: [2]int64{minTime, minTime},
		keys: make(map[string]*keyHead),
	}
	o.due.reset()
	o.width = plan.Width()
	o.sketches = plan.HasSketches()
	o.row = make(aggregate.Row, o.width)
	// Results reuse one slice of values: the names are set once, emissions set the numbers.
	o.vals = plan.RowValues(o.row, &o.sk, nil)
	o.cond = plan.Conditional()
	o.res.Function = fn
	o.early = !spec.Early.IsZero()
	o.earlyEvery, o.earlyCount = int64(spec.Early.Every), int64(spec.Early.Count)
	o.revd = o.late > 0 || o.early
	switch spec.Kind {
	case Tumbling:
		o.kind = newSliced(o, int64(spec.Size), int64(spec.Size))
	case Sliding:
		o.kind = newSliced(o, int64(spec.Size), int64(spec.Slide))
	case Session:
		o.kind = &sessionWindows{Operator: o, gap: int64(spec.Gap), maxDur: int64(spec.MaxDuration)}
	case Count:
		o.kind = newCount(o, spec.Count, spec.CountSlide)
	case Global:
		o.kind = &globalWindows{Operator: o}
	}
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

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// newRow returns an empty partial.
func (o *Operator) newRow() aggregate.Row { return make(aggregate.Row, o.width) }

// key returns the state of key, made empty when it holds none.
func (o *Operator) key(key string) *keyHead {
	h := o.lookup(key)
	if h == nil {
		h = o.kind.newKey(key)
		o.keys[key] = h
	}
	return h
}

// keyCacheSize is the number of entries of Operator.kc (24 bytes each), in sets of two. The cache
// is made once the operator holds keyCacheFrom keys.
const keyCacheSize = 1 << keyCacheBits
const keyCacheFrom = 64
const keyCacheBits = 11

// keySlot is an entry of Operator.kc: a lookup of the key at p found h when o.kgen was gen.
type keySlot struct {
	p   *byte
	h   *keyHead
	gen uint64
}

// lookup returns o.keys[key]. A hit in the cache is checked against the key's bytes, not only
// their address, so a key whose bytes are reused for another one is never mistaken for it.
func (o *Operator) lookup(key string) *keyHead {
	if o.kc == nil {
		if len(o.keys) < keyCacheFrom {
			return o.keys[key] // few keys: the map is as quick, and 48 KB is saved
		}
		o.kc = new([keyCacheSize]keySlot)
	}
	p := unsafe.StringData(key)
	i := uint64(uintptr(unsafe.Pointer(p))) * 0x9E3779B97F4A7C15 >> (64 - keyCacheBits) &^ 1
	set := (*[2]keySlot)(o.kc[i : i+2])
	if h := set[0].h; set[0].p == p && set[0].gen == o.kgen && sameKey(h.key, key) {
		return h
	}
	if h := set[1].h; set[1].p == p && set[1].gen == o.kgen && sameKey(h.key, key) {
		return h
	}
	h := o.keys[key]
	if h != nil {
		// The newer entry first; the one it displaces stays as the second.
		set[1], set[0] = set[0], keySlot{p: p, h: h, gen: o.kgen}
	}
	return h
}

// sameKey is a == b, short when they share their bytes (a key interned by the decoder).
func sameKey(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// dropKey removes h from o.keys, and so from the lookup cache.
func (o *Operator) dropKey(h *keyHead) {
	delete(o.keys, h.key)
	o.kgen++
}

// resetKeys empties o.keys.
func (o *Operator) resetKeys() {
	o.keys = make(map[string]*keyHead)
	o.kgen++
}

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

// keyBytes estimates the memory and snapshot bytes key state h holds: its partials at the row's
// width, the key, and the key's fixed state.
func (o *Operator) keyBytes(h *keyHead) int {
	partials, revs, _ := o.kind.footprint(h)
	return (partials+revs)*8*max(o.width, 1) + len(h.key) + keyOverhead
}

// Heaviest names the key holding the most state, the span of its state (the windows it keeps open)
// and its estimated bytes; ok is false when no key holds state. Budget errors and memory reports
// use it; it walks every key.
func (o *Operator) Heaviest() (key, span string, bytes int, ok bool) {
	var best *keyHead
	for _, h := range o.keys {
		b := o.keyBytes(h)
		if best == nil || b > bytes || (b == bytes && h.key < best.key) {
			best, bytes = h, b
		}
	}
	if best == nil {
		return "", "", 0, false
	}
	return best.key, o.kind.describe(best), bytes, true
}

// spanTime formats a time of a span description.
func spanTime(t int64) string { return time.Unix(0, t).UTC().Format(core.TimeLayout) }

// StateBytes estimates the bytes all keys' window state holds.
func (o *Operator) StateBytes() int {
	n := 0
	for _, h := range o.keys {
		n += o.keyBytes(h)
	}
	return n
}

// Partials counts the aggregate partials the operator holds, for memory accounting: slices, running
// aggregates, sessions and count slices.
func (o *Operator) Partials() int {
	n := 0
	for _, h := range o.keys {
		p, _, _ := o.kind.footprint(h)
		n += p
	}
	return n
}

// Late reports whether an event at time t would be late: every window it belongs to has closed.
func (o *Operator) Late(t time.Time) bool {
	return o.wm != minTime && o.kind.isLate(t.UnixNano())
}

// Add folds ev into its windows and reports whether it was late (then nothing changed and the caller
// writes it to the late output). Windows re-emitted because of a late event go to emit.
func (o *Operator) Add(ev *core.Event, emit Emit) (late bool) { return o.kind.add(ev, emit) }

// refile files h, which an event changed, under its due time due.
func (o *Operator) refile(h *keyHead, due int64, emit Emit) {
	o.schedule(h, due, 0)
	// An event in a window the watermark already passed (but within the allowed lateness) makes it
	// due now, not at the next watermark move.
	// The heap's top bounds every due time from below: above the watermark (the usual case) it
	// answers without next's bucket lookup.
	if len(o.due.times) == 0 || o.due.times[0] > o.wm {
		return
	}
	if tm, ok := o.due.next(); ok && tm <= o.wm {
		o.advanceTo(o.wm, emit)
	}
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
		o.kind.fire(keys, tm, o.pass, emit)
		o.due.recycle(keys)
	}
}

// schedule files h under due, its due time (dueOf), or drops the key when it holds nothing. A due
// time that moved later leaves the key where it is (a session's end moves with every event): when
// that earlier time comes, the key is filed again under its real time. pass is advanceTo's run
// filing the key, 0 for any other caller (see timers.add).
func (o *Operator) schedule(h *keyHead, due int64, pass uint64) {
	if h.bucketIdx >= 0 {
		if due >= h.due {
			return
		}
		o.due.remove(h, h.due)
	}
	h.due = due
	if due == never {
		if o.kind.empty(h) {
			o.dropKey(h)
		}
		return
	}
	o.due.add(h, pass)
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
	if g, ok := o.kind.(*globalWindows); ok {
		g.emitChanged(emit)
	}
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

// String describes the operator, for logs.
func (o *Operator) String() string {
	return fmt.Sprintf("window %s %s (%d keys)", o.fn, o.spec.Kind, len(o.keys))
}

// Memory counts what the operator holds: keys, non-empty slices (for sliced windows: those of
// windows still to fire or still open), and aggregate partials of every kind. Partials minus slices
// is the overhead of the two-stacks aggregator: at most one running aggregate per key.
func (o *Operator) Memory() (keys, slices, partials int) {
	for _, h := range o.keys {
		p, _, s := o.kind.footprint(h)
		slices += s
		partials += p
	}
	return len(o.keys), slices, partials
}

// noLateness is for kinds whose windows are never late (count and global windows).
type noLateness struct{}

func (noLateness) isLate(int64) bool { return false }

// notTimed is for kinds whose keys never come due (count and global windows): they never go either.
type notTimed struct{}

func (notTimed) dueOf(*keyHead) int64                 { return never }
func (notTimed) fire([]*keyHead, int64, uint64, Emit) {}
func (notTimed) empty(*keyHead) bool                  { return false }

// noEarlyState is for kinds with no early-firing state of their own to snapshot.
type noEarlyState struct{}

func (noEarlyState) appendEarly(b []byte, _ *keyHead) []byte { return b }
func (noEarlyState) readEarly(*decoder, *keyHead)            {}
