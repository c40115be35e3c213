package gcp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	raw "cloud.google.com/go/pubsub/v2"
	"gocloud.dev/pubsub"

	"github.com/eddyhq/eddy/core"
)

// PullOptions configures Function.Pull.
type PullOptions struct {
	// MaxBatch caps the messages gathered in one round (default 1000). Keep it at or below the
	// subscriber's flow control (MaxOutstandingMessages, 1000 by default), since messages stay
	// outstanding until their round commits.
	MaxBatch int
	// MaxWait is how long a round keeps gathering after its first message (default 100 ms).
	MaxWait time.Duration
	// Parallel bounds the partitions of a round run at once (default 16).
	Parallel int
	// Progress, if set, is called after every round with the totals so far (for metrics and
	// health checks). It runs on Pull's goroutine; keep it short.
	Progress func(PullStats)
}

// PullStats counts what Pull did.
type PullStats struct {
	Messages int // messages received
	Acked    int // acknowledged (processed, duplicates, dead letters)
	Nacked   int // handed back for redelivery
	Batches  int // Runner batches run
}

// Pull receives from sub until ctx is done, in rounds: it gathers up to MaxBatch messages (or what
// came within MaxWait of the first), groups them per partition in arrival order, runs each group
// as one batch, acknowledges a group's messages after its state commit and nacks them if the
// batch fails. Partitions of one round run in parallel; one partition's batches run one after the
// other, so an ordered subscription keeps its order. Poison messages are dead-lettered and
// acknowledged. Pull returns the stats and nil when ctx ends, or the subscription's error.
func (f *Function) Pull(ctx context.Context, sub *pubsub.Subscription, opts PullOptions) (PullStats, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 100 * time.Millisecond
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 16
	}
	in := make(chan *pubsub.Message, opts.MaxBatch)
	recvErr := make(chan error, 1)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		defer close(in)
		for {
			m, err := sub.Receive(rctx)
			if err != nil {
				if rctx.Err() == nil {
					recvErr <- err
				}
				return
			}
			in <- m
		}
	}()
	var st PullStats
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var round []*pubsub.Message
		select {
		case m, ok := <-in:
			if !ok {
				return st, f.pullEnd(ctx, recvErr)
			}
			round = append(round, m)
		case <-ctx.Done():
			stop()
			nackAll(in, &st)
			return st, nil
		}
		timer.Reset(opts.MaxWait)
	gather:
		for len(round) < opts.MaxBatch {
			select {
			case m, ok := <-in:
				if !ok {
					break gather
				}
				round = append(round, m)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		f.runRound(ctx, round, opts.Parallel, &st)
		if opts.Progress != nil {
			opts.Progress(st)
		}
	}
}

func (f *Function) pullEnd(ctx context.Context, recvErr chan error) error {
	select {
	case err := <-recvErr:
		return fmt.Errorf("gcp: pull: receive: %w", err)
	default:
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("gcp: pull: the subscription stopped")
}

// nackAll hands back what was received but not processed when Pull stops.
func nackAll(in <-chan *pubsub.Message, st *PullStats) {
	for m := range in {
		st.Messages++
		if m.Nackable() {
			m.Nack()
			st.Nacked++
		}
	}
}

// group is one partition's messages in a round.
type group struct {
	partition string
	recs      []core.Record
	msgs      []*pubsub.Message
}

func (f *Function) runRound(ctx context.Context, round []*pubsub.Message, parallel int, st *PullStats) {
	st.Messages += len(round)
	var groups []*group
	index := make(map[string]*group)
	for _, pm := range round {
		m := FromPubSub(pm)
		rec := m.Record()
		part, err := f.partition(&rec)
		if err != nil {
			if f.poisonErr(ctx, &rec, err) != nil {
				nack(pm, st)
			} else {
				pm.Ack()
				st.Acked++
			}
			continue
		}
		g := index[part]
		if g == nil {
			g = &group{partition: part}
			index[part] = g
			groups = append(groups, g)
		}
		g.recs = append(g.recs, rec)
		g.msgs = append(g.msgs, pm)
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		sem = make(chan struct{}, parallel)
	)
	for _, g := range groups {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := f.run.Run(ctx, core.Batch{Partition: g.partition, Records: g.recs, Now: f.now()})
			mu.Lock()
			defer mu.Unlock()
			st.Batches++
			if err != nil {
				f.log.ErrorContext(ctx, "pubsub batch failed; its messages will be redelivered", "partition", g.partition, "messages", len(g.msgs), "error", err)
				for _, pm := range g.msgs {
					nack(pm, st)
				}
				return
			}
			f.logFailures(ctx, g.partition, res.Failures)
			for _, pm := range g.msgs {
				pm.Ack()
			}
			st.Acked += len(g.msgs)
		}()
	}
	wg.Wait()
}

func nack(m *pubsub.Message, st *PullStats) {
	// A driver that cannot nack redelivers after the ack deadline instead.
	if m.Nackable() {
		m.Nack()
	}
	st.Nacked++
}

// FromPubSub turns a message received through gocloud.dev into a Message, reading the ordering
// key, publish time and delivery attempt from the gcppubsubv2 message underneath when there is
// one.
func FromPubSub(pm *pubsub.Message) Message {
	m := Message{ID: pm.LoggableID, Data: pm.Body, Attributes: pm.Metadata}
	var rm *raw.Message
	if pm.As(&rm) && rm != nil {
		m.ID = rm.ID
		m.OrderingKey = rm.OrderingKey
		m.PublishTime = rm.PublishTime
		if rm.DeliveryAttempt != nil {
			m.DeliveryAttempt = *rm.DeliveryAttempt
		}
	}
	if len(m.Attributes) == 0 {
		m.Attributes = nil
	}
	return m
}
