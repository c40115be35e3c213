package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// Brokers are the seed brokers ("host:port").
	Brokers []string
	// Topic is the topic to consume.
	Topic string
	// Group is the consumer group id; every worker of one function shares it.
	Group string
	// Runner runs the function. Its store holds each partition's state and applied offset.
	Runner *runner.Runner
	// MaxPollRecords bounds the records of one poll (default 1000): a batch is what was fetched
	// for a partition, at most this many.
	MaxPollRecords int
	// TickEvery ticks an assigned partition that has had no records for that long, by the worker's
	// own clock, so the windows of a quiet partition close (default 10 s; negative disables).
	TickEvery time.Duration
	// RetryBackoff is the first wait before running a failed batch again (an infrastructure
	// error: the store, an output); it doubles up to 30 s (default 200 ms). A batch is retried
	// until it succeeds or the worker stops: skipping it would lose it.
	RetryBackoff time.Duration
	// ConnectAttempts bounds the checks that the brokers answer and the topic exists at start
	// (default 6, waits doubling from ConnectBackoff).
	ConnectAttempts int
	// ConnectBackoff is the first wait between those checks (default 500 ms).
	ConnectBackoff time.Duration
	// SessionTimeout is how long the group waits for a silent member (one killed, or partitioned
	// away) before giving its partitions to the others (default franz-go's 45 s).
	SessionTimeout time.Duration
	// RebalanceTimeout is how long a rebalance waits for the members to rejoin (default
	// franz-go's 60 s); a member killed during a rebalance holds it up this long. It must cover
	// a poll's batches, which a rebalance waits for.
	RebalanceTimeout time.Duration
	// ClientOpts are extra franz-go options (TLS, SASL, timeouts). They come after the worker's.
	ClientOpts []kgo.Opt
	// OnBatch, if set, is called after every attempt of a batch or tick (metrics, tests).
	OnBatch func(BatchInfo)
	// Logger gets rebalances and errors (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock of batches and ticks (default time.Now).
	Now func() time.Time
}

// BatchInfo describes one attempt of a batch (or a tick, with no records).
type BatchInfo struct {
	// Partition is the runner partition, "TOPIC-N".
	Partition string
	// Records is the batch's size (0 for a tick); First and Last its offsets.
	Records     int
	First, Last int64
	// Result is the runner's result when Err is nil.
	Result core.Result
	// Err is the attempt's error.
	Err error
}

// Worker is one member of a consumer group. Each fetched partition batch goes through the Runner,
// which loads the partition's state, skips the offsets already applied, processes, emits and
// commits the state with its offset; only then is the offset committed to Kafka. The partitions of
// one poll run concurrently; a partition's batches run one after another, in offset order.
//
// Rebalances never cut a batch: polls and rebalances gate each other (kgo.BlockRebalanceOnPoll),
// so a revoked partition's batch in flight is finished and committed before the partition is
// released, and a newly assigned partition starts at the group's committed offset, where the
// Runner skips whatever a previous owner applied but did not get to commit to Kafka. A member
// that lost its partitions without knowing (a zombie, paused past its session timeout) loses its
// next state commit to the new owner's (the store's writes are conditional on the revision read),
// and the Runner reloads and finds the records applied.
type Worker struct {
	cfg WorkerConfig

	mu       sync.Mutex
	assigned map[string]time.Time // runner partition → last activity
	pending  map[string]*kgo.Record
	seeks    []seek
}

type seek struct {
	partition int32
	offset    int64
	done      chan struct{}
}

// New checks cfg and returns a Worker; Run starts it.
func New(cfg WorkerConfig) (*Worker, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("kafka: WorkerConfig.Brokers is empty")
	case cfg.Topic == "":
		return nil, errors.New("kafka: WorkerConfig.Topic is empty")
	case cfg.Group == "":
		return nil, errors.New("kafka: WorkerConfig.Group is empty: workers of one function share a consumer group")
	case cfg.Runner == nil:
		return nil, errors.New("kafka: WorkerConfig.Runner is nil")
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 1000
	}
	if cfg.TickEvery == 0 {
		cfg.TickEvery = 10 * time.Second
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 200 * time.Millisecond
	}
	if cfg.ConnectAttempts <= 0 {
		cfg.ConnectAttempts = 6
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Worker{cfg: cfg, assigned: map[string]time.Time{}, pending: map[string]*kgo.Record{}}, nil
}

