package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"gocloud.dev/pubsub"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/kinesisput"
)

// Output receives a function's outputs and its dead-letter records: it is a runner.Sink and a
// runner.FailureSink. The runner emits before it commits, so after a crash an output may come
// again; consumers drop duplicates by the decision id (the "id" member of the JSON).
//
// Deprecated: Start and Open send outputs and dead letters with sink.Open (EDDY_OUTPUT_URL,
// EDDY_DEADLETTER_URL) under the wire contract of package core/sink; a *sink.Sink is a
// runner.Sink and a runner.FailureSink.
type Output interface {
	Emit(ctx context.Context, outs []core.Output) error
	EmitFailures(ctx context.Context, fs []*core.Failure) error
	Close() error
}

// outputKey is the Kinesis partition key (and SNS/SQS metadata) of an output: its key, so that one
// key's outputs stay in order on one shard.
func outputKey(o core.Output) string {
	switch o := o.(type) {
	case *core.Decision:
		return o.Key
	case *core.WindowResult:
		return o.Key
	case *core.Late:
		return o.Key
	}
	return o.Type()
}

// AppendFailureJSON appends a dead-letter record as JSON: the core failure's members plus the
// record's attributes (which hold, for a KPL aggregate that could not be split, the reason).
//
// Deprecated: dead letters are sink.DeadLetter's envelope.
func AppendFailureJSON(b []byte, f *core.Failure) []byte {
	b = f.AppendJSON(b)
	if f.Partition != "" {
		// Where the record was: the shard, or a Kafka topic-partition.
		b = append(b[:len(b)-1], `,"partition":`...)
		b = append(core.AppendString(b, f.Partition), '}')
	}
	if len(f.Record.Attrs) == 0 {
		return b
	}
	b = b[:len(b)-1]
	b = append(b, `,"attrs":{`...)
	keys := make([]string, 0, len(f.Record.Attrs))
	for k := range f.Record.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = core.AppendString(b, k)
		b = append(b, ':')
		b = core.AppendString(b, f.Record.Attrs[k])
	}
	return append(b, "}}"...)
}

// LogOutput writes outputs and dead-letter records as slog JSON lines, which Lambda sends to
// CloudWatch Logs.
//
// Deprecated: use the log: sink (core/sink/logsink), which Start opens by default.
type LogOutput struct {
	log *slog.Logger
}

// NewLogOutput writes to w (os.Stdout in Lambda).
func NewLogOutput(w io.Writer) *LogOutput {
	return &LogOutput{log: slog.New(slog.NewJSONHandler(w, nil))}
}

// Emit implements runner.Sink.
func (l *LogOutput) Emit(ctx context.Context, outs []core.Output) error {
	var buf []byte
	for _, o := range outs {
		buf = o.AppendJSON(buf[:0])
		l.log.InfoContext(ctx, o.Type(), "output", json.RawMessage(buf))
	}
	return nil
}

// EmitFailures implements runner.FailureSink: one warning per record, with the reason.
func (l *LogOutput) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	var buf []byte
	for _, f := range fs {
		buf = AppendFailureJSON(buf[:0], f)
		l.log.WarnContext(ctx, "dead letter: "+f.Error(), "failure", json.RawMessage(buf))
	}
	return nil
}

// Close implements Output.
func (l *LogOutput) Close() error { return nil }

// KinesisAPI is the part of the Kinesis client KinesisOutput uses.
type KinesisAPI = kinesisput.API

// KinesisOutput writes each output (or dead-letter record) as one JSON record to a Kinesis stream,
// with the output's key as partition key, in PutRecords calls of up to 500 records and 5 MB. Records
// that PutRecords rejects (throttled, internal failure), and calls that fail as a whole, are sent
// again with backoff; only what still fails after MaxAttempts is an error (the runner then fails the
// batch and Lambda retries it). Order across keys is not kept, and retried records may land after
// later ones.
//
// Deprecated: use the kinesis:// sink (adapters/aws/kinesissink), which writes the wire contract.
type KinesisOutput struct {
	api    KinesisAPI
	stream string
	// MaxAttempts bounds the PutRecords attempts for one record (default 8).
	MaxAttempts int
	// Backoff is the first retry delay, doubled each attempt up to 2 s, with jitter (default 100 ms).
	Backoff time.Duration
}

