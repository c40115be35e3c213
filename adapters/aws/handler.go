package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// Options configure a Handler.
type Options struct {
	// LambdaWindowState keeps the state in Lambda's tumbling-window state instead of a store: the
	// runner must come from NewWindowRunner, and the event source mapping must set
	// TumblingWindowInSeconds to the function's window size (see CheckLambdaWindow).
	LambdaWindowState bool
	// Now is the clock (default time.Now). Batches carry its time as their processing time.
	Now func() time.Time
	// Logger gets one debug line per invocation and warnings (default slog.Default()).
	Logger *slog.Logger
}

// Handler is a Lambda handler for Kinesis event source mappings. It implements lambda.Handler, so
// one function answers every invocation its triggers make:
//
//   - a KinesisEvent: the records become a core.Batch of the shard and go through the runner; the
//     response reports the records that failed (undecodable: the poison records, already written to
//     the runner's dead-letter output) in batchItemFailures, so enable ReportBatchItemFailures on
//     the mapping. Lambda retries from the lowest reported sequence number, and the runner skips the
//     records it already applied, so the retry only moves the checkpoint past the poison record. An
//     infrastructure error (state store, outputs) fails the invocation, and Lambda retries the batch.
//   - a KinesisTimeWindowEvent (a mapping with TumblingWindowInSeconds): as above; the response
//     carries the window state, which holds the function's state when Options.LambdaWindowState is
//     set, and the final invocation of each window closes all the function's windows.
//   - an EventBridge scheduled event: a tick that closes the windows of shards that went quiet
//     (runner.TickAll), so the last window of a sparse stream is not stuck.
type Handler struct {
	r    *runner.Runner
	opts Options
}

// NewHandler returns a handler running batches through r.
func NewHandler(r *runner.Runner, opts *Options) (*Handler, error) {
	if r == nil {
		return nil, errors.New("aws: NewHandler: runner is nil")
	}
	h := &Handler{r: r}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Now == nil {
		h.opts.Now = time.Now
	}
	if h.opts.Logger == nil {
		h.opts.Logger = slog.Default()
	}
	return h, nil
}

// invocation is the union of the payloads the handler accepts, decoded in one pass.
type invocation struct {
	events.KinesisTimeWindowEvent
	// EventBridge members.
	Source     string    `json:"source"`
	DetailType string    `json:"detail-type"`
	Time       time.Time `json:"time"`
}

// TickResponse is the answer to a scheduled tick.
type TickResponse struct {
	Outputs int `json:"outputs"`
	Failed  int `json:"failed"`
}

// Invoke implements lambda.Handler: it decodes the payload, tells a Kinesis batch, a tumbling
// window batch and a scheduled tick apart, and encodes the response.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var inv invocation
	if err := json.Unmarshal(payload, &inv); err != nil {
		// A Kafka event's "records" is an object, which the Kinesis shape cannot take: tried
		// only then, so Kinesis invocations pay nothing for it.
		if IsKafkaEvent(payload) {
			return h.invokeKafka(ctx, payload)
		}
		return nil, fmt.Errorf("aws: decode the invocation payload: %w", err)
	}
	switch {
	case inv.Records != nil && (inv.ShardID != "" || inv.State != nil || !inv.Window.Start.IsZero()):
		resp, err := h.HandleTimeWindow(ctx, inv.KinesisTimeWindowEvent)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	case inv.Records != nil:
		resp, err := h.HandleKinesis(ctx, inv.KinesisEvent)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	case inv.Source != "" || inv.DetailType != "":
		now := inv.Time
		if now.IsZero() {
			now = h.opts.Now()
		}
		resp, err := h.Tick(ctx, now)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	case inv.ShardID != "":
		// A final window invocation may come without records.
		resp, err := h.HandleTimeWindow(ctx, inv.KinesisTimeWindowEvent)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
	return nil, errors.New("aws: the payload is neither a Kinesis event (no Records member) nor an EventBridge scheduled event (no source member)")
}

// HandleKinesis processes one Kinesis batch.
func (h *Handler) HandleKinesis(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	if h.opts.LambdaWindowState {
		return events.KinesisEventResponse{}, errors.New("aws: the handler keeps its state in Lambda's tumbling window, but the event has no window: set TumblingWindowInSeconds on the event source mapping")
	}
	b, err := Batch(&ev, h.opts.Now())
	if err != nil {
		return events.KinesisEventResponse{}, fmt.Errorf("aws: %w", err)
	}
	res, err := h.run(ctx, b)
	if err != nil {
		return events.KinesisEventResponse{}, err
	}
	return events.KinesisEventResponse{BatchItemFailures: ItemFailures(res.Failures)}, nil
}

