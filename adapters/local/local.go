// Package local is eddy's local runtime: an in-memory broker that delivers records to a function the
// way the clouds do, so that `eddy dev` and tests see the same behaviour as a deployment.
//
// Records are published with a partition key; the broker hashes the key to one of N partitions
// (like Kinesis shards or Event Hubs partitions) and gives each record the next offset of its
// partition. Each partition is consumed by one goroutine that cuts the partition's records into
// ordered batches (at most BatchSize records, or what arrived within MaxWait), and runs them through
// a runner.Runner one batch at a time. A batch is acknowledged when the Runner has emitted its
// outputs and committed its state; when the Runner fails (an infrastructure error: the store, a
// sink) the same batch is delivered again after a backoff, as a Kinesis shard or an Event Hubs
// partition with a retry policy would. The Runner skips the offsets it already applied, so a
// redelivered batch changes nothing twice. Records that cannot be decoded go to the dead-letter
// output and do not hold up the partition.
//
// Underneath, each partition is a gocloud.dev mempubsub topic and subscription. mempubsub, like
// most pub/sub services, delivers in no particular order and redelivers unacknowledged messages
// after the ack deadline; the broker puts the messages of a partition back in offset order and
// drops duplicates, which is exactly the work a Kinesis shard iterator saves a consumer.
package local

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// Defaults of Config.
const (
	DefaultPartitions   = 4
	DefaultBatchSize    = 100
	DefaultMaxWait      = 50 * time.Millisecond
	DefaultRetryDelay   = 100 * time.Millisecond
	DefaultTickInterval = time.Second
)

// Config configures a Broker.
type Config struct {
	// Runner configures the Runner every partition's batches go through (function, state store,
	// processor factory, sinks). The broker wraps Runner.New so that Flush can close the windows.
	Runner runner.Config
	// Partitions is the number of partitions (DefaultPartitions if 0).
	Partitions int
	// BatchSize is the most records one batch holds (DefaultBatchSize if 0), like a Kinesis event
	// source mapping's BatchSize.
	BatchSize int
	// MaxWait is how long a partition waits for more records before it runs a batch smaller than
	// BatchSize (DefaultMaxWait if 0), like MaximumBatchingWindowInSeconds.
	MaxWait time.Duration
	// RetryDelay is the wait before the first redelivery of a failed batch (DefaultRetryDelay if
	// 0); it doubles with each attempt up to 30 times the initial delay.
	RetryDelay time.Duration
	// MaxAttempts bounds the deliveries of a failing batch; after the last one its records go to
	// DeadLetter with the error, and the partition moves on. 0 retries until the batch succeeds,
	// holding up the partition as Kinesis does by default.
	MaxAttempts int
	// TickInterval is how often an idle partition is ticked (idle timeouts, quiet streams);
	// DefaultTickInterval if 0, negative disables ticks.
	TickInterval time.Duration
	// PartitionKey returns the key a record is partitioned by (default: Record.Key). Records with
	// equal keys land in the same partition, in publish order.
	PartitionKey func(*core.Record) string
	// DeadLetter receives the records of batches given up after MaxAttempts. Records that fail to
	// decode go to Runner.DeadLetter, like any runtime's.
	DeadLetter runner.FailureSink
	// OnBatch, if set, is called after every delivery attempt of a batch, from the partition's
	// goroutine: for live statistics and tests.
	OnBatch func(BatchInfo)
	// Now is the clock that stamps batches (time.Now if nil).
	Now func() time.Time
	// Logger gets a line per failed delivery (slog.Default() if nil).
	Logger *slog.Logger
}

// BatchInfo describes one delivery attempt of a batch (or a tick, with no records).
type BatchInfo struct {
	Partition string
	// First and Last are the offsets of the batch's first and last records ("" for a tick).
	First, Last string
	Records     int
	// Attempt counts deliveries of this batch, from 1.
	Attempt int
	Result  core.Result
	// Err is the Runner's error; the batch is delivered again unless it was the last attempt.
	Err error
}

// Broker is the in-memory broker and its consumers. Publish is safe for concurrent use.
type Broker struct {
	cfg    Config
	run    *runner.Runner
	parts  []*partition
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	errMu  sync.Mutex
	err    error
}

type partition struct {
	id    string
	b     *Broker
	topic *pubsub.Topic
	sub   *pubsub.Subscription

	pubMu     sync.Mutex
	published int64 // offset of the last published record
	done      atomic.Int64
	ctl       chan func(context.Context)
}

