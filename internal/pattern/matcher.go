package pattern

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/eddyhq/eddy/core"
)

// LateReason is the Reason of the core.Late values Add returns.
const LateReason = "behind the pattern watermark"

// Stats counts what a Matcher did since it was made (counters survive snapshots) and what it holds
// now (gauges).
type Stats struct {
	Buffered int // gauge: events waiting for the watermark
	Keys     int // gauge: keys holding state
	Partials int // gauge: partial matches, absence waits included

	Events          uint64 // events released to the matcher
	Late            uint64 // events returned by Add as late
	Matches         uint64 // "matched" decisions
	Absences        uint64 // "absent" decisions
	DroppedPartials uint64 // partial matches dropped by MaxPartials
	ExpiredPartials uint64 // partial matches ended by Within or KeyTTL
	EvalErrors      uint64 // predicate evaluations that failed (counted as false)
}

// evRef is an event as a partial match keeps it.
type evRef struct {
	t   int64
	ord uint64 // release order: position in the key's (time, arrival) order
	// fp fingerprints the event (eventHash): decision ids fold it in rather than the record id,
	// which each transport assigns differently (a Kinesis sequence number, a Pub/Sub message id),
	// so the same events give the same ids on every cloud, and a redelivered copy the same id.
	fp   uint64
	vals []core.Value // retained fields, by slot
}

// capture is what a partial match keeps of one step: its first and last event and their count.
type capture struct {
	first, last evRef
	n           int32
}

// run is one partial match.
type run struct {
	id       uint64
	step     int32 // index of the positive step; len(steps) while waiting for an absence deadline
	count    int32 // events accepted by the current step
	total    int32
	deadline int64
	hash     uint64 // folds the accepted events, for the decision id
	caps     []capture
}

type pending struct {
	ks   *keyState
	t    int64
	seq  uint64
	fp   uint64
	mask uint64
	vals []core.Value
}

type keyState struct {
	key     string
	runs    []run
	pending int
	last    int64 // time of the newest released event
}

// Matcher runs one Pattern over one partition's events. It is not safe for concurrent use: a
// partition is processed by one goroutine at a time.
type Matcher struct {
	p    *Pattern
	keys map[string]*keyState
	wm   int64
	seq  uint64 // arrival counter
	ord  uint64 // release counter
	rid  uint64 // run id counter

	events    evHeap
	slots     []pending
	freeSlots []int32
	timers    timerHeap

	slab      []core.Value
	freeCaps  [][]capture
	freeKeys  []*keyState
	next      []run
	done      []run
	act       activation
	cur       *keyState // the key being processed
	alwaysSet uint64

	st Stats
}

// NewMatcher returns an empty matcher: no keys, and a watermark before every event.
func (p *Pattern) NewMatcher() *Matcher {
	m := &Matcher{p: p, keys: make(map[string]*keyState), wm: math.MinInt64}
	for i, s := range p.steps {
		if s.pred.always {
			m.alwaysSet |= 1 << uint(i)
		}
	}
	if p.absent != nil && p.absent.pred.always {
		m.alwaysSet |= 1 << uint(len(p.steps))
	}
	return m
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// nanos maps t onto int64 nanoseconds, saturating outside their range, so far-past and far-future
// times (a watermark of "+infinity") stay ordered.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// passed reports whether the watermark passed t: every event at or before t has been seen. The
// maximal watermark passes everything.
func (m *Matcher) passed(t int64) bool { return t < m.wm || m.wm == math.MaxInt64 }

// Watermark returns the matcher's watermark.
func (m *Matcher) Watermark() time.Time {
	if m.wm == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, m.wm).UTC()
}