func (h *Handler) run(ctx context.Context, b core.Batch) (core.Result, error) {
	if len(b.Records) == 0 {
		return core.Result{}, nil
	}
	for i := range b.Records {
		// The record goes on whole (a JSON function dead-letters it; a raw one sees its bytes):
		// say so, since a raw function would otherwise count it as one event without a word.
		if why := b.Records[i].Attrs[AttrKPLError]; why != "" {
			h.opts.Logger.WarnContext(ctx, "KPL aggregate not split: processed as one record", "shard", b.Partition, "record", b.Records[i].ID, "reason", why)
		}
	}
	res, err := h.r.Run(ctx, b)
	if err != nil {
		return core.Result{}, fmt.Errorf("aws: shard %s: %w", b.Partition, err)
	}
	h.opts.Logger.DebugContext(ctx, "batch", "shard", b.Partition, "records", res.Stats.Records,
		"skipped", res.Stats.Skipped, "events", res.Stats.Events, "failed", res.Stats.Failed,
		"outputs", len(res.Outputs), "checkpoint", res.Checkpoint)
	return res, nil
}

// HandleTimeWindow processes one batch of a tumbling-window mapping. With
// Options.LambdaWindowState the function's state travels in the window state; on the window's final
// invocation, or when Lambda ends the window early (isWindowTerminatedEarly: the state outgrew
// 1 MB), the function's windows are all closed and emitted, since Lambda starts the next
// invocation with empty state. Decisions that empty state could make twice with different content
// get ids of their own (see SegmentDecisionID). Records that failed are reported in
// batchItemFailures except on those last invocations: they are dead-lettered either way.
func (h *Handler) HandleTimeWindow(ctx context.Context, ev events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
	resp := events.KinesisTimeWindowEventResponse{}
	resp.State = map[string]string{}
	now := h.opts.Now()
	b, err := Batch(&ev.KinesisEvent, now)
	if err != nil {
		return resp, fmt.Errorf("aws: %w", err)
	}
	if b.Partition == "" {
		b.Partition = ev.ShardID
	}
	if !h.opts.LambdaWindowState {
		res, err := h.run(ctx, b)
		if err != nil {
			return resp, err
		}
		resp.BatchItemFailures = ItemFailures(res.Failures)
		// Keep what else is in the state (another tool's keys): Lambda drops what is not returned.
		for k, v := range ev.State {
			resp.State[k] = v
		}
		return resp, nil
	}
	if b.Partition == "" {
		return resp, errors.New("aws: window event has neither records nor shardId")
	}
	ws, err := decodeWindowState(ev.State)
	if err != nil {
		return resp, fmt.Errorf("aws: shard %s window %s: %w", b.Partition, ev.Window.Start.Format(time.RFC3339), err)
	}
	ws.start = ev.Window.Start.Time
	ctx = withWindowState(ctx, ws)
	res, err := h.run(ctx, b)
	if err != nil {
		return resp, err
	}
	if !ev.IsFinalInvokeForWindow && !ev.IsWindowTerminatedEarly {
		// The returned state holds the runner's checkpoint past the failed records (already
		// dead-lettered), so Lambda's retry from the lowest of them skips them.
		resp.BatchItemFailures = ItemFailures(res.Failures)
		resp.State = ws.encode()
		return resp, nil
	}
	// The last invocation of the window, or of its part before Lambda ended it early: every
	// function window closes now, since Lambda drops the state after it. Failed records are not
	// reported here: they are in the dead-letter output, and a retry from them would start from
	// the state Lambda dropped, apply them again and fail them again, stopping the shard.
	if ev.IsWindowTerminatedEarly {
		ws.cut = res.Checkpoint
		if len(b.Records) == 0 {
			// No records: the runner reads the checkpoint from the state and applies nothing.
			r, err := h.r.Run(ctx, b)
			if err != nil {
				return resp, fmt.Errorf("aws: shard %s: %w", b.Partition, err)
			}
			ws.cut = r.Checkpoint
		}
		h.opts.Logger.WarnContext(ctx, "Lambda ended the tumbling window early: the function's windows so far are emitted now (their decisions under ids naming the cut, see SegmentDecisionID) and the rest of the window starts from empty state",
			"shard", b.Partition, "window_start", ev.Window.Start.Time, "window_end", ev.Window.End.Time, "cut", ws.cut)
	}
	ws.final = true
	if _, err := h.r.Tick(ctx, b.Partition, ev.Window.End.Time); err != nil {
		return resp, fmt.Errorf("aws: shard %s: close the window ending %s: %w", b.Partition, ev.Window.End.Format(time.RFC3339), err)
	}
	return resp, nil
}

// Tick closes the windows of quiet shards: a scheduled EventBridge rule invokes the function (say
// every minute), and every shard with stored state advances its processing time to now.
func (h *Handler) Tick(ctx context.Context, now time.Time) (TickResponse, error) {
	if h.opts.LambdaWindowState {
		return TickResponse{}, errors.New("aws: scheduled ticks need a state store: with the state in Lambda's tumbling window, Lambda closes the windows itself")
	}
	res, err := h.r.TickAll(ctx, now)
	if err != nil {
		return TickResponse{}, fmt.Errorf("aws: tick: %w", err)
	}
	return TickResponse{Outputs: len(res.Outputs), Failed: len(res.Failures)}, nil
}