// Run checks that the brokers answer and the topic exists (bounded retries with backoff, then a
// clear error), joins the group and processes until ctx is done. On ctx's end it finishes the
// batches in flight (their current attempt), commits them, leaves the group and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	n, err := TopicPartitions(ctx, w.cfg.Brokers, w.cfg.Topic, w.cfg.ConnectAttempts, w.cfg.ConnectBackoff, w.cfg.ClientOpts...)
	if err != nil {
		return err
	}
	log := w.cfg.Logger.With("topic", w.cfg.Topic, "group", w.cfg.Group)
	log.InfoContext(ctx, "kafka worker joining", "brokers", strings.Join(w.cfg.Brokers, ","), "partitions", n)
	opts := []kgo.Opt{
		kgo.SeedBrokers(w.cfg.Brokers...),
		kgo.ConsumerGroup(w.cfg.Group),
		kgo.ConsumeTopics(w.cfg.Topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// A new group starts at the beginning: the state store, not the group, says what was
		// applied, and the Runner skips it.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(w.onAssigned),
		kgo.OnPartitionsRevoked(w.onRevoked),
		kgo.OnPartitionsLost(w.onLost),
	}
	if w.cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(w.cfg.SessionTimeout))
	}
	if w.cfg.RebalanceTimeout > 0 {
		opts = append(opts, kgo.RebalanceTimeout(w.cfg.RebalanceTimeout))
	}
	opts = append(opts, w.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka: consumer for topic %q group %q: %w", w.cfg.Topic, w.cfg.Group, err)
	}
	defer func() {
		// Leaving runs the revoke callback, which commits what was applied.
		cl.CloseAllowingRebalance()
		log.InfoContext(context.WithoutCancel(ctx), "kafka worker left the group")
	}()
	poll := time.Second
	if w.cfg.TickEvery > 0 && w.cfg.TickEvery < poll {
		poll = w.cfg.TickEvery
	}
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, poll)
		fs := cl.PollRecords(pctx, w.cfg.MaxPollRecords)
		cancel()
		if fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			if topic == "" {
				// Not about a partition: the group session or the client.
				log.WarnContext(ctx, "poll failed; the client retries", "err", err)
				return
			}
			log.WarnContext(ctx, "fetch failed; the client retries", "partition", Partition(topic, p), "err", err)
		})
		w.processFetches(ctx, cl, fs)
		w.tickIdle(ctx)
		w.applySeeks(cl)
		cl.AllowRebalance()
	}
	return nil
}

// processFetches runs each partition's batch, concurrently across partitions, and commits the
// processed offsets to Kafka.
func (w *Worker) processFetches(ctx context.Context, cl *kgo.Client, fs kgo.Fetches) {
	var parts []kgo.FetchTopicPartition
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) > 0 {
			parts = append(parts, p)
		}
	})
	if len(parts) == 0 {
		return
	}
	done := make([]*kgo.Record, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.runBatch(ctx, p) {
				done[i] = p.Records[len(p.Records)-1]
			}
		}()
	}
	wg.Wait()
	var commit []*kgo.Record
	for _, r := range done {
		if r != nil {
			commit = append(commit, r)
		}
	}
	w.commit(ctx, cl, commit)
}

// commit commits the records' offsets to Kafka. The state already holds them, so a failure only
// means a later owner re-reads records the Runner skips; the offsets are tried again at the next
// commit or on revoke.
func (w *Worker) commit(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) {
	w.mu.Lock()
	for _, r := range recs {
		w.pending[Partition(r.Topic, r.Partition)] = r
	}
	all := make([]*kgo.Record, 0, len(w.pending))
	for _, r := range w.pending {
		all = append(all, r)
	}
	w.mu.Unlock()
	if len(all) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.CommitRecords(cctx, all...); err != nil {
		w.cfg.Logger.WarnContext(ctx, "kafka offset commit failed (the state holds the offsets; a new owner skips what was applied)", "topic", w.cfg.Topic, "err", err)
		return
	}
	w.mu.Lock()
	for _, r := range all {
		k := Partition(r.Topic, r.Partition)
		if w.pending[k] == r {
			delete(w.pending, k)
		}
	}
	w.mu.Unlock()
}

