// Package window assigns events to keyed windows in event time and emits each window's aggregates
// when the watermark passes its end: tumbling, sliding (hopping), session, count and global windows,
// with allowed lateness, revisions, a late output and idle timeouts.
//
// Time-based windows are computed by slicing: the time line is cut into slices of gcd(size, slide),
// an event updates exactly one slice partial, and a window combines the partials of its slices
// through an in-place two-stacks aggregator (Two-Stacks Lite), so the cost per event does not grow
// with size/slide and a key holds one partial per non-empty slice plus one running aggregate.
package window

import (
	"fmt"
	"time"
)

// Kind names a window kind.
type Kind string

// The window kinds.
const (
	// Tumbling windows are fixed, adjacent and non-overlapping: [k*Size, (k+1)*Size).
	Tumbling Kind = "tumbling"
	// Sliding (hopping) windows have length Size and start every Slide: an event belongs to
	// Size/Slide windows.
	Sliding Kind = "sliding"
	// Session windows group a key's events separated by less than Gap, optionally capped at
	// MaxDuration.
	Session Kind = "session"
	// Count windows hold Count events of a key (in arrival order) and advance every Slide events
	// (Slide = Count, the default, gives tumbling count windows).
	Count Kind = "count"
	// Global windows hold all of a key's events; they emit their running value on every Tick and at
	// Flush.
	Global Kind = "global"
)

// Spec declares a window.
type Spec struct {
	Kind Kind
	// Size is the length of a tumbling or sliding window.
	Size time.Duration
	// Slide is how often a sliding window starts.
	Slide time.Duration
	// Gap is a session's inactivity gap.
	Gap time.Duration
	// MaxDuration caps a session's length (0: no cap). An event that would stretch a session past it
	// (from its first event's time) starts a new session.
	MaxDuration time.Duration
	// Count is a count window's length in events.
	Count int
	// CountSlide is how many events a sliding count window advances by (0: Count, tumbling). Count
	// must be a multiple of it.
	CountSlide int
	// Early makes windows speak before they close (zero: only when they close).
	Early Early
}

// Early configures early firings: speculative results of a key's open window, marked Early, before
// the watermark closes it. Either trigger or both may be set.
//
// What fires: a tumbling or sliding window key's next window to close (for sliding windows the one
// holding most of the key's recent events: the later ones would repeat nearly the same numbers), a
// session key's open sessions, a count window key's window in progress, a global window key's
// running value. A window with nothing in it does not fire.
//
// Revisions: a window's early results take revisions 0, 1, ... in order; its on-time result takes
// the next one and late updates the ones after, so ids stay unique. A session keeps its count when
// sessions merge; a count window's span is known only when it closes, so a count window key numbers
// all its results (early and final) in one sequence. Early firings by Count are a
// pure function of the events (batch splits and restores do not change them); by Every they also
// depend on the processing times the operator is given (FireEarly), and replaying the same batches
// with the same times gives the same results.
type Early struct {
	// Every fires the keys that received events since their last early firing, once per Every of
	// processing time, on the grid of multiples of Every (see Operator.FireEarly).
	Every time.Duration
	// Count fires a key's window every Count events of the key (counted across its windows).
	Count int
}

// IsZero reports whether no early trigger is set.
func (e Early) IsZero() bool { return e.Every == 0 && e.Count == 0 }

// Validate checks the early triggers.
func (e Early) Validate() error {
	if e.Every < 0 {
		return fmt.Errorf("early: every must be positive, got %v", e.Every)
	}
	if e.Count < 0 {
		return fmt.Errorf("early: count must be positive, got %d", e.Count)
	}
	return nil
}

// Time configures event time.
type Time struct {
	// OutOfOrder is how far behind the newest event time an event may arrive and still count as on
	// time: the watermark is the max event time seen minus OutOfOrder.
	OutOfOrder time.Duration
	// AllowedLateness keeps a window open after it fired: a late event within it updates the window,
	// which is emitted again with the next revision. Beyond it an event goes to the late output.
	AllowedLateness time.Duration
	// IdleTimeout, when set, lets Tick close the windows of a partition that has received nothing for
	// this long in processing time: the watermark moves to the tick's time minus OutOfOrder.
	IdleTimeout time.Duration
}

// Validate checks a spec.
func (s Spec) Validate() error {
	if err := s.Early.Validate(); err != nil {
		return fmt.Errorf("%s window: %w", s.Kind, err)
	}
	switch s.Kind {
	case Tumbling:
		if s.Size <= 0 {
			return fmt.Errorf("tumbling window: size must be positive, got %v", s.Size)
		}
	case Sliding:
		if s.Size <= 0 {
			return fmt.Errorf("sliding window: size must be positive, got %v", s.Size)
		}
		if s.Slide <= 0 || s.Slide > s.Size {
			return fmt.Errorf("sliding window: slide must be in (0, size=%v], got %v", s.Size, s.Slide)
		}
	case Session:
		if s.Gap <= 0 {
			return fmt.Errorf("session window: gap must be positive, got %v", s.Gap)
		}
		if s.MaxDuration < 0 {
			return fmt.Errorf("session window: max duration must not be negative, got %v", s.MaxDuration)
		}
	case Count:
		if s.Count <= 0 {
			return fmt.Errorf("count window: count must be positive, got %d", s.Count)
		}
		if s.CountSlide < 0 || (s.CountSlide > 0 && s.Count%s.CountSlide != 0) {
			return fmt.Errorf("count window: count %d must be a multiple of the slide %d", s.Count, s.CountSlide)
		}
	case Global:
	case "":
		return fmt.Errorf("window kind is missing (tumbling, sliding, session, count or global)")
	default:
		return fmt.Errorf("unknown window kind %q (tumbling, sliding, session, count or global)", s.Kind)
	}
	return nil
}

// Validate checks the time settings.
func (t Time) Validate() error {
	if t.OutOfOrder < 0 {
		return fmt.Errorf("out-of-orderness must not be negative, got %v", t.OutOfOrder)
	}
	if t.AllowedLateness < 0 {
		return fmt.Errorf("allowed lateness must not be negative, got %v", t.AllowedLateness)
	}
	if t.IdleTimeout < 0 {
		return fmt.Errorf("idle timeout must not be negative, got %v", t.IdleTimeout)
	}
	return nil
}
