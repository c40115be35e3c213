package adaptertest_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// collector is a sink and dead-letter output that keeps what it gets.
type collector struct {
	mu   sync.Mutex
	outs [][]byte
	dead []adaptertest.DeadLetter
}

func (c *collector) Emit(_ context.Context, outs []core.Output) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range outs {
		c.outs = append(c.outs, o.AppendJSON(nil))
	}
	return nil
}

func (c *collector) EmitFailures(_ context.Context, fs []*core.Failure) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range fs {
		c.dead = append(c.dead, adaptertest.DeadLetter{ID: f.Record.ID, Field: f.Field, Reason: f.Reason, Data: f.Record.Data})
	}
	return nil
}

// runnerHarness is the thinnest adapter there is: records with offsets straight into a
// runner.Runner, retried whole on an error, as a Kinesis or Event Hubs trigger does. It checks the
// suite itself; the adapters' own harnesses live in their packages.
type runnerHarness struct {
	s     adaptertest.Setup
	store *state.Store
	sink  *collector
	run   *runner.Runner
	// offsets: with false the records carry no offset and the runner dedupes by id (Pub/Sub).
	offsets bool
}

func newRunnerHarness(offsets bool) adaptertest.NewHarness {
	return func(t *testing.T, s adaptertest.Setup) adaptertest.Harness {
		h := &runnerHarness{s: s, store: memstate.New(nil), sink: &collector{}, offsets: offsets}
		if err := h.Restart(t.Context()); err != nil {
			t.Fatal(err)
		}
		return h
	}
}

func (h *runnerHarness) Restart(context.Context) error {
	r, err := runner.New(runner.Config{Function: h.s.Function.Name, Store: h.store, New: h.s.Function.NewProcessor,
		Sink: h.s.Faults.Wrap(h.sink), DeadLetter: h.sink})
	h.run = r
	return err
}

func (h *runnerHarness) Deliver(ctx context.Context, partition string, recs []adaptertest.Record, now time.Time) (adaptertest.Delivery, error) {
	b := core.Batch{Partition: partition, Now: now}
	for _, r := range recs {
		id, pos := h.Locate(partition, r)
		b.Partition = pos.Partition
		b.Records = append(b.Records, core.Record{ID: id, Offset: pos.Offset, Key: r.Key, Time: r.Time, Data: r.Data})
	}
	var d adaptertest.Delivery
	for d.Invocations < 10 {
		d.Invocations++
		_, err := h.run.Run(ctx, b)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, adaptertest.ErrInjected) {
			return d, err
		}
		d.Failed++
	}
	return d, errors.New("still failing after 10 attempts")
}

func (h *runnerHarness) Locate(partition string, r adaptertest.Record) (string, core.Pos) {
	if !h.offsets {
		return r.ID, core.Pos{Partition: partition}
	}
	// Ids unlike the scenario's, as transports with sequence numbers have.
	seq := strconv.FormatInt(1000+r.Seq, 10)
	return "seq-" + seq, core.Pos{Partition: "shard-" + partition, Offset: seq}
}

func (h *runnerHarness) Tick(ctx context.Context, now time.Time) error {
	_, err := h.run.TickAll(ctx, now)
	return err
}

func (h *runnerHarness) Outputs(context.Context) ([][]byte, error) {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	return append([][]byte(nil), h.sink.outs...), nil
}

func (h *runnerHarness) DeadLetters(context.Context) ([]adaptertest.DeadLetter, error) {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	return append([]adaptertest.DeadLetter(nil), h.sink.dead...), nil
}

// The suite on the bare runner, with offsets (Kinesis, Event Hubs, the local broker) and with
// message ids only (Pub/Sub): the runner is what every adapter builds on, so it must conform.
func TestRunnerConforms(t *testing.T) {
	t.Run("offsets", func(t *testing.T) { adaptertest.Run(t, newRunnerHarness(true)) })
	t.Run("ids", func(t *testing.T) { adaptertest.Run(t, newRunnerHarness(false), adaptertest.Parallel()) })
}