// runBatch runs one partition's fetched records until the Runner succeeds, or the worker stops
// (false: the batch is not committed, and the next owner gets it again).
func (w *Worker) runBatch(ctx context.Context, p kgo.FetchTopicPartition) bool {
	part := Partition(p.Topic, p.Partition)
	now := w.cfg.Now()
	w.mu.Lock()
	if _, ok := w.assigned[part]; ok {
		// Only an owned partition is ticked: one lost meanwhile stays out.
		w.assigned[part] = now
	}
	w.mu.Unlock()
	b := core.Batch{Partition: part, Records: Records(p.Records), Now: now}
	info := BatchInfo{Partition: part, Records: len(p.Records), First: p.Records[0].Offset, Last: p.Records[len(p.Records)-1].Offset}
	wait := w.cfg.RetryBackoff
	// The attempt runs to its end even when the worker is stopping, so that a shutdown finishes
	// the batch instead of abandoning its outputs half-emitted.
	rctx := context.WithoutCancel(ctx)
	for {
		res, err := w.cfg.Runner.Run(rctx, b)
		info.Result, info.Err = res, err
		if w.cfg.OnBatch != nil {
			w.cfg.OnBatch(info)
		}
		if err == nil {
			return true
		}
		w.cfg.Logger.WarnContext(ctx, "batch failed; retrying", "partition", part, "first", info.First, "last", info.Last, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// tickIdle ticks the assigned partitions that have been quiet for TickEvery.
func (w *Worker) tickIdle(ctx context.Context) {
	if w.cfg.TickEvery < 0 {
		return
	}
	now := w.cfg.Now()
	var due []string
	w.mu.Lock()
	for p, last := range w.assigned {
		if now.Sub(last) >= w.cfg.TickEvery {
			due = append(due, p)
			w.assigned[p] = now
		}
	}
	w.mu.Unlock()
	for _, p := range due {
		w.tick(ctx, p, now)
	}
}

func (w *Worker) tick(ctx context.Context, p string, now time.Time) error {
	res, err := w.cfg.Runner.Tick(ctx, p, now)
	if w.cfg.OnBatch != nil {
		w.cfg.OnBatch(BatchInfo{Partition: p, Result: res, Err: err})
	}
	if err != nil {
		w.cfg.Logger.WarnContext(ctx, "tick failed; tried again at the next interval", "partition", p, "err", err)
	}
	return err
}

// Tick ticks every partition assigned to this worker at now, as its own clock does every
// TickEvery; for a scheduler that drives the worker's processing time.
func (w *Worker) Tick(ctx context.Context, now time.Time) error {
	w.mu.Lock()
	parts := make([]string, 0, len(w.assigned))
	for p := range w.assigned {
		parts = append(parts, p)
	}
	w.mu.Unlock()
	var errs []error
	for _, p := range parts {
		errs = append(errs, w.tick(ctx, p, now))
	}
	return errors.Join(errs...)
}

// Assigned returns the runner partitions ("TOPIC-N") assigned to this worker now.
func (w *Worker) Assigned() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.assigned))
	for p := range w.assigned {
		out = append(out, p)
	}
	return out
}

// Seek makes the worker read an assigned partition again from offset, as a new consumer resuming
// from an older committed offset does: to reprocess after restoring the state from a backup, or to
// prove that redelivered records change nothing (the Runner skips what its state says was
// applied). It returns once the worker has moved its position, between two polls, or when ctx
// ends; it waits for the partition to be assigned.
func (w *Worker) Seek(ctx context.Context, partition int32, offset int64) error {
	done := make(chan struct{})
	w.mu.Lock()
	w.seeks = append(w.seeks, seek{partition, offset, done})
	w.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kafka: seek partition %d of %q to %d: %w", partition, w.cfg.Topic, offset, ctx.Err())
	}
}

// applySeeks moves the positions of assigned partitions; seeks of partitions not assigned yet
// wait.
func (w *Worker) applySeeks(cl *kgo.Client) {
	w.mu.Lock()
	var now, later []seek
	for _, s := range w.seeks {
		if _, ok := w.assigned[Partition(w.cfg.Topic, s.partition)]; ok {
			now = append(now, s)
		} else {
			later = append(later, s)
		}
	}
	w.seeks = later
	w.mu.Unlock()
	if len(now) == 0 {
		return
	}
	m := map[int32]kgo.EpochOffset{}
	for _, s := range now {
		m[s.partition] = kgo.EpochOffset{Epoch: -1, Offset: s.offset}
	}
	cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{w.cfg.Topic: m})
	for _, s := range now {
		close(s.done)
	}
}

func (w *Worker) onAssigned(ctx context.Context, _ *kgo.Client, tps map[string][]int32) {
	now := w.cfg.Now()
	w.mu.Lock()
	for t, ps := range tps {
		for _, p := range ps {
			w.assigned[Partition(t, p)] = now
		}
	}
	w.mu.Unlock()
	w.cfg.Logger.InfoContext(ctx, "partitions assigned", "group", w.cfg.Group, "partitions", tps)
}

// onRevoked runs after the batches in flight finished (polls and rebalances gate each other): it
// commits what they applied and Kafka has not yet been told, then releases the partitions.
func (w *Worker) onRevoked(ctx context.Context, cl *kgo.Client, tps map[string][]int32) {
	w.mu.Lock()
	var commit []*kgo.Record
	for t, ps := range tps {
		for _, p := range ps {
			k := Partition(t, p)
			if r := w.pending[k]; r != nil {
				commit = append(commit, r)
			}
			delete(w.pending, k)
			delete(w.assigned, k)
		}
	}
	w.mu.Unlock()
	if len(commit) > 0 {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := cl.CommitRecords(cctx, commit...); err != nil {
			w.cfg.Logger.WarnContext(ctx, "kafka offset commit on revoke failed (the state holds the offsets)", "err", err)
		}
	}
	w.cfg.Logger.InfoContext(ctx, "partitions revoked", "group", w.cfg.Group, "partitions", tps)
}

// onLost drops partitions another member may already own: nothing is committed for them.
func (w *Worker) onLost(ctx context.Context, _ *kgo.Client, tps map[string][]int32) {
	w.mu.Lock()
	for t, ps := range tps {
		for _, p := range ps {
			delete(w.pending, Partition(t, p))
			delete(w.assigned, Partition(t, p))
		}
	}
	w.mu.Unlock()
	w.cfg.Logger.WarnContext(ctx, "partitions lost (session expired or fenced); another member owns them", "group", w.cfg.Group, "partitions", tps)
}