// Add buffers e until the watermark passes it. An event behind the watermark (time < watermark) is
// late: Add returns it for the late output and the matcher ignores it. Add fails, keeping nothing,
// when MaxBuffered events are already waiting.
func (m *Matcher) Add(e *core.Event) (*core.Late, error) {
	t := nanos(e.Time)
	if t < m.wm {
		m.st.Late++
		return &core.Late{
			Function: m.p.function, Key: e.Key, Time: e.Time, Watermark: m.Watermark(),
			ID: e.ID, Pos: e.Pos, Data: e.Data, Reason: LateReason,
		}, nil
	}
	if len(m.events) >= m.p.maxBuffered {
		return nil, fmt.Errorf("pattern %q key %q event %q: %d events wait for the watermark, the max_buffered budget", m.p.name, e.Key, e.ID, len(m.events))
	}
	ks := m.keys[e.Key]
	if ks == nil {
		ks = m.newKey(e.Key)
	}
	mask := m.alwaysSet
	for _, pr := range m.p.eager {
		if pr.always {
			continue
		}
		var ok bool
		if pr.fast != nil {
			ok = pr.fast.Eval(e.Fields)
		} else {
			m.act = activation{key: e.Key, t: t, fields: e.Fields}
			var failed bool
			ok, failed = pr.evalCEL(&m.act)
			if failed {
				m.st.EvalErrors++
			}
		}
		if ok {
			mask |= 1 << pr.bit
		}
	}
	var slot int32
	if n := len(m.freeSlots); n > 0 {
		slot = m.freeSlots[n-1]
		m.freeSlots = m.freeSlots[:n-1]
	} else {
		slot = int32(len(m.slots))
		m.slots = append(m.slots, pending{})
	}
	m.slots[slot] = pending{ks: ks, t: t, seq: m.seq, fp: eventHash(e), mask: mask, vals: m.retain(e.Fields)}
	m.events.push(evItem{t: t, seq: m.seq, slot: slot})
	m.seq++
	ks.pending++
	return nil, nil
}

func (m *Matcher) newKey(key string) *keyState {
	var ks *keyState
	if n := len(m.freeKeys); n > 0 {
		ks = m.freeKeys[n-1]
		m.freeKeys = m.freeKeys[:n-1]
		ks.key = key
	} else {
		ks = &keyState{key: key}
	}
	m.keys[key] = ks
	return ks
}

func (m *Matcher) dropKey(ks *keyState) {
	delete(m.keys, ks.key)
	for i := range ks.runs {
		m.freeRun(&ks.runs[i])
	}
	*ks = keyState{runs: ks.runs[:0]}
	m.freeKeys = append(m.freeKeys, ks)
}

// retain copies the fields the pattern keeps into the value slab. Values are normalised to their
// kind's member so that nothing else stays referenced; object text is copied since decoders may
// reuse their buffers.
func (m *Matcher) retain(fields []core.Value) []core.Value {
	n := len(m.p.retained)
	if n == 0 {
		return nil
	}
	if cap(m.slab)-len(m.slab) < n {
		// Small chunks: a long-lived partial match pins the chunk its events live in.
		m.slab = make([]core.Value, 0, max(128, n))
	}
	start := len(m.slab)
	for _, idx := range m.p.retained {
		var v core.Value
		if idx < len(fields) {
			v = normalize(fields[idx])
		}
		m.slab = append(m.slab, v)
	}
	return m.slab[start:len(m.slab):len(m.slab)]
}

func normalize(v core.Value) core.Value {
	switch v.Kind {
	case core.Number:
		return core.Value{Kind: core.Number, Num: v.Num}
	case core.String:
		return core.Value{Kind: core.String, Str: v.Str}
	case core.Bool:
		return core.Value{Kind: core.Bool, Bool: v.Bool}
	case core.Null:
		return core.Value{Kind: core.Null}
	case core.Object:
		return core.Value{Kind: core.Object, Raw: append([]byte(nil), v.Raw...)}
	}
	return core.Value{}
}

// Advance moves the watermark to watermark (it never moves back) and runs the matcher over the
// events and absence deadlines it passes, in time order, calling emit for each decision. emit may
// keep the decisions it is given; it must not call back into the matcher.
func (m *Matcher) Advance(watermark time.Time, emit func(*core.Decision)) {
	w := nanos(watermark)
	if w <= m.wm {
		return
	}
	m.wm = w
	m.release(emit)
}