// NewKinesisOutput writes to the named stream through api (a *kinesis.Client).
func NewKinesisOutput(api KinesisAPI, stream string) *KinesisOutput {
	return &KinesisOutput{api: api, stream: stream, MaxAttempts: 8, Backoff: 100 * time.Millisecond}
}

// Emit implements runner.Sink.
func (k *KinesisOutput) Emit(ctx context.Context, outs []core.Output) error {
	recs := make([]types.PutRecordsRequestEntry, 0, len(outs))
	for _, o := range outs {
		key := outputKey(o)
		if key == "" {
			key = o.Type()
		}
		recs = append(recs, entry(key, o.AppendJSON(nil)))
	}
	return k.put(ctx, recs)
}

// EmitFailures implements runner.FailureSink.
func (k *KinesisOutput) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	recs := make([]types.PutRecordsRequestEntry, 0, len(fs))
	for _, f := range fs {
		key := f.Record.Key
		if key == "" {
			key = "failure"
		}
		recs = append(recs, entry(key, AppendFailureJSON(nil, f)))
	}
	return k.put(ctx, recs)
}

func entry(key string, data []byte) types.PutRecordsRequestEntry {
	if len(key) > 256 {
		// Kinesis partition keys are at most 256 characters.
		key = key[:256]
	}
	return types.PutRecordsRequestEntry{PartitionKey: &key, Data: data}
}

// Close implements Output.
func (k *KinesisOutput) Close() error { return nil }

func (k *KinesisOutput) put(ctx context.Context, recs []types.PutRecordsRequestEntry) error {
	for _, r := range recs {
		if n := len(r.Data) + len(*r.PartitionKey); n > kinesisput.MaxRecordBytes {
			return fmt.Errorf("kinesis stream %s: record with partition key %q is %d bytes, over Kinesis's 1 MiB limit", k.stream, *r.PartitionKey, n)
		}
	}
	w := kinesisput.Writer{API: k.api, Stream: k.stream, MaxAttempts: k.MaxAttempts, Backoff: k.Backoff,
		MaxBackoff: 2 * time.Second, RetryCallErrors: true}
	_, err := w.Put(ctx, recs)
	return err
}

// TopicOutput sends each output (or dead-letter record) as one message to a gocloud.dev topic:
// SNS or SQS through gocloud.dev/pubsub/awssnssqs ("awssns:///arn:aws:sns:…",
// "awssqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE"). Metadata carries the output type, key and id.
//
// Deprecated: use the awssns:// and awssqs:// sinks (adapters/aws/snssqssink), which write the
// wire contract.
type TopicOutput struct {
	topic *pubsub.Topic
	// Concurrency bounds the messages in flight (default 64); the driver batches them.
	Concurrency int
}

// NewTopicOutput sends to t, and closes it on Close.
func NewTopicOutput(t *pubsub.Topic) *TopicOutput {
	return &TopicOutput{topic: t, Concurrency: 64}
}

// Emit implements runner.Sink.
func (t *TopicOutput) Emit(ctx context.Context, outs []core.Output) error {
	msgs := make([]*pubsub.Message, len(outs))
	for i, o := range outs {
		md := map[string]string{"type": o.Type(), "key": outputKey(o)}
		if d, ok := o.(*core.Decision); ok {
			md["id"] = d.ID
		}
		msgs[i] = &pubsub.Message{Body: o.AppendJSON(nil), Metadata: md}
	}
	return t.send(ctx, msgs)
}

// EmitFailures implements runner.FailureSink.
func (t *TopicOutput) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	msgs := make([]*pubsub.Message, len(fs))
	for i, f := range fs {
		msgs[i] = &pubsub.Message{Body: AppendFailureJSON(nil, f),
			Metadata: map[string]string{"type": "failure", "record": f.Record.ID, "reason": truncate(f.Reason, 256)}}
	}
	return t.send(ctx, msgs)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (t *TopicOutput) send(ctx context.Context, msgs []*pubsub.Message) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(t.Concurrency, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i, m := range msgs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := t.topic.Send(ctx, m); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("message %d: %w", i, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("send %d messages: %d failed: %w", len(msgs), len(errs), errors.Join(errs...))
	}
	return nil
}

// Close implements Output: it flushes and closes the topic.
func (t *TopicOutput) Close() error { return t.topic.Shutdown(context.Background()) }
