package view

import (
	"context"
	"slices"

	"github.com/eddyhq/eddy/core"
)

// DefaultBufferOutputs is how many window results and decisions a Buffer holds, after folding,
// before it writes them.
const DefaultBufferOutputs = 50_000

// Buffer folds outputs into the rows they touch and writes them through a Writer's store when it
// holds max entries, and on Flush. It is for replays (eddy replay), where nothing is committed
// per batch: a key's windows fold into its rows once per flush instead of once per batch, which
// makes the view nearly free. It must not stand in for a Writer under a Runner, which commits a
// batch once its sinks returned: buffered outputs would be lost in a crash.
//
// Folding keeps what the rows would keep: a latest view's newest window, a history view's last
// windows, a firing view's newest transition, a decision's first copy. The outputs themselves
// are not kept, so their producer may reuse them.
type Buffer struct {
	w    *Writer
	max  int
	held int
	at   map[string]int
	ups  []update
	sc   scratch
}

// NewBuffer returns a Buffer of up to max entries (DefaultBufferOutputs if max <= 0) before w.
func NewBuffer(w *Writer, max int) *Buffer {
	if max <= 0 {
		max = DefaultBufferOutputs
	}
	return &Buffer{w: w, max: max, at: map[string]int{}, sc: scratch{at: map[string]int{}}}
}

// Emit implements runner.Sink: it folds outs into the rows they touch, and writes when the
// buffer is full.
func (b *Buffer) Emit(ctx context.Context, outs []core.Output) error {
	defer b.sc.reset()
	for _, u := range b.w.updates(&b.sc, outs) {
		i, ok := b.at[u.id]
		if !ok {
			// The scratch keeps its slices for the next batch: copy them.
			u.wins, u.decs = slices.Clone(u.wins), slices.Clone(u.decs)
			b.at[u.id] = len(b.ups)
			b.ups = append(b.ups, u)
			b.held += len(u.wins) + len(u.decs)
			continue
		}
		p := &b.ups[i]
		b.held -= len(p.wins) + len(p.decs)
		p.wins = append(p.wins, u.wins...)
		p.decs = append(p.decs, u.decs...)
		p.fold()
		b.held += len(p.wins) + len(p.decs)
	}
	if b.held >= b.max {
		return b.Flush(ctx)
	}
	return nil
}

// Flush writes what the buffer holds. After an error the buffer keeps it, to write again.
func (b *Buffer) Flush(ctx context.Context) error {
	if len(b.ups) == 0 {
		return nil
	}
	if err := b.w.store.apply(ctx, b.w.function, b.ups, &b.w.cache); err != nil {
		// apply sorted the updates: index them again.
		for i := range b.ups {
			b.at[b.ups[i].id] = i
		}
		return err
	}
	clear(b.at)
	clear(b.ups)
	b.ups, b.held = b.ups[:0], 0
	return nil
}

// fold drops what merging u into any row could not keep, so a Buffer holds O(rows) entries.
func (u *update) fold() {
	switch u.def.Kind {
	case Latest:
		best := 0
		for i := 1; i < len(u.wins); i++ {
			if u.wins[i].newer(&u.wins[best]) {
				best = i
			}
		}
		u.wins[0] = u.wins[best]
		clear(u.wins[1:])
		u.wins = u.wins[:1]
	case History:
		n := u.def.history()
		if len(u.wins) <= 2*n {
			return
		}
		// Oldest first, a window's highest revision last; keep each window's highest revision,
		// then the newest n windows.
		slices.SortStableFunc(u.wins, func(a, b Window) int {
			if c := a.End.Compare(b.End); c != 0 {
				return c
			}
			if c := a.Start.Compare(b.Start); c != 0 {
				return c
			}
			return a.Revision - b.Revision
		})
		kept := u.wins[:0]
		for i := range u.wins {
			if i+1 < len(u.wins) && u.wins[i+1].End.Equal(u.wins[i].End) && u.wins[i+1].Start.Equal(u.wins[i].Start) {
				continue
			}
			kept = append(kept, u.wins[i])
		}
		if d := len(kept) - n; d > 0 {
			kept = kept[d:]
		}
		u.wins = slices.Clip(kept)
	case Firing:
		best := 0
		for i := 1; i < len(u.decs); i++ {
			if u.decs[i].after(&u.decs[best]) {
				best = i
			}
		}
		u.decs[0] = u.decs[best]
		u.decs = u.decs[:1]
	case Decisions:
		u.decs = u.decs[:1]
	}
}
