package window

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// sessionWindows are session windows: a key's events closer than gap make one session, capped at
// maxDur when it is set.
type sessionWindows struct {
	*Operator
	gap, maxDur int64
}

// sessionKey is one key's sessions, in order of start.
type sessionKey struct {
	keyHead
	sessions []session
}

type session struct {
	start, end int64
	// p is the session's partial. Sessions move within their slice, so a row inside one is got
	// through srow, not kept.
	p       inlineRow
	emitted int
	fired   bool
}

// sessionOf returns the sessionKey whose head h is.
func sessionOf(h *keyHead) *sessionKey { return keyAt[sessionKey](h, 0) }

func (w *sessionWindows) newKey(key string) *keyHead {
	ks := &sessionKey{}
	ks.keyHead.init(key)
	return &ks.keyHead
}

// srow returns s's partial.
func (w *sessionWindows) srow(s *session) aggregate.Row { return s.p.row(w.width) }

// newSession returns a session of [start, end) with an empty partial.
func (w *sessionWindows) newSession(start, end int64) session {
	s := session{start: start, end: end}
	s.p.init(w.width)
	return s
}

func (w *sessionWindows) isLate(ts int64) bool { return ts+w.gap+w.late <= w.wm }

func (w *sessionWindows) add(ev *core.Event, emit Emit) (late bool) {
	ts := ev.Time.UnixNano()
	if w.wm != minTime && w.isLate(ts) {
		return true
	}
	h := w.key(ev.Key)
	ks := sessionOf(h)
	w.addSession(ks, ev, ts)
	w.refile(h, w.sessionDue(ks), emit)
	if w.early {
		w.noteEarly(h, emit)
	}
	return false
}

func (w *sessionWindows) addSession(ks *sessionKey, ev *core.Event, ts int64) {
	lo, hi := ts, ts+w.gap
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
	if first >= 0 && w.maxDur > 0 {
		start := min(ks.sessions[first].start, ts)
		end := max(ks.sessions[last].end, hi)
		if end-w.gap-start >= w.maxDur {
			// Merging all would overstep the cap: join the latest overlapping session if it fits,
			// else start a new one.
			s := ks.sessions[last]
			if max(s.end, hi)-w.gap-min(s.start, ts) < w.maxDur {
				first = last
			} else {
				first = -1
			}
		}
	}
	if first < 0 {
		s := w.newSession(lo, hi)
		w.addTo(w.where(ev), w.srow(&s), ev, ts)
		i, _ := slices.BinarySearchFunc(ks.sessions, lo, func(s session, t int64) int { return cmpInt(s.start, t) })
		ks.sessions = slices.Insert(ks.sessions, i, s)
		return
	}
	m := &ks.sessions[first]
	m.fired = false
	for i := first + 1; i <= last; i++ {
		s := &ks.sessions[i]
		w.plan.MergeRow(w.srow(m), w.srow(s), &w.sk)
		w.plan.FreeRow(w.srow(s), &w.sk)
		m.end = max(m.end, s.end)
		m.emitted = max(m.emitted, s.emitted)
	}
	ks.sessions = slices.Delete(ks.sessions, first+1, last+1)
	m.start = min(m.start, lo)
	m.end = max(m.end, hi)
	w.addTo(w.where(ev), w.srow(m), ev, ts)
	// A merged session may now start before sessions it did not merge with; keep them ordered.
	slices.SortStableFunc(ks.sessions, func(a, b session) int { return cmpInt(a.start, b.start) })
}

func (w *sessionWindows) dueOf(h *keyHead) int64 { return w.sessionDue(sessionOf(h)) }

// sessionDue is when ks next needs the watermark's attention: a session's end, or when a fired
// session's allowed lateness runs out.
func (w *sessionWindows) sessionDue(ks *sessionKey) int64 {
	due := int64(never)
	for _, s := range ks.sessions {
		if s.fired {
			due = min(due, s.end+w.late)
		} else {
			due = min(due, s.end)
		}
	}
	return due
}

