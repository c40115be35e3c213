package gcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// Config configures a Function.
type Config struct {
	// Runner runs the function's batches with its state store, sink and dead-letter sink.
	// Required.
	Runner *runner.Runner
	// Function is the function's name, for the dead letters of messages the Function rejects
	// itself (not Pub/Sub messages, no partition); Open sets it.
	Function string
	// DeadLetter receives poison messages: payloads that are not Pub/Sub messages, and messages
	// the Partitioner cannot place. Required; give the Runner the same sink (runner.Config
	// .DeadLetter) so that records the function cannot decode go there too.
	DeadLetter runner.FailureSink
	// Partition picks each message's partition (default: FirstOf(ByOrderingKey), so messages
	// without an ordering key share SinglePartition).
	Partition Partitioner
	// Logger gets one line per dead letter and per failed delivery (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now): it stamps each batch with its processing time, which
	// the idle timeout measures from, and gives the tick entry point its time. Tests drive it.
	Now func() time.Time
}

// Function is the adapter: it turns Pub/Sub deliveries into batches for the Runner and maps the
// outcome back to acknowledgements. It is safe for concurrent use.
type Function struct {
	run       *runner.Runner
	function  string
	dead      runner.FailureSink
	partition Partitioner
	log       *slog.Logger
	now       func() time.Time
}

// New checks cfg and returns a Function.
func New(cfg Config) (*Function, error) {
	switch {
	case cfg.Runner == nil:
		return nil, errors.New("gcp: Config.Runner is nil")
	case cfg.DeadLetter == nil:
		return nil, errors.New("gcp: Config.DeadLetter is nil: poison messages would be lost")
	}
	f := &Function{run: cfg.Runner, function: cfg.Function, dead: cfg.DeadLetter, partition: cfg.Partition, log: cfg.Logger, now: cfg.Now}
	if f.partition == nil {
		f.partition = FirstOf(ByOrderingKey)
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f, nil
}

// HandleCloudEvent is the CloudEvent function: it processes the one message of a
// messagePublished event. A nil return acknowledges the message (processed, a duplicate, or a
// poison message now in the dead-letter topic); an error makes Pub/Sub deliver it again, so it
// is returned only when the message may succeed later (state store, sink or dead-letter topic
// unavailable).
func (f *Function) HandleCloudEvent(ctx context.Context, e event.Event) error {
	m, err := ParseCloudEvent(e)
	if err != nil {
		rec := core.Record{ID: e.ID(), Time: e.Time(), Data: e.Data()}
		var me *MessageError
		if errors.As(err, &me) {
			return f.poison(ctx, &rec, me.Field, me.Reason)
		}
		return f.poison(ctx, &rec, "", err.Error())
	}
	return f.Handle(ctx, &m)
}

// Handle processes one message as a batch of its own partition; see HandleCloudEvent for what the
// error means.
func (f *Function) Handle(ctx context.Context, m *Message) error {
	rec := m.Record()
	part, err := f.partition(&rec)
	if err != nil {
		return f.poisonErr(ctx, &rec, err)
	}
	res, err := f.run.Run(ctx, core.Batch{Partition: part, Records: []core.Record{rec}, Now: f.now()})
	if err != nil {
		f.log.ErrorContext(ctx, "pubsub message failed; it will be redelivered", "message_id", m.ID, "partition", part, "error", err)
		return fmt.Errorf("pubsub message %q: %w", m.ID, err)
	}
	f.logFailures(ctx, part, res.Failures)
	return nil
}

// poisonErr dead-letters a record the partitioner rejected, with the failure's field and reason
// when it is a *core.Failure.
func (f *Function) poisonErr(ctx context.Context, rec *core.Record, err error) error {
	var cf *core.Failure
	if errors.As(err, &cf) {
		return f.poison(ctx, rec, cf.Field, "partition: "+cf.Reason)
	}
	return f.poison(ctx, rec, "", "partition: "+err.Error())
}

// poison acknowledges a message that can never succeed: it is logged with its reason and
// published to the dead-letter topic. Only a failed publish keeps it for redelivery.
func (f *Function) poison(ctx context.Context, rec *core.Record, field, reason string) error {
	fl := &core.Failure{Record: *rec, Function: f.function, Field: field, Reason: reason}
	f.log.WarnContext(ctx, "poison pubsub message dead-lettered", "message_id", rec.ID, "field", field, "reason", reason)
	if err := f.dead.EmitFailures(ctx, []*core.Failure{fl}); err != nil {
		f.log.ErrorContext(ctx, "dead-letter publish failed; the message will be redelivered", "message_id", rec.ID, "error", err)
		return fmt.Errorf("dead-letter %s: %w", fl.Error(), err)
	}
	return nil
}

// Tick advances processing time to now on every partition with stored state, so that idle
// timeouts close the windows of partitions that went quiet: Pub/Sub invokes the function only when
// a message comes, so a quiet ordering key would hold its last windows forever. Call it from a
// scheduled job (Cloud Scheduler) every minute or so, through RegisterTick's HTTP entry point;
// outputs go to the Runner's sink.
func (f *Function) Tick(ctx context.Context, now time.Time) (core.Result, error) {
	res, err := f.run.TickAll(ctx, now)
	if err != nil {
		f.log.ErrorContext(ctx, "tick failed", "error", err)
		return res, fmt.Errorf("gcp: tick: %w", err)
	}
	return res, nil
}

func (f *Function) logFailures(ctx context.Context, partition string, fs []*core.Failure) {
	for _, fl := range fs {
		f.log.WarnContext(ctx, "pubsub message dead-lettered", "message_id", fl.Record.ID, "partition", partition, "field", fl.Field, "reason", fl.Reason)
	}
}
