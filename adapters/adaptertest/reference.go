package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/internal/pipeline"
)

// reference runs a function over a scenario's logical streams with core pipelines alone (no
// runner, no store, no adapter): one long-lived pipeline per partition, each record applied once,
// in partition order, at the processing time of its first delivery. It is the truth every adapter
// is compared with.
type reference struct {
	fn *Function
	// locate gives records their id and position, as the adapter under test does (or, for the
	// portable reference, the scenario's ids and partitions).
	locate func(partition string, r Record) (string, core.Pos)
	// keyOf gives records their transport key as the adapter does (nil: Record.Key).
	keyOf   func(partition string, r Record) string
	pipes   map[string]*pipeline.Pipeline
	order   []string         // partitions in the order they got state
	applied map[string]int64 // the last Seq applied per partition
	outs    [][]byte
	dead    []DeadLetter
	// wire and wireDead are the messages the wire contract makes of outs and dead.
	wire, wireDead []*driver.Message
	stats          refStats
}

// refStats counts what the reference produced, for the scenarios' self-checks.
type refStats struct {
	decisions, revisions, late int
	deadLetters                int
	// tickOutputs counts the outputs of each tick step, in order.
	tickOutputs []int
}

func newReference(fn *Function, locate func(partition string, r Record) (string, core.Pos)) *reference {
	if locate == nil {
		locate = portable
	}
	return &reference{fn: fn, locate: locate, pipes: map[string]*pipeline.Pipeline{}, applied: map[string]int64{}}
}

// portable locates records by the scenario's ids and partitions, as no transport does: the view
// every adapter's results must agree with, whatever its transport's ids.
func portable(partition string, r Record) (string, core.Pos) {
	return r.ID, core.Pos{Partition: partition}
}

func (r *reference) deliver(ctx context.Context, partition string, recs []Record, now time.Time) error {
	var fresh []core.Record
	var pos core.Pos
	for _, rec := range recs {
		if rec.Seq <= r.applied[partition] {
			continue
		}
		if rec.Seq != r.applied[partition]+1 {
			return fmt.Errorf("scenario delivers %s seq %d after %d: a gap", partition, rec.Seq, r.applied[partition])
		}
		r.applied[partition] = rec.Seq
		var id string
		id, pos = r.locate(partition, rec)
		key := rec.Key
		if r.keyOf != nil {
			key = r.keyOf(partition, rec)
		}
		fresh = append(fresh, core.Record{ID: id, Offset: pos.Offset, Key: key, Time: rec.Time, Data: rec.Data})
	}
	if len(fresh) == 0 {
		return nil
	}
	p := r.pipes[pos.Partition]
	if p == nil {
		var err error
		if p, err = r.fn.NewPipeline(); err != nil {
			return err
		}
		r.pipes[pos.Partition] = p
		r.order = append(r.order, pos.Partition)
	}
	res, err := p.Process(ctx, core.Batch{Partition: pos.Partition, Records: fresh, Now: now})
	if err != nil {
		return fmt.Errorf("reference: partition %s: %w", partition, err)
	}
	r.add(res)
	for _, f := range res.Failures {
		r.dead = append(r.dead, DeadLetter{ID: f.Record.ID, Field: f.Field, Reason: f.Reason, Data: f.Record.Data})
		wf := *f
		wf.Function, wf.Partition = r.fn.Name, pos.Partition
		r.wireDead = append(r.wireDead, sink.DeadLetter(&wf))
		r.stats.deadLetters++
	}
	return nil
}

func (r *reference) tick(ctx context.Context, now time.Time) error {
	n := 0
	for _, part := range r.order {
		res, err := r.pipes[part].Tick(ctx, now)
		if err != nil {
			return fmt.Errorf("reference: tick partition %s: %w", part, err)
		}
		if len(res.Failures) > 0 {
			return errors.New("reference: a tick produced failures")
		}
		r.add(res)
		n += len(res.Outputs)
	}
	r.stats.tickOutputs = append(r.stats.tickOutputs, n)
	return nil
}

func (r *reference) add(res core.Result) {
	for _, o := range res.Outputs {
		r.outs = append(r.outs, o.AppendJSON(nil))
		r.wire = append(r.wire, sink.Message(o, nil))
		switch o := o.(type) {
		case *core.Decision:
			r.stats.decisions++
		case *core.WindowResult:
			if o.Revision > 0 {
				r.stats.revisions++
			}
		case *core.Late:
			r.stats.late++
		}
	}
}

// Self-checks of the scenarios on the reference's results.
type need func(s *refStats) error

func needs(ns ...need) func(*refStats) error {
	return func(s *refStats) error {
		var errs []error
		for _, n := range ns {
			errs = append(errs, n(s))
		}
		return errors.Join(errs...)
	}
}

func decisions(s *refStats) error {
	if s.decisions == 0 {
		return errors.New("no decisions")
	}
	return nil
}

func revisionsOrLate(s *refStats) error {
	if s.revisions == 0 && s.late == 0 {
		return errors.New("no revised window and no late event")
	}
	return nil
}

func late(s *refStats) error {
	if s.late == 0 {
		return errors.New("no late event")
	}
	return nil
}

func deadLetters(n int) need {
	return func(s *refStats) error {
		if s.deadLetters != n {
			return fmt.Errorf("%d dead letters, want %d", s.deadLetters, n)
		}
		return nil
	}
}

// tickOutputs wants the first tick (before the idle timeout) to emit nothing and the second to
// close windows.
func tickOutputs(s *refStats) error {
	if len(s.tickOutputs) != 2 || s.tickOutputs[0] != 0 || s.tickOutputs[1] == 0 {
		return fmt.Errorf("tick outputs %v, want none before the idle timeout and some after", s.tickOutputs)
	}
	return nil
}
