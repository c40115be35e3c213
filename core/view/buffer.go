package view

import (
	"cmp"
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"time"

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
// are not kept, so their producer may reuse them. Pending windows hold no pointers (times as
// numbers, values in one byte arena), so that a replay's garbage collections do not scan them.
type Buffer struct {
	w    *Writer
	max  int
	held int
	// rows are the pending rows of latest and history views; byKey[d] indexes view d's by key.
	rows  []pendRow
	byKey []map[string]int
	// arena holds the pending values in chunks (growing one would copy it): value at off is
	// arena[off/arenaChunk][off%arenaChunk:][:n].
	arena       [][]byte
	size        int
	scratchVals []byte
	big         [][]byte
	// decs are the pending rows of firing and decisions views, indexed by id in at.
	decs  []update
	at    map[string]int
	sc    scratch
	other []core.Output
}

// pendRow is a latest or history row's pending windows.
type pendRow struct {
	di   int
	key  string
	wins []pendWin
}

// pendWin is a pending window: its times as Unix seconds and nanoseconds, its values
// arena[off:off+n].
type pendWin struct {
	ss, es int64
	sn, en int32
	rev    int
	off, n int
}

func (p *pendWin) cmp(o *pendWin) int {
	switch {
	case p.es != o.es:
		return cmp.Compare(p.es, o.es)
	case p.en != o.en:
		return cmp.Compare(p.en, o.en)
	case p.ss != o.ss:
		return cmp.Compare(p.ss, o.ss)
	case p.sn != o.sn:
		return cmp.Compare(p.sn, o.sn)
	}
	return 0
}

// NewBuffer returns a Buffer of up to max entries (DefaultBufferOutputs if max <= 0) before w.
func NewBuffer(w *Writer, max int) *Buffer {
	if max <= 0 {
		max = DefaultBufferOutputs
	}
	b := &Buffer{w: w, max: max, at: map[string]int{}, sc: scratch{at: map[string]int{}}}
	for range w.defs {
		b.byKey = append(b.byKey, map[string]int{})
	}
	return b
}

// Emit implements runner.Sink: it folds outs into the rows they touch, and writes when the
// buffer is full.
func (b *Buffer) Emit(ctx context.Context, outs []core.Output) error {
	b.other = b.other[:0]
	for _, o := range outs {
		if wr, ok := o.(*core.WindowResult); ok {
			b.addWindow(wr)
		} else {
			b.other = append(b.other, o)
		}
	}
	if len(b.other) > 0 {
		b.addOthers()
		clear(b.other)
	}
	if b.held >= b.max {
		return b.Flush(ctx)
	}
	return nil
}

// addWindow folds a window result into the rows of the latest and history views, encoding its
// values only when a row keeps it.
func (b *Buffer) addWindow(wr *core.WindowResult) {
	win := pendWin{ss: wr.Start.Unix(), sn: int32(wr.Start.Nanosecond()), es: wr.End.Unix(), en: int32(wr.End.Nanosecond()), rev: wr.Revision}
	var all pendWin
	encoded := false
	for i := range b.w.defs {
		d := &b.w.defs[i]
		if d.Kind != Latest && d.Kind != History {
			continue
		}
		j, ok := b.byKey[i][wr.Key]
		if ok && d.Kind == Latest {
			if l := &b.rows[j].wins[0]; win.cmp(l) < 0 || win.cmp(l) == 0 && win.rev <= l.rev {
				continue
			}
		}
		w := win
		if len(d.Aggregates) > 0 {
			w.off, w.n = b.put(values(wr.Values, d.Aggregates))
		} else {
			if !encoded {
				b.scratchVals = core.AppendValues(b.scratchVals[:0], wr.Values)
				all.off, all.n = b.put(b.scratchVals)
				encoded = true
			}
			w.off, w.n = all.off, all.n
		}
		if !ok {
			b.byKey[i][wr.Key] = len(b.rows)
			p := pendRow{di: i, key: wr.Key, wins: []pendWin{w}}
			if d.Kind == History {
				p.wins = append(make([]pendWin, 0, min(8, d.history())), w)
			}
			b.rows = append(b.rows, p)
			b.held++
			continue
		}
		p := &b.rows[j]
		if d.Kind == Latest {
			p.wins[0] = w
			continue
		}
		p.wins = append(p.wins, w)
		b.held++
		if n := d.history(); len(p.wins) > 2*n {
			b.held -= len(p.wins)
			p.wins = foldHistory(p.wins, n)
			b.held += len(p.wins)
		}
	}
}

const arenaChunk = 64 << 10

// put copies v into the arena and returns where: off < 0 for a value larger than a chunk, kept
// apart as big[-off-1].
func (b *Buffer) put(v []byte) (off, n int) {
	if len(v) > arenaChunk {
		b.big = append(b.big, slices.Clone(v))
		return -len(b.big), len(v)
	}
	c := b.size / arenaChunk
	if b.size%arenaChunk+len(v) > arenaChunk {
		// Values do not straddle chunks: skip to the next.
		c++
		b.size = c * arenaChunk
	}
	if c == len(b.arena) {
		b.arena = append(b.arena, make([]byte, 0, arenaChunk))
	}
	off = b.size
	b.arena[c] = append(b.arena[c], v...)
	b.size += len(v)
	return off, len(v)
}

// value returns the pending value at off.
func (b *Buffer) value(off, n int) []byte {
	if off < 0 {
		return b.big[-off-1]
	}
	c := b.arena[off/arenaChunk]
	o := off % arenaChunk
	return c[o : o+n : o+n]
}

// foldHistory keeps each window's highest revision, then the newest n windows.
func foldHistory(ws []pendWin, n int) []pendWin {
	slices.SortStableFunc(ws, func(a, b pendWin) int {
		if c := a.cmp(&b); c != 0 {
			return c
		}
		return a.rev - b.rev
	})
	kept := ws[:0]
	for i := range ws {
		if i+1 < len(ws) && ws[i+1].cmp(&ws[i]) == 0 {
			continue
		}
		kept = append(kept, ws[i])
	}
	if d := len(kept) - n; d > 0 {
		kept = kept[d:]
	}
	return slices.Clip(kept)
}

// addOthers folds decisions into the rows of the firing and decisions views.
func (b *Buffer) addOthers() {
	defer b.sc.reset()
	for _, u := range b.w.updates(&b.sc, b.other) {
		if len(u.decs) == 0 {
			continue
		}
		i, ok := b.at[u.id]
		if !ok {
			// The scratch keeps its slices for the next batch: copy them.
			u.wins, u.decs, u.have = nil, slices.Clone(u.decs), nil
			b.at[u.id] = len(b.decs)
			b.decs = append(b.decs, u)
			b.held += len(u.decs)
			continue
		}
		p := &b.decs[i]
		b.held -= len(p.decs)
		p.decs = append(p.decs, u.decs...)
		p.foldDecisions()
		b.held += len(p.decs)
	}
}

// Flush writes what the buffer holds. After an error the buffer keeps it, to write again.
func (b *Buffer) Flush(ctx context.Context) error {
	if len(b.rows) == 0 && len(b.decs) == 0 {
		return nil
	}
	ups := make([]update, 0, len(b.rows)+len(b.decs))
	wins := make([]Window, 0, b.held)
	for i := range b.rows {
		p := &b.rows[i]
		start := len(wins)
		for _, w := range p.wins {
			wins = append(wins, Window{Start: time.Unix(w.ss, int64(w.sn)).UTC(), End: time.Unix(w.es, int64(w.en)).UTC(), Revision: w.rev,
				Values: json.RawMessage(b.value(w.off, w.n))})
		}
		ups = append(ups, update{id: b.w.prefix[p.di] + url.PathEscape(p.key), prefix: b.w.prefix[p.di], def: &b.w.defs[p.di], di: p.di, key: p.key,
			wins: wins[start:len(wins):len(wins)]})
	}
	ups = append(ups, b.decs...)
	// Rows keep their windows encoded (row.merge), not the arena: it is free again after apply.
	if err := b.w.store.apply(ctx, b.w.function, ups, &b.w.cache); err != nil {
		return err
	}
	for _, m := range b.byKey {
		clear(m)
	}
	clear(b.at)
	clear(b.rows)
	clear(b.decs)
	for i := range b.arena {
		b.arena[i] = b.arena[i][:0]
	}
	clear(b.big)
	b.rows, b.decs, b.big, b.size, b.held = b.rows[:0], b.decs[:0], b.big[:0], 0, 0
	return nil
}

// foldDecisions drops the decisions merging u into its row could not keep.
func (u *update) foldDecisions() {
	switch u.def.Kind {
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
