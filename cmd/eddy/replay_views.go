package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/view"
)

// replayViewsHeap is what replay's heap budget grows by when it writes views: the buffers' pending
// rows (up to view.DefaultBufferOutputs entries, folded per key) stay live until a flush.
const replayViewsHeap = 16 << 20

// replayViews writes a replay's views (eddy replay --view-store): every pipeline share folds its
// outputs into a view.Buffer of its own (shares own disjoint keys, so their rows never meet), and
// the buffers write through one Writer when full and at the end. A store that fails stops the
// views, not the replay; the error is returned by flush.
type replayViews struct {
	w    *view.Writer
	url  string
	mu   sync.Mutex
	bufs []*view.Buffer
	err  error
}

// openReplayViews opens the store at url and records f's catalog there. The views are the spec's,
// or when it declares none those eddy dev keeps, so the dashboard can show any backtest.
func openReplayViews(ctx context.Context, f *spec.Function, url string) (*replayViews, error) {
	defs := f.ViewDefs()
	if len(defs) == 0 {
		defs = devViews(f)
	}
	if len(defs) == 0 {
		return nil, usagef("--view-store: function %s has no aggregates and no decisions to keep in views", f.Name)
	}
	store, err := view.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("--view-store: %w", err)
	}
	cat := f.ViewCatalog()
	cat.Views = defs
	if err := store.PutCatalog(ctx, cat); err != nil {
		store.Close()
		return nil, fmt.Errorf("--view-store %s: %w", url, err)
	}
	w, err := view.NewWriter(store, f.Name, defs, nil)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("--view-store: %w", err)
	}
	return &replayViews{w: w, url: url}, nil
}

// attach tees each share of sr into a buffer of its own.
func (v *replayViews) attach(sr *splitRun) {
	for _, s := range sr.shares {
		b := view.NewBuffer(v.w, 0)
		v.mu.Lock()
		v.bufs = append(v.bufs, b)
		v.mu.Unlock()
		emit := s.emitFn
		var one [1]core.Output
		s.emitFn = func(o core.Output) {
			emit(o)
			if v.failed() {
				return
			}
			one[0] = o
			if err := b.Emit(s.ctx, one[:]); err != nil {
				v.fail(err)
			}
			one[0] = nil
		}
	}
}

func (v *replayViews) failed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err != nil
}

func (v *replayViews) fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err == nil {
		v.err = err
	}
}

// flush writes what the buffers hold and closes the store.
func (v *replayViews) flush(ctx context.Context) error {
	for _, b := range v.bufs {
		if v.failed() {
			break
		}
		if err := b.Flush(ctx); err != nil {
			v.fail(err)
		}
	}
	cerr := v.w.Store().Close()
	if v.err != nil {
		return fmt.Errorf("--view-store %s: %w", v.url, v.err)
	}
	return cerr
}
