package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	// Runner runs the function.
	Runner *runner.Runner
	// BatchSize is the most events one runner batch holds (default 100).
	BatchSize int
	// MaxWait is how long a partition waits to fill a batch before processing what it has
	// (default 1 s).
	MaxWait time.Duration
	// TickEvery ticks a partition that has received nothing for that long, so the windows of a
	// quiet stream close (default 10 s; negative disables).
	TickEvery time.Duration
	// RetryBackoff is the first wait before processing a batch again after an infrastructure
	// error; it doubles up to a minute (default 200 ms). The partition retries until it
	// succeeds or loses ownership: skipping the batch would lose it.
	RetryBackoff time.Duration
	// OnBatch, if set, is called after each committed batch or tick (for metrics and tests).
	OnBatch func(partition string, res core.Result)
	// Logger gets ownership changes and errors (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Consumer reads an Event Hub through an azeventhubs Processor and runs each partition's events
// through the runner. The checkpoint moves only after the runner has committed the state (which
// carries the sequence number), so a new owner of a partition resumes at or before what was
// applied and the runner skips the overlap: nothing is lost and nothing applied twice.
type Consumer struct {
	proc *azeventhubs.Processor
	cfg  ConsumerConfig
}

// NewConsumer returns a Consumer over a Processor (made with azeventhubs.NewProcessor and a
// checkpoint store, for example checkpoints.NewBlobStore).
func NewConsumer(proc *azeventhubs.Processor, cfg ConsumerConfig) (*Consumer, error) {
	if proc == nil {
		return nil, errors.New("azure: NewConsumer: Processor is nil")
	}
	if cfg.Runner == nil {
		return nil, errors.New("azure: ConsumerConfig.Runner is nil")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = time.Second
	}
	if cfg.TickEvery == 0 {
		cfg.TickEvery = 10 * time.Second
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Consumer{proc: proc, cfg: cfg}, nil
}

// Run runs the Processor and one loop per owned partition until ctx is done or the Processor
// fails. It returns nil when ctx ends it.
func (c *Consumer) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	procErr := make(chan error, 1)
	go func() { procErr <- c.proc.Run(ctx) }()
	var wg sync.WaitGroup
	for {
		pc := c.proc.NextPartitionClient(ctx)
		if pc == nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.partition(ctx, pc)
		}()
	}
	cancel()
	wg.Wait()
	err := <-procErr
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("azure: event hubs processor: %w", err)
	}
	return nil
}

func ownershipLost(err error) bool {
	var e *azeventhubs.Error
	return errors.As(err, &e) && e.Code == azeventhubs.ErrorCodeOwnershipLost
}

// partition processes one owned partition until ownership is lost or ctx is done.
func (c *Consumer) partition(ctx context.Context, pc *azeventhubs.ProcessorPartitionClient) {
	id := pc.PartitionID()
	log := c.cfg.Logger.With("partition", id)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pc.Close(cctx)
	}()
	log.InfoContext(ctx, "partition claimed")
	lastActivity := c.cfg.Now()
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, c.cfg.MaxWait)
		evs, err := pc.ReceiveEvents(rctx, c.cfg.BatchSize, nil)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			if ownershipLost(err) {
				log.InfoContext(ctx, "partition lost to another consumer", "err", err)
				return
			}
			if ctx.Err() != nil {
				return
			}
			if len(evs) == 0 {
				log.WarnContext(ctx, "receive failed; retrying", "err", err)
				continue
			}
		}
		if len(evs) == 0 {
			if c.cfg.TickEvery > 0 && c.cfg.Now().Sub(lastActivity) >= c.cfg.TickEvery {
				lastActivity = c.cfg.Now()
				if res, err := c.cfg.Runner.Tick(ctx, id, lastActivity); err != nil {
					log.WarnContext(ctx, "tick failed", "err", err)
				} else if c.cfg.OnBatch != nil && (len(res.Outputs) > 0 || len(res.Failures) > 0) {
					c.cfg.OnBatch(id, res)
				}
			}
			continue
		}
		lastActivity = c.cfg.Now()
		log.DebugContext(ctx, "received", "events", len(evs), "first", evs[0].SequenceNumber)
		batch := core.Batch{Partition: id, Records: Records(evs), Now: lastActivity}
		res, ok := c.run(ctx, log, batch)
		if !ok {
			return
		}
		if c.cfg.OnBatch != nil {
			c.cfg.OnBatch(id, res)
		}
		// Only now, with the state committed, may the checkpoint move past these events.
		if err := pc.UpdateCheckpoint(ctx, evs[len(evs)-1], nil); err != nil {
			if ownershipLost(err) {
				log.InfoContext(ctx, "partition lost while checkpointing", "err", err)
				return
			}
			if ctx.Err() != nil {
				return
			}
			// The next checkpoint covers these events; a new owner replays them and the runner
			// skips them.
			log.WarnContext(ctx, "checkpoint failed", "sequence", evs[len(evs)-1].SequenceNumber, "err", err)
		}
	}
}

// run processes a batch, retrying infrastructure errors with backoff until it succeeds or ctx
// ends (false).
func (c *Consumer) run(ctx context.Context, log *slog.Logger, b core.Batch) (core.Result, bool) {
	wait := c.cfg.RetryBackoff
	for {
		res, err := c.cfg.Runner.Run(ctx, b)
		if err == nil {
			return res, true
		}
		if ctx.Err() != nil {
			return core.Result{}, false
		}
		log.WarnContext(ctx, "batch failed; retrying", "records", len(b.Records), "first", b.Records[0].Offset, "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return core.Result{}, false
		case <-t.C:
		}
		wait = min(2*wait, time.Minute)
	}
}

// Records converts received events to records: the sequence number is the id and the offset,
// the partition key the key, the enqueued time the time, the application properties the
// attributes.
func Records(evs []*azeventhubs.ReceivedEventData) []core.Record {
	recs := make([]core.Record, len(evs))
	for i, e := range evs {
		recs[i] = Record(e)
	}
	return recs
}

// Record converts one received event; see Records.
func Record(e *azeventhubs.ReceivedEventData) core.Record {
	seq := strconv.FormatInt(e.SequenceNumber, 10)
	r := core.Record{ID: seq, Offset: seq, Data: e.Body}
	if e.PartitionKey != nil {
		r.Key = *e.PartitionKey
	}
	if e.EnqueuedTime != nil {
		r.Time = e.EnqueuedTime.UTC()
	}
	if len(e.Properties) > 0 {
		r.Attrs = make(map[string]string, len(e.Properties))
		for k, v := range e.Properties {
			r.Attrs[k] = propString(v)
		}
	}
	return r
}

// propString renders an AMQP application property: strings and bytes as text, numbers in
// decimal, times in RFC 3339, anything else as JSON.
func propString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return string(core.AppendNumber(nil, x))
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case nil:
		return ""
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}