// New checks cfg, builds the Runner and starts a consumer per partition; they run until Close.
func New(cfg Config) (*Broker, error) {
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.Partitions < 0 || cfg.Partitions > 1024 {
		return nil, fmt.Errorf("local: %d partitions: want 1 to 1024", cfg.Partitions)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchSize < 0 {
		return nil, fmt.Errorf("local: batch size %d: want at least 1", cfg.BatchSize)
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	if cfg.TickInterval == 0 {
		cfg.TickInterval = DefaultTickInterval
	}
	if cfg.PartitionKey == nil {
		cfg.PartitionKey = func(r *core.Record) string { return r.Key }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Runner.New == nil {
		return nil, errors.New("local: Config.Runner.New is nil")
	}
	rc := cfg.Runner
	inner := rc.New
	rc.New = func(p string) (runner.Processor, error) {
		proc, err := inner(p)
		if err != nil {
			return nil, err
		}
		return flushable{proc}, nil
	}
	r, err := runner.New(rc)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{cfg: cfg, run: r, cancel: cancel}
	for i := range cfg.Partitions {
		topic := mempubsub.NewTopic()
		p := &partition{
			id: strconv.Itoa(i), b: b, topic: topic,
			// Records wait in the reorder buffer unacknowledged while a batch is retried; the
			// deadline only bounds how soon mempubsub sends them again, and duplicates are dropped.
			sub: mempubsub.NewSubscription(topic, time.Minute),
			ctl: make(chan func(context.Context)),
		}
		b.parts = append(b.parts, p)
	}
	for _, p := range b.parts {
		msgs := make(chan *pubsub.Message, cfg.BatchSize)
		b.wg.Add(2)
		go p.receive(ctx, msgs)
		go p.consume(ctx, msgs)
	}
	return b, nil
}

// Runner returns the Runner the partitions use.
func (b *Broker) Runner() *runner.Runner { return b.run }

// Partitions returns the partition ids ("0", "1", ...).
func (b *Broker) Partitions() []string {
	ids := make([]string, len(b.parts))
	for i, p := range b.parts {
		ids[i] = p.id
	}
	return ids
}

// PartitionOf returns the partition a record with this partition key goes to.
func (b *Broker) PartitionOf(key string) string { return b.partitionOf(key).id }

func (b *Broker) partitionOf(key string) *partition {
	h := fnv.New64a()
	h.Write([]byte(key))
	return b.parts[h.Sum64()%uint64(len(b.parts))]
}

// Metadata names on the mempubsub messages.
const (
	metaOffset = "eddy-offset"
	metaID     = "eddy-id"
	metaKey    = "eddy-key"
	metaTime   = "eddy-time"
	metaAttr   = "attr-"
)

// Publish appends records to their partitions and returns once mempubsub holds them. Each record
// gets its partition's next offset (its Offset is overwritten); its ID defaults to
// "PARTITION-OFFSET"; its Time, if zero, becomes the publish time (the arrival time a spec may use
// as $time).
func (b *Broker) Publish(ctx context.Context, recs ...core.Record) error {
	if b.closed.Load() {
		return errors.New("local: publish on a closed broker")
	}
	now := b.cfg.Now()
	for i := range recs {
		rec := &recs[i]
		key := b.cfg.PartitionKey(rec)
		if err := b.partitionOf(key).publish(ctx, rec, key, now); err != nil {
			return err
		}
	}
	return nil
}

func (p *partition) publish(ctx context.Context, rec *core.Record, key string, now time.Time) error {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	off := strconv.FormatInt(p.published+1, 10)
	id := rec.ID
	if id == "" {
		id = p.id + "-" + off
	}
	t := rec.Time
	if t.IsZero() {
		t = now
	}
	meta := make(map[string]string, 4+len(rec.Attrs))
	for k, v := range rec.Attrs {
		meta[metaAttr+k] = v
	}
	meta[metaOffset], meta[metaID], meta[metaKey] = off, id, key
	meta[metaTime] = strconv.FormatInt(t.UnixNano(), 10)
	// The offset is taken only once mempubsub has the message, so a failed send leaves no gap
	// that would stall the partition.
	if err := p.topic.Send(ctx, &pubsub.Message{Body: rec.Data, Metadata: meta}); err != nil {
		return fmt.Errorf("local: publish record %s to partition %s: %w", id, p.id, err)
	}
	p.published++
	rec.Offset, rec.ID, rec.Time = off, id, t
	return nil
}

// receive pulls the partition's messages from mempubsub for the consumer.
func (p *partition) receive(ctx context.Context, out chan<- *pubsub.Message) {
	defer p.b.wg.Done()
	for {
		m, err := p.sub.Receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.b.fail(fmt.Errorf("local: partition %s: receive: %w", p.id, err))
			}
			return
		}
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
}

type pending struct {
	rec core.Record
	msg *pubsub.Message
}

// consume puts the partition's messages in offset order, cuts them into batches and runs each
// batch until it succeeds (or its attempts run out).
func (p *partition) consume(ctx context.Context, in <-chan *pubsub.Message) {
	defer p.b.wg.Done()
	cfg := &p.b.cfg
	buf := map[int64]pending{} // received, not yet in order
	next := int64(1)           // the next offset to deliver
	var ready []pending        // in order, not yet delivered
	var waitSince time.Time    // when ready became non-empty
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	lastWork := time.Now()
	for {
		// Run a batch when it is full or has waited long enough.
		if len(ready) > 0 && (len(ready) >= cfg.BatchSize || time.Since(waitSince) >= cfg.MaxWait) {
			n := min(len(ready), cfg.BatchSize)
			if !p.deliver(ctx, ready[:n]) {
				return
			}
			ready = append(ready[:0], ready[n:]...)
			waitSince = time.Now()
			lastWork = time.Now()
			continue
		}
		wait := time.Hour
		if len(ready) > 0 {
			wait = cfg.MaxWait - time.Since(waitSince)
		} else if cfg.TickInterval > 0 {
			wait = cfg.TickInterval - time.Since(lastWork)
		}
		if wait <= 0 {
			// Idle for a tick interval: let processing time close the windows of a quiet stream.
			p.tick(ctx, nil)
			lastWork = time.Now()
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case f := <-p.ctl:
			f(ctx)
			lastWork = time.Now()
		case m := <-in:
			off, err := strconv.ParseInt(m.Metadata[metaOffset], 10, 64)
			if err != nil || off < next {
				// A redelivery of something delivered already (or already waiting in ready).
				if err == nil && off <= p.done.Load() {
					m.Ack()
				}
				break
			}
			if _, dup := buf[off]; !dup {
				buf[off] = pending{rec: toRecord(m), msg: m}
			}
			for {
				pm, ok := buf[next]
				if !ok {
					break
				}
				delete(buf, next)
				if len(ready) == 0 {
					waitSince = time.Now()
				}
				ready = append(ready, pm)
				next++
			}
		case <-timer.C:
		}
	}
}

func toRecord(m *pubsub.Message) core.Record {
	rec := core.Record{ID: m.Metadata[metaID], Offset: m.Metadata[metaOffset], Key: m.Metadata[metaKey], Data: m.Body}
	if ns, err := strconv.ParseInt(m.Metadata[metaTime], 10, 64); err == nil {
		rec.Time = time.Unix(0, ns).UTC()
	}
	for k, v := range m.Metadata {
		if len(k) > len(metaAttr) && k[:len(metaAttr)] == metaAttr {
			if rec.Attrs == nil {
				rec.Attrs = map[string]string{}
			}
			rec.Attrs[k[len(metaAttr):]] = v
		}
	}
	return rec
}

// deliver runs one batch through the Runner until it succeeds, acknowledging its messages then. It
// returns false when the broker is closing.
func (p *partition) deliver(ctx context.Context, batch []pending) bool {
	cfg := &p.b.cfg
	recs := make([]core.Record, len(batch))
	for i := range batch {
		recs[i] = batch[i].rec
	}
	first, last := recs[0].Offset, recs[len(recs)-1].Offset
	delay := cfg.RetryDelay
	for attempt := 1; ; attempt++ {
		res, err := p.b.run.Run(ctx, core.Batch{Partition: p.id, Records: recs, Now: cfg.Now()})
		if cfg.OnBatch != nil {
			cfg.OnBatch(BatchInfo{Partition: p.id, First: first, Last: last, Records: len(recs), Attempt: attempt, Result: res, Err: err})
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		if cfg.MaxAttempts > 0 && attempt >= cfg.MaxAttempts && p.giveUp(ctx, recs, attempt, err) {
			break
		}
		cfg.Logger.Warn("batch failed; delivering it again", "partition", p.id, "first", first, "last", last, "attempt", attempt, "retry_in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		delay = min(delay*2, 30*cfg.RetryDelay)
	}
	for _, pm := range batch {
		pm.msg.Ack()
	}
	off, _ := strconv.ParseInt(last, 10, 64)
	p.done.Store(off)
	return true
}

// giveUp sends the records of a batch that failed its last attempt to the dead-letter output and
// reports whether the partition may move on.
func (p *partition) giveUp(ctx context.Context, recs []core.Record, attempt int, err error) bool {
	cfg := &p.b.cfg
	cfg.Logger.Error("giving up on a batch; its records go to the dead-letter output", "partition", p.id,
		"first", recs[0].Offset, "last", recs[len(recs)-1].Offset, "attempts", attempt, "err", err)
	if cfg.DeadLetter == nil {
		return true
	}
	fs := make([]*core.Failure, len(recs))
	for i := range recs {
		fs[i] = &core.Failure{Record: recs[i], Reason: fmt.Sprintf("batch failed %d times: %v", attempt, err), Err: err}
	}
	if derr := cfg.DeadLetter.EmitFailures(ctx, fs); derr != nil {
		// Without a dead-letter copy the records would be lost: keep retrying instead.
		cfg.Logger.Error("dead-letter output failed; retrying the batch", "partition", p.id, "err", derr)
		return false
	}
	return true
}

// tick runs a Runner tick on the partition. An idle tick that fails is simply tried again at the
// next interval; a flush (done != nil) is retried like a batch, since it ends the stream.
func (p *partition) tick(ctx context.Context, done func(core.Result, error)) {
	cfg := &p.b.cfg
	delay := cfg.RetryDelay
	for attempt := 1; ; attempt++ {
		res, err := p.b.run.Tick(ctx, p.id, cfg.Now())
		if cfg.OnBatch != nil {
			cfg.OnBatch(BatchInfo{Partition: p.id, Attempt: attempt, Result: res, Err: err})
		}
		if err == nil || done == nil || ctx.Err() != nil || cfg.MaxAttempts > 0 && attempt >= cfg.MaxAttempts {
			if err != nil && done == nil && ctx.Err() == nil {
				cfg.Logger.Warn("tick failed", "partition", p.id, "err", err)
			}
			if done != nil {
				done(res, err)
			}
			return
		}
		cfg.Logger.Warn("flush failed; trying again", "partition", p.id, "attempt", attempt, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		delay = min(delay*2, 30*cfg.RetryDelay)
	}
}

// Drain waits until every record published so far has been processed and committed (or given up
// on).
func (b *Broker) Drain(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if err := b.Err(); err != nil {
			return err
		}
		idle := true
		for _, p := range b.parts {
			p.pubMu.Lock()
			pub := p.published
			p.pubMu.Unlock()
			if p.done.Load() < pub {
				idle = false
				break
			}
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Flush ends the stream: every partition's windows fire and close and pending patterns resolve, as
// at the end of a replay. Call it after Drain; records published afterwards are late.
func (b *Broker) Flush(ctx context.Context) (core.Result, error) {
	var (
		mu   sync.Mutex
		all  core.Result
		errs []error
		wg   sync.WaitGroup
	)
	fctx := context.WithValue(ctx, flushKey{}, true)
	for _, p := range b.parts {
		wg.Add(1)
		f := func(context.Context) {
			p.tick(fctx, func(res core.Result, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("local: flush partition %s: %w", p.id, err))
				}
				all.Outputs = append(all.Outputs, res.Outputs...)
				all.Failures = append(all.Failures, res.Failures...)
				all.Stats.Add(res.Stats)
			})
			wg.Done()
		}
		select {
		case p.ctl <- f:
		case <-ctx.Done():
			wg.Done()
			errs = append(errs, ctx.Err())
		}
	}
	wg.Wait()
	return all, errors.Join(errs...)
}

// Err returns the error that stopped a partition's consumer, if any.
func (b *Broker) Err() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return b.err
}

func (b *Broker) fail(err error) {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

// Close stops the consumers (a batch in progress is abandoned uncommitted, as after a crash) and
// releases the topics. Call Drain first to finish the published records.
func (b *Broker) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.cancel()
	b.wg.Wait()
	var errs []error
	ctx := context.Background()
	for _, p := range b.parts {
		if err := p.sub.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
		if err := p.topic.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type flushKey struct{}

// Flusher is implemented by processors that can end the stream (a *pipeline.Pipeline): every
// window fires and closes.
type Flusher interface {
	Flush(ctx context.Context, emit func(core.Output)) (core.Result, error)
}

// flushable turns a tick with a flush context into a Flush, so that Broker.Flush goes through the
// Runner's load, emit and commit like any other invocation.
type flushable struct{ runner.Processor }

func (f flushable) Tick(ctx context.Context, now time.Time) (core.Result, error) {
	if ctx.Value(flushKey{}) != nil {
		if fl, ok := f.Processor.(Flusher); ok {
			var outs []core.Output
			res, err := fl.Flush(ctx, func(o core.Output) { outs = append(outs, core.CloneOutput(o)) })
			res.Outputs = outs
			return res, err
		}
	}
	return f.Processor.Tick(ctx, now)
}