// Tick is the processing-time clock: with Config.IdleLag set it advances the watermark to
// now-IdleLag when that is later (so absence deadlines fire on a quiet stream), then it ends
// partial matches that can no longer complete (Within passed) and expires idle keys (KeyTTL).
func (m *Matcher) Tick(now time.Time, emit func(*core.Decision)) {
	if m.p.idleLag > 0 {
		if w := addSat(nanos(now), -m.p.idleLag); w > m.wm {
			m.wm = w
			m.release(emit)
		}
	}
	if m.wm == math.MinInt64 {
		return
	}
	nsteps := int32(len(m.p.steps))
	for _, ks := range m.keys {
		ttl := m.p.keyTTL > 0 && ks.pending == 0 && ks.last < addSat(m.wm, -m.p.keyTTL)
		keep := ks.runs[:0]
		for _, r := range ks.runs {
			waiting := r.step == nsteps
			dead := !waiting && (ttl || (m.p.within > 0 && m.passed(addSat(r.caps[0].first.t, m.p.within))))
			if dead {
				m.st.ExpiredPartials++
				m.freeRun(&r)
				continue
			}
			keep = append(keep, r)
		}
		clear(ks.runs[len(keep):])
		ks.runs = keep
		if len(ks.runs) == 0 && ks.pending == 0 {
			m.dropKey(ks)
		}
	}
}

func (m *Matcher) release(emit func(*core.Decision)) {
	for {
		evOK := len(m.events) > 0 && m.passed(m.events[0].t)
		tmOK := len(m.timers) > 0 && m.passed(m.timers[0].deadline)
		switch {
		case tmOK && (!evOK || m.timers[0].deadline < m.events[0].t):
			m.fire(m.timers.pop(), emit)
		case evOK:
			it := m.events.pop()
			pe := m.slots[it.slot]
			m.slots[it.slot] = pending{}
			m.freeSlots = append(m.freeSlots, it.slot)
			ks := pe.ks
			ks.pending--
			ev := evRef{t: pe.t, ord: m.ord, fp: pe.fp, vals: pe.vals}
			m.ord++
			m.st.Events++
			ks.last = pe.t
			m.process(ks, &ev, pe.mask, emit)
			if len(ks.runs) == 0 && ks.pending == 0 {
				m.dropKey(ks)
			}
		default:
			return
		}
	}
}

// test evaluates step predicate pr (bit in the eager mask) for ev within partial match caps.
func (m *Matcher) test(pr *pred, ks *keyState, ev *evRef, mask uint64, caps []capture) bool {
	if pr.eager {
		return mask&(1<<pr.bit) != 0
	}
	m.act = activation{key: ks.key, t: ev.t, fields: ev.vals, slotted: true, caps: caps}
	ok, failed := pr.evalCEL(&m.act)
	m.act = activation{}
	if failed {
		m.st.EvalErrors++
	}
	return ok
}

func (m *Matcher) newCaps() []capture {
	if n := len(m.freeCaps); n > 0 {
		c := m.freeCaps[n-1]
		m.freeCaps = m.freeCaps[:n-1]
		return c
	}
	return make([]capture, len(m.p.steps))
}

func (m *Matcher) freeRun(r *run) {
	if r.caps != nil {
		clear(r.caps)
		m.freeCaps = append(m.freeCaps, r.caps)
		r.caps = nil
	}
}

func (m *Matcher) clone(r *run) run {
	c := *r
	c.caps = m.newCaps()
	copy(c.caps, r.caps)
	m.rid++
	c.id = m.rid
	return c
}

// accept adds ev to r as an event of step s.
func accept(r *run, s int32, ev *evRef) {
	if s != r.step {
		r.step, r.count = s, 0
	}
	r.count++
	r.total++
	c := &r.caps[s]
	if c.n == 0 {
		c.first = *ev
	}
	c.last = *ev
	c.n++
	h := hash64{sum: r.hash}
	h.int(int64(s))
	h.int(ev.t)
	h.int(int64(ev.fp))
	r.hash = h.sum
}

// settle files a run that just accepted an event: still partial, complete (a match), or complete
// up to the absence step (waiting for its deadline).
func (m *Matcher) settle(r run, ev *evRef) {
	p := m.p
	last := int32(len(p.steps) - 1)
	st := &p.steps[r.step]
	if r.step != last || int(r.count) < st.min {
		m.next = append(m.next, r)
		return
	}
	more := st.max < 0 || int(r.count) < st.max
	var fin run
	if more {
		fin = m.clone(&r)
		m.next = append(m.next, r)
	} else {
		fin = r
	}
	if p.absent == nil {
		m.done = append(m.done, fin)
		return
	}
	fin.step = last + 1
	fin.deadline = addSat(ev.t, p.absentNS)
	m.timers.push(timerItem{deadline: fin.deadline, id: fin.id, ks: m.cur})
	m.next = append(m.next, fin)
}

