package window

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// globalWindows are global windows: one running aggregate per key, emitted when it changed at
// ticks (EmitGlobal) and at the end of the stream.
type globalWindows struct {
	*Operator
	noLateness
	notTimed
	noEarlyState
}

// globalKey is one key's global window.
type globalKey struct {
	keyHead
	glob aggregate.Row
	// emitted counts the window's emissions; dirty is set when it changed since the last.
	emitted int
	dirty   bool
}

// globalOf returns the globalKey whose head h is.
func globalOf(h *keyHead) *globalKey { return keyAt[globalKey](h, 0) }

func (g *globalWindows) newKey(key string) *keyHead {
	ks := &globalKey{}
	ks.keyHead.init(key)
	return &ks.keyHead
}

func (g *globalWindows) add(ev *core.Event, emit Emit) (late bool) {
	h := g.key(ev.Key)
	ks := globalOf(h)
	if ks.glob == nil {
		ks.glob = g.newRow()
	}
	g.addTo(g.where(ev), ks.glob, ev, ev.Time.UnixNano())
	ks.dirty = true
	if g.early {
		g.noteEarly(h, emit)
	}
	return false
}

// emitChanged emits the running value of every key's window that changed since it was last
// emitted, in key order.
func (g *globalWindows) emitChanged(emit Emit) {
	keys := make([]string, 0, len(g.keys))
	for k, h := range g.keys {
		if globalOf(h).dirty {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		ks := globalOf(g.keys[k])
		g.emit(emit, k, time.Time{}, g.Watermark(), ks.emitted, false, ks.glob)
		ks.emitted++
		ks.dirty = false
	}
}

func (g *globalWindows) footprint(*keyHead) (partials, revs, slices int) { return 1, 0, 0 }

func (g *globalWindows) describe(*keyHead) string { return "global window" }

func (g *globalWindows) fireEarly(h *keyHead, emit Emit) {
	ks := globalOf(h)
	if ks.glob != nil {
		g.emit(emit, ks.key, time.Time{}, g.Watermark(), ks.emitted, false, ks.glob)
		ks.emitted++
	}
}

func (g *globalWindows) appendKey(b []byte, h *keyHead) []byte {
	ks := globalOf(h)
	b = binary.AppendUvarint(b, uint64(ks.emitted))
	b = appendBool(b, ks.dirty)
	r := ks.glob
	if r == nil {
		r = g.newRow() // an empty partial's encoding
	}
	return g.plan.AppendRow(b, r, &g.sk)
}

func (g *globalWindows) readKey(d *decoder, h *keyHead) {
	ks := globalOf(h)
	ks.emitted = int(d.uvarint())
	ks.dirty = d.bool()
	ks.glob = g.newRow()
	d.row(g.Operator, ks.glob)
}
