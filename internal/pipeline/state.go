package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/window"
)

// Process runs a batch and returns its outputs in the result, cloned: the form package runner
// consumes.
func (p *Pipeline) Process(ctx context.Context, b core.Batch) (core.Result, error) {
	var outs []core.Output
	res, err := p.Run(ctx, b, func(o core.Output) { outs = append(outs, core.CloneOutput(o)) })
	res.Outputs = outs
	return res, err
}

// Tick is TickFunc returning its outputs in the result: the form package runner consumes.
func (p *Pipeline) Tick(ctx context.Context, now time.Time) (core.Result, error) {
	var outs []core.Output
	res, err := p.TickFunc(ctx, now, func(o core.Output) { outs = append(outs, core.CloneOutput(o)) })
	res.Outputs = outs
	return res, err
}

// stateVersion is the pipeline snapshot's encoding version; Restore keeps reading older ones.
const stateVersion = 1

// Snapshot encodes the pipeline's whole state: watermark, windows, decider and matcher state.
func (p *Pipeline) Snapshot() ([]byte, error) {
	b := []byte{stateVersion}
	if p.seen {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, p.maxTs)
	var arrival int64
	if !p.lastArrival.IsZero() {
		arrival = p.lastArrival.UnixNano()
	}
	b = binary.AppendVarint(b, arrival)
	var part []byte
	if p.op != nil {
		part = p.op.AppendBinary(nil)
	}
	b = appendBlock(b, part)
	for i, d := range p.deciders {
		enc, err := d.AppendBinary(nil)
		if err != nil {
			return nil, fmt.Errorf("function %s: snapshot decider %d: %w", p.fn, i, err)
		}
		b = appendBlock(b, enc)
	}
	for i, m := range p.matchers {
		enc, err := m.AppendBinary(nil)
		if err != nil {
			return nil, fmt.Errorf("function %s: snapshot matcher %d: %w", p.fn, i, err)
		}
		b = appendBlock(b, enc)
	}
	return b, nil
}

func appendBlock(b, block []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(block)))
	return append(b, block...)
}

func readBlock(b []byte) (block, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errors.New("truncated block")
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// Restore replaces the pipeline's state with a snapshot. Nil or empty means fresh state: give it
// to a new pipeline (the runner makes one per attempt).
func (p *Pipeline) Restore(b []byte) error {
	if err := p.restore(b); err != nil {
		return fmt.Errorf("function %s: restore state: %w", p.fn, err)
	}
	return nil
}

func (p *Pipeline) restore(b []byte) error {
	p.seen, p.maxTs, p.lastArrival = false, 0, time.Time{}
	if len(b) == 0 {
		if p.op != nil {
			if err := p.op.Restore(nil); err != nil {
				return err
			}
		}
		// Deciders and matchers of a new pipeline are fresh already.
		return nil
	}
	if b[0] != stateVersion {
		return fmt.Errorf("snapshot version %d: this release reads version %d", b[0], stateVersion)
	}
	if len(b) < 2 {
		return errors.New("truncated snapshot")
	}
	p.seen = b[1] == 1
	b = b[2:]
	var k int
	p.maxTs, k = binary.Varint(b)
	if k <= 0 {
		return errors.New("truncated snapshot")
	}
	b = b[k:]
	arrival, k := binary.Varint(b)
	if k <= 0 {
		return errors.New("truncated snapshot")
	}
	b = b[k:]
	if arrival != 0 {
		p.lastArrival = time.Unix(0, arrival).UTC()
	}
	block, b, err := readBlock(b)
	if err != nil {
		return err
	}
	if p.op != nil {
		if err := p.op.Restore(block); err != nil {
			return err
		}
	}
	for i, d := range p.deciders {
		if block, b, err = readBlock(b); err != nil {
			return fmt.Errorf("decider %d: %w", i, err)
		}
		if err := d.UnmarshalBinary(block); err != nil {
			return fmt.Errorf("decider %d: %w", i, err)
		}
	}
	for i, m := range p.matchers {
		if block, b, err = readBlock(b); err != nil {
			return fmt.Errorf("matcher %d: %w", i, err)
		}
		if err := m.UnmarshalBinary(block); err != nil {
			return fmt.Errorf("matcher %d: %w", i, err)
		}
	}
	if len(b) != 0 {
		return errors.New("trailing bytes after the snapshot")
	}
	return nil
}

// Operator returns the window operator (nil for a pattern-only function), for memory accounting
// and tools.
func (p *Pipeline) Operator() *window.Operator { return p.op }

// Heaviest names the key whose window state is largest and the windows it keeps open, so that a
// state budget error says what grew (it implements runner.Heavier).
func (p *Pipeline) Heaviest() (key, window string) {
	if p.op == nil {
		return "", ""
	}
	k, span, bytes, ok := p.op.Heaviest()
	if !ok {
		return "", ""
	}
	return k, fmt.Sprintf("%s, about %d bytes", span, bytes)
}

// StateSize estimates the partition's window state: the keys, their bytes, and the largest key's
// bytes, for memory reports (peak bytes per key).
func (p *Pipeline) StateSize() (keys, bytes, maxKeyBytes int) {
	if p.op == nil {
		return 0, 0, 0
	}
	_, _, maxKeyBytes, _ = p.op.Heaviest()
	return p.op.Keys(), p.op.StateBytes(), maxKeyBytes
}

// TickFree reports whether Tick can never change the pipeline's state nor emit: no idle timeout,
// no global windows, no rule state that expires, no patterns (whose timers run on ticks). The
// runner then needs no outbox (it implements runner.TickFree).
func (p *Pipeline) TickFree() bool {
	// Early firings by processing time close nothing but speak on ticks: their outputs must come
	// from the commit that won.
	if p.idle > 0 || len(p.matchers) > 0 || (p.op != nil && (p.op.Global() || p.op.EarlyEvery() > 0)) {
		return false
	}
	for _, d := range p.deciders {
		e, ok := d.(interface{ Expires() bool })
		if !ok || e.Expires() {
			return false
		}
	}
	return true
}