func (w *sessionWindows) fire(keys []*keyHead, tm int64, pass uint64, emit Emit) {
	for _, h := range keys {
		ks := sessionOf(h)
		// A key whose due time moved later waited here lazily: it acts only at its real time.
		if w.sessionDue(ks) == tm {
			w.act(ks, emit)
		}
		w.schedule(h, w.sessionDue(ks), pass)
	}
}

// act fires or drops the session whose time came first.
func (w *sessionWindows) act(ks *sessionKey, emit Emit) {
	best := -1
	for i, s := range ks.sessions {
		d := s.end
		if s.fired {
			d = s.end + w.late
		}
		if d <= w.wm && (best < 0 || d < w.sessionAt(ks, best)) {
			best = i
		}
	}
	if best < 0 {
		return
	}
	s := &ks.sessions[best]
	if !s.fired {
		w.emitSpan(emit, ks.key, s.start, s.end, s.emitted, w.srow(s))
		s.emitted++
		s.fired = true
		if s.end+w.late > w.wm {
			return
		}
	}
	w.plan.FreeRow(w.srow(s), &w.sk)
	ks.sessions = slices.Delete(ks.sessions, best, best+1)
}

func (w *sessionWindows) sessionAt(ks *sessionKey, i int) int64 {
	s := ks.sessions[i]
	if s.fired {
		return s.end + w.late
	}
	return s.end
}

func (w *sessionWindows) empty(h *keyHead) bool { return len(sessionOf(h).sessions) == 0 }

func (w *sessionWindows) footprint(h *keyHead) (partials, revs, slices int) {
	return len(sessionOf(h).sessions), 0, 0
}

func (w *sessionWindows) describe(h *keyHead) string {
	ss := sessionOf(h).sessions
	span := fmt.Sprintf("%d sessions", len(ss))
	if n := len(ss); n > 0 {
		span += fmt.Sprintf(" [%s, %s)", spanTime(ss[0].start), spanTime(ss[n-1].end))
	}
	return span
}

// fireEarly emits every session of ks that has not fired, as it stands.
func (w *sessionWindows) fireEarly(h *keyHead, emit Emit) {
	ks := sessionOf(h)
	for i := range ks.sessions {
		s := &ks.sessions[i]
		if !s.fired {
			w.emitSpan(emit, ks.key, s.start, s.end, s.emitted, w.srow(s))
			s.emitted++
		}
	}
}

func (w *sessionWindows) appendKey(b []byte, h *keyHead) []byte {
	ks := sessionOf(h)
	b = binary.AppendUvarint(b, uint64(len(ks.sessions)))
	for i := range ks.sessions {
		s := &ks.sessions[i]
		b = binary.AppendVarint(b, s.start)
		b = binary.AppendVarint(b, s.end)
		b = binary.AppendUvarint(b, uint64(s.emitted))
		b = appendBool(b, s.fired)
		b = w.plan.AppendRow(b, w.srow(s), &w.sk)
	}
	return b
}

func (w *sessionWindows) readKey(d *decoder, h *keyHead) {
	ks := sessionOf(h)
	ns := d.count()
	for j := 0; j < ns && d.err == nil; j++ {
		start, end := d.time(), d.time()
		if start > end || (j > 0 && start < ks.sessions[j-1].start) {
			d.fail() // sessions are spans, in order
		}
		s := w.newSession(start, end)
		s.emitted, s.fired = int(d.uvarint()), d.bool()
		if s.emitted < 0 {
			d.fail()
		}
		d.row(w.Operator, w.srow(&s))
		ks.sessions = append(ks.sessions, s)
	}
}

func (w *sessionWindows) appendEarly(b []byte, _ *keyHead) []byte { return b }
func (w *sessionWindows) readEarly(*decoder, *keyHead)            {}
