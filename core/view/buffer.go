package view

import (
	"context"

	"github.com/eddyhq/eddy/core"
)

// DefaultBufferOutputs is how many outputs a Buffer holds before it writes them.
const DefaultBufferOutputs = 50_000

// Buffer collects outputs and writes them through a Writer in one Emit when it holds max outputs,
// and on Flush. It is for replays (eddy replay), where nothing is committed per batch: a key's
// windows then fold into its rows once per flush instead of once per batch, which makes the view
// nearly free. It must not stand in for a Writer under a Runner, which commits a batch once its
// sinks returned: buffered outputs would be lost in a crash.
type Buffer struct {
	w    *Writer
	max  int
	outs []core.Output
}

// NewBuffer returns a Buffer of up to max outputs (DefaultBufferOutputs if max <= 0) before w.
func NewBuffer(w *Writer, max int) *Buffer {
	if max <= 0 {
		max = DefaultBufferOutputs
	}
	return &Buffer{w: w, max: max}
}

// Emit implements runner.Sink: it keeps copies of outs, and writes when the buffer is full.
func (b *Buffer) Emit(ctx context.Context, outs []core.Output) error {
	for _, o := range outs {
		b.outs = append(b.outs, core.CloneOutput(o))
	}
	if len(b.outs) >= b.max {
		return b.Flush(ctx)
	}
	return nil
}

// Flush writes what the buffer holds.
func (b *Buffer) Flush(ctx context.Context) error {
	if len(b.outs) == 0 {
		return nil
	}
	err := b.w.Emit(ctx, b.outs)
	if err == nil {
		clear(b.outs)
		b.outs = b.outs[:0]
	}
	return err
}