func (m *Matcher) process(ks *keyState, ev *evRef, mask uint64, emit func(*core.Decision)) {
	p := m.p
	nsteps := int32(len(p.steps))
	m.next = m.next[:0]
	m.done = m.done[:0]
	m.cur = ks
	defer func() { m.cur = nil }()
	for i := range ks.runs {
		r := ks.runs[i]
		if r.step == nsteps {
			if m.test(p.absent.pred, ks, ev, mask, r.caps) {
				m.freeRun(&r) // the absent event came: no decision
				continue
			}
			m.next = append(m.next, r)
			continue
		}
		if p.within > 0 && ev.t-r.caps[0].first.t > p.within {
			m.st.ExpiredPartials++
			m.freeRun(&r)
			continue
		}
		st := &p.steps[r.step]
		c := int(r.count)
		takeOK := st.max < 0 || c < st.max
		procOK := c >= st.min && r.step+1 < nsteps
		take := takeOK && m.test(st.pred, ks, ev, mask, r.caps)
		proc := procOK && m.test(p.steps[r.step+1].pred, ks, ev, mask, r.caps)
		switch {
		case take && proc:
			r2 := m.clone(&r)
			accept(&r, r.step, ev)
			m.settle(r, ev)
			accept(&r2, r2.step+1, ev)
			m.settle(r2, ev)
		case take:
			accept(&r, r.step, ev)
			m.settle(r, ev)
		case proc:
			accept(&r, r.step+1, ev)
			m.settle(r, ev)
		case (takeOK && st.relaxed) || (procOK && p.steps[r.step+1].relaxed):
			m.next = append(m.next, r) // relaxed: skip the event
		default:
			m.freeRun(&r) // strict: the chain is broken
		}
	}
	if mask&1 != 0 {
		m.rid++
		r := run{id: m.rid, caps: m.newCaps(), hash: newHash().sum}
		accept(&r, 0, ev)
		m.settle(r, ev)
	}
	clear(ks.runs)
	ks.runs = append(ks.runs[:0], m.next...)
	clear(m.next)
	m.next = m.next[:0]
	if len(m.done) > 0 {
		m.finish(ks, emit)
	}
	if over := len(ks.runs) - p.maxPartials; over > 0 {
		for i := 0; i < over; i++ {
			m.freeRun(&ks.runs[i])
		}
		n := copy(ks.runs, ks.runs[over:])
		clear(ks.runs[n:])
		ks.runs = ks.runs[:n]
		m.st.DroppedPartials += uint64(over)
	}
}

// finish emits the matches completed by one event, as the skip strategy allows.
func (m *Matcher) finish(ks *keyState, emit func(*core.Decision)) {
	done := m.done
	// Earliest start first; equal starts keep their order (the greedy branch first).
	for i := 1; i < len(done); i++ {
		for j := i; j > 0 && done[j].caps[0].first.ord < done[j-1].caps[0].first.ord; j-- {
			done[j], done[j-1] = done[j-1], done[j]
		}
	}
	for i := range done {
		d := &done[i]
		if d.caps == nil {
			continue
		}
		emit(m.decision(ks, d, core.StateMatched, d.caps[len(m.p.steps)-1].last.t))
		m.st.Matches++
		m.skipAfter(ks, d, done[i+1:])
		m.freeRun(d)
		if m.p.skip == SkipPastLastEvent {
			break
		}
	}
	for i := range done {
		m.freeRun(&done[i])
	}
	clear(m.done)
	m.done = m.done[:0]
}

// skipAfter drops the partial matches (and the pending completed ones in rest) that the skip
// strategy rules out after match d.
func (m *Matcher) skipAfter(ks *keyState, d *run, rest []run) {
	start := d.caps[0].first.ord
	lastOrd := d.caps[len(m.p.steps)-1].last.ord
	var drop func(r *run) bool
	switch m.p.skip {
	case NoSkip:
		return
	case SkipToNext:
		drop = func(r *run) bool { return r.caps[0].first.ord == start }
	default:
		drop = func(r *run) bool { return r.caps[0].first.ord <= lastOrd }
	}
	keep := ks.runs[:0]
	for _, r := range ks.runs {
		if drop(&r) {
			m.freeRun(&r)
			continue
		}
		keep = append(keep, r)
	}
	clear(ks.runs[len(keep):])
	ks.runs = keep
	for i := range rest {
		if rest[i].caps != nil && drop(&rest[i]) {
			m.freeRun(&rest[i])
		}
	}
}

