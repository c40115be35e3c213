package view

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"

	"github.com/eddyhq/eddy/core"
)

// Writer keeps a function's views in a store. It is a runner.Sink: Emit receives the outputs of
// one partition batch and applies them with at most one batched read (of the rows it has not
// written before) and one batched conditional write (more only for rows that lost a race to
// another writer, which are read and merged again). An Emit that fails returns an error so the batch is
// delivered again; nothing is committed past a view that was not written.
type Writer struct {
	function string
	defs     []Def
	store    *Store
	onWrite  func(outs []core.Output)
	cache    rowCache
	// prefix holds each view's RowPrefix.
	prefix []string
}

// WriterOptions configure a Writer.
type WriterOptions struct {
	// OnWrite, if set, is called with a batch's outputs after they were written, for live
	// listeners (the SSE stream). It must not block and must not keep outs past the call.
	OnWrite func(outs []core.Output)
}

// NewWriter returns a Writer of function's views into store. opts may be nil.
func NewWriter(store *Store, function string, defs []Def, opts *WriterOptions) (*Writer, error) {
	if err := CheckDefs(defs); err != nil {
		return nil, fmt.Errorf("view: function %q: %w", function, err)
	}
	w := &Writer{function: function, defs: slices.Clone(defs), store: store,
		cache: rowCache{m: map[string]*cached{}, max: store.opts.CacheRows}}
	for _, d := range w.defs {
		w.prefix = append(w.prefix, RowPrefix(function, d.Name))
	}
	if opts != nil {
		w.onWrite = opts.OnWrite
	}
	return w, nil
}

// Store returns the store the Writer writes to.
func (w *Writer) Store() *Store { return w.store }

// Defs returns the views the Writer keeps.
func (w *Writer) Defs() []Def { return slices.Clone(w.defs) }

// Emit implements runner.Sink.
func (w *Writer) Emit(ctx context.Context, outs []core.Output) error {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if ups := w.updates(sc, outs); len(ups) > 0 {
		if err := w.store.apply(ctx, w.function, ups, &w.cache); err != nil {
			sc.reset()
			return err
		}
	}
	sc.reset()
	if w.onWrite != nil && len(outs) > 0 {
		w.onWrite(outs)
	}
	return nil
}

// scratch holds one batch's updates; Emits reuse them, with the capacity of their windows.
type scratch struct {
	ups []update
	at  map[string]int
}

var scratchPool = sync.Pool{New: func() any { return &scratch{at: map[string]int{}} }}

// reset empties sc for the next batch, keeping the updates' window slices to fill again.
func (sc *scratch) reset() {
	for i := range sc.ups {
		u := &sc.ups[i]
		clear(u.wins)
		clear(u.decs)
		*u = update{wins: u.wins[:0], decs: u.decs[:0]}
	}
	sc.ups = sc.ups[:0]
	clear(sc.at)
}

// updates groups outputs by the rows they touch, one update per row, into sc. Window results
// and decisions are copied into the updates (values encoded once per output, shared by the
// views that keep every aggregate), so an update does not refer to outs after the call.
func (w *Writer) updates(sc *scratch, outs []core.Output) []update {
	get := func(d int, key string) *update {
		id := w.prefix[d] + url.PathEscape(key)
		i, ok := sc.at[id]
		if !ok {
			i = len(sc.ups)
			sc.at[id] = i
			if i < cap(sc.ups) {
				sc.ups = sc.ups[:i+1]
			} else {
				sc.ups = append(sc.ups, update{})
			}
			u := &sc.ups[i]
			u.id, u.prefix, u.def, u.di, u.key = id, w.prefix[d], &w.defs[d], d, key
		}
		return &sc.ups[i]
	}
	for _, o := range outs {
		switch v := o.(type) {
		case *core.WindowResult:
			var all json.RawMessage
			for i := range w.defs {
				d := &w.defs[i]
				if d.Kind != Latest && d.Kind != History {
					continue
				}
				win := Window{Start: v.Start.UTC(), End: v.End.UTC(), Revision: v.Revision}
				if len(d.Aggregates) > 0 {
					win.Values = values(v.Values, d.Aggregates)
				} else {
					if all == nil {
						all = core.AppendValues(make([]byte, 0, 2+24*len(v.Values)), v.Values)
					}
					win.Values = all
				}
				u := get(i, v.Key)
				u.wins = append(u.wins, win)
			}
		case *core.Decision:
			for i := range w.defs {
				d := &w.defs[i]
				if len(d.Rules) > 0 && !slices.Contains(d.Rules, v.Rule) {
					continue
				}
				switch {
				case d.Kind == Firing && v.State.Transition():
					u := get(i, v.Rule+"/"+v.Key)
					u.decs = append(u.decs, decisionOf(v))
				case d.Kind == Decisions:
					u := get(i, v.ID)
					u.decs = append(u.decs, decisionOf(v))
				}
			}
		}
	}
	return sc.ups
}

// Tee returns a sink that emits to each of sinks in order, stopping at the first error (the
// batch is then delivered again, and sinks are idempotent). It also passes dead letters on to
// the sinks that take them.
func Tee(sinks ...Emitter) *TeeSink { return &TeeSink{sinks: sinks} }

// Emitter is what Tee composes: a runner.Sink.
type Emitter interface {
	Emit(ctx context.Context, outs []core.Output) error
}

// FailureEmitter is a runner.FailureSink.
type FailureEmitter interface {
	EmitFailures(ctx context.Context, fs []*core.Failure) error
}

// TeeSink is the sink Tee returns.
type TeeSink struct{ sinks []Emitter }

// Emit implements runner.Sink.
func (t *TeeSink) Emit(ctx context.Context, outs []core.Output) error {
	for _, s := range t.sinks {
		if s == nil {
			continue
		}
		if err := s.Emit(ctx, outs); err != nil {
			return err
		}
	}
	return nil
}

// EmitFailures implements runner.FailureSink for the sinks that are FailureEmitters.
func (t *TeeSink) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	for _, s := range t.sinks {
		if f, ok := s.(FailureEmitter); ok {
			if err := f.EmitFailures(ctx, fs); err != nil {
				return err
			}
		}
	}
	return nil
}
