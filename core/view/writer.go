package view

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

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
	ups := w.updates(outs)
	if len(ups) > 0 {
		if err := w.store.apply(ctx, w.function, ups, &w.cache); err != nil {
			return err
		}
	}
	if w.onWrite != nil && len(outs) > 0 {
		w.onWrite(outs)
	}
	return nil
}

// updates groups outputs by the rows they touch.
func (w *Writer) updates(outs []core.Output) map[string]*update {
	ups := map[string]*update{}
	enc := map[*core.WindowResult]json.RawMessage{}
	get := func(d *Def, key string) *update {
		id := RowID(w.function, d.Name, key)
		u := ups[id]
		if u == nil {
			u = &update{def: d, key: key, enc: enc}
			ups[id] = u
		}
		return u
	}
	for _, o := range outs {
		switch v := o.(type) {
		case *core.WindowResult:
			for i := range w.defs {
				if d := &w.defs[i]; d.Kind == Latest || d.Kind == History {
					u := get(d, v.Key)
					u.wins = append(u.wins, v)
				}
			}
		case *core.Decision:
			for i := range w.defs {
				d := &w.defs[i]
				if len(d.Rules) > 0 && !slices.Contains(d.Rules, v.Rule) {
					continue
				}
				switch {
				case d.Kind == Firing && v.State.Transition():
					u := get(d, v.Rule+"/"+v.Key)
					u.decs = append(u.decs, v)
				case d.Kind == Decisions:
					u := get(d, v.ID)
					u.decs = append(u.decs, v)
				}
			}
		}
	}
	return ups
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