func (m *Matcher) fire(tm timerItem, emit func(*core.Decision)) {
	ks := tm.ks
	if ks == nil {
		return
	}
	idx := -1
	for i := range ks.runs {
		if ks.runs[i].id == tm.id {
			idx = i
			break
		}
	}
	if idx < 0 || ks.runs[idx].step != int32(len(m.p.steps)) || ks.runs[idx].deadline != tm.deadline {
		return // the absent event came, or the wait was dropped: a stale timer
	}
	r := ks.runs[idx]
	copy(ks.runs[idx:], ks.runs[idx+1:])
	ks.runs[len(ks.runs)-1] = run{}
	ks.runs = ks.runs[:len(ks.runs)-1]
	emit(m.decision(ks, &r, core.StateAbsent, r.deadline))
	m.st.Absences++
	m.skipAfter(ks, &r, nil)
	m.freeRun(&r)
	if len(ks.runs) == 0 && ks.pending == 0 {
		m.dropKey(ks)
	}
}

// decision builds the output for a completed run. Values: "count" (events matched), then per
// positive step "<step>.count" and, per captured field, "<step>.<field>" for a single-event step or
// "<step>.first.<field>" and "<step>.last.<field>" for a repeated one. A field that is not a number
// is NaN (null in JSON).
func (m *Matcher) decision(ks *keyState, r *run, state core.State, at int64) *core.Decision {
	p := m.p
	first := r.caps[0].first
	last := r.caps[len(p.steps)-1].last
	win := core.Span{Start: time.Unix(0, first.t).UTC(), End: time.Unix(0, last.t).UTC()}
	vals := make([]core.NamedValue, 0, p.valueLen)
	vals = append(vals, core.NamedValue{Name: "count", Num: float64(r.total)})
	for i := range p.steps {
		st := &p.steps[i]
		c := &r.caps[i]
		vals = append(vals, core.NamedValue{Name: st.countName, Num: float64(c.n)})
		for j, cf := range p.capture {
			if st.max == 1 {
				vals = append(vals, captured(st.valueNames[j], c.last.vals, cf.slot))
			} else {
				vals = append(vals,
					captured(st.valueNames[2*j], c.first.vals, cf.slot),
					captured(st.valueNames[2*j+1], c.last.vals, cf.slot))
			}
		}
	}
	transition := string(state) + "/" + strconv.FormatUint(r.hash, 16)
	var refs []core.TableVersion
	for i, h := range p.refHandles {
		refs = append(refs, core.TableVersion{Table: p.refTables[i], Version: h.Current().Version()})
	}
	return &core.Decision{
		ID:       core.DecisionIDRef(p.function, p.name, ks.key, win, transition, 0, refs),
		Ref:      refs,
		Function: p.function,
		Rule:     p.name,
		Severity: p.severity,
		Key:      ks.key,
		State:    state,
		Time:     time.Unix(0, at).UTC(),
		Window:   win,
		Values:   vals,
	}
}

// captured is a captured field's value: a number as such (a boolean as 1 or 0), a string or an
// object as its JSON, and a missing or null field as null.
func captured(name string, vals []core.Value, slot int) core.NamedValue {
	v := core.NamedValue{Name: name, Num: math.NaN()}
	if slot >= len(vals) {
		return v
	}
	f := vals[slot]
	if n, ok := f.Float(); ok { // numbers, and booleans as 1 or 0 as rules see them
		v.Num = n
		return v
	}
	switch f.Kind {
	case core.String:
		v.Raw = core.AppendString(nil, f.Str)
	case core.Object:
		v.Raw = f.Raw
	}
	return v
}

// Stats returns the matcher's counters and gauges.
func (m *Matcher) Stats() Stats {
	s := m.st
	s.Buffered = len(m.events)
	s.Keys = len(m.keys)
	for _, ks := range m.keys {
		s.Partials += len(ks.runs)
	}
	return s
}
