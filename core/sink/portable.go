package sink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Sink is the portable output: a runner.Sink for outputs and a runner.FailureSink for dead letters
// over any driver. It builds messages under the wire contract, splits sends to the driver's limits,
// and resends what the transport rejected, with backoff, up to Options.MaxAttempts.
type Sink struct {
	d    driver.Sink
	opts Options
	// sleep waits between attempts; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// New wraps a driver. opts may be nil.
func New(d driver.Sink, opts *Options) *Sink {
	s := &Sink{d: d, sleep: sleepCtx}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MaxAttempts <= 0 {
		s.opts.MaxAttempts = 8
	}
	return s
}

// Driver returns the driver, for tests and for As-style access to the transport.
func (s *Sink) Driver() driver.Sink { return s.d }

// Emit implements runner.Sink: it sends each output as one message and returns once all were
// accepted.
func (s *Sink) Emit(ctx context.Context, outs []core.Output) error {
	if len(outs) == 0 {
		return nil
	}
	msgs := make([]*driver.Message, len(outs))
	for i, o := range outs {
		msgs[i] = Message(o, &s.opts)
	}
	return s.Send(ctx, msgs)
}

// EmitFailures implements runner.FailureSink: each failed record goes out as a dead-letter envelope.
func (s *Sink) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	if len(fs) == 0 {
		return nil
	}
	msgs := make([]*driver.Message, len(fs))
	for i, f := range fs {
		msgs[i] = DeadLetter(f)
	}
	return s.Send(ctx, msgs)
}

// TooLargeError reports a message over the transport's size limit.
type TooLargeError struct {
	ID, Type, Key string
	Size, Limit   int
}

// Error implements error.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("sink: %s %s (key %q) is %d bytes, over the transport's limit of %d", e.Type, e.ID, e.Key, e.Size, e.Limit)
}

// Send sends messages as they are, in order per key, in as few driver calls as the limits allow.
// A message over the size limit is a *TooLargeError and nothing is sent.
func (s *Sink) Send(ctx context.Context, msgs []*driver.Message) error {
	lim := s.d.Limits()
	if lim.MaxMessageBytes > 0 {
		for _, m := range msgs {
			if n := m.Size(); n > lim.MaxMessageBytes {
				return &TooLargeError{ID: m.ID, Type: m.Metadata[MetaType], Key: m.Key, Size: n, Limit: lim.MaxMessageBytes}
			}
		}
	}
	for len(msgs) > 0 {
		n, bytes := 0, 0
		for n < len(msgs) {
			if lim.MaxBatchMessages > 0 && n == lim.MaxBatchMessages {
				break
			}
			sz := msgs[n].Size()
			if lim.MaxBatchBytes > 0 && n > 0 && bytes+sz > lim.MaxBatchBytes {
				break
			}
			bytes += sz
			n++
		}
		if err := s.sendBatch(ctx, msgs[:n]); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

// sendBatch sends one driver call's worth, resending what was rejected. Resending only the rejected
// messages may put a key's later message before its earlier one when both were in one call and
// only the earlier was rejected; drivers that keep per-key order reject a key's later messages
// along with the first that failed.
func (s *Sink) sendBatch(ctx context.Context, msgs []*driver.Message) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.d.Send(ctx, msgs)
		if err == nil {
			return nil
		}
		var pe *driver.PartialError
		if errors.As(err, &pe) && len(pe.Failed) > 0 {
			left := make([]*driver.Message, 0, len(pe.Failed))
			for _, i := range pe.Failed {
				if i >= 0 && i < len(msgs) {
					left = append(left, msgs[i])
				}
			}
			msgs = left
		}
		if ctx.Err() != nil {
			return fmt.Errorf("sink: send %d messages (first %s): %w", len(msgs), msgs[0].ID, ctx.Err())
		}
		if attempt >= s.opts.MaxAttempts {
			return fmt.Errorf("sink: send %d messages (first %s) after %d attempts: %w", len(msgs), msgs[0].ID, attempt, err)
		}
		if err := s.sleep(ctx, backoff/2+rand.N(backoff/2+1)); err != nil {
			return fmt.Errorf("sink: send %d messages (first %s): %w", len(msgs), msgs[0].ID, err)
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// Close flushes and releases the transport.
func (s *Sink) Close(ctx context.Context) error { return s.d.Close(ctx) }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
