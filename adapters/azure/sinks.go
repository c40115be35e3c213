package azure

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"gocloud.dev/blob"
	"gocloud.dev/pubsub"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/ehbatch"
)

// OutputID is an output's deterministic id: the decision id, or one derived the same way for
// window results and late events, so a re-emitted output after a crash carries the same id and
// consumers can drop it.
func OutputID(o core.Output) string {
	switch v := o.(type) {
	case *core.Decision:
		return v.ID
	case *core.WindowResult:
		return core.DecisionID(v.Function, "window", v.Key, core.Span{Start: v.Start, End: v.End}, "window", v.Revision)
	case *core.Late:
		return core.DecisionID(v.Function, "late", v.Key, core.Span{Start: v.Time, End: v.Time}, v.Pos.Partition+"/"+v.Pos.Offset+"/"+v.ID, 0)
	}
	sum := sha256.Sum256(o.AppendJSON(nil))
	return hex.EncodeToString(sum[:16])
}

// EventHubSink sends outputs (and, as a runner.FailureSink, failed records) to an Event Hub as
// JSON events, packed into as few batches as the hub's size limit allows. Each event carries the
// output's id as its message id and its type in the "type" property.
type EventHubSink struct {
	// Producer sends to the output hub.
	Producer *azeventhubs.ProducerClient
	// Batch sets the batches' options (a partition key or id, a size cap); nil lets the hub
	// spread the events.
	Batch *azeventhubs.EventDataBatchOptions
}

var jsonContentType = "application/json"

// Emit implements runner.Sink.
func (s *EventHubSink) Emit(ctx context.Context, outs []core.Output) error {
	evs := make([]*azeventhubs.EventData, len(outs))
	for i, o := range outs {
		id := OutputID(o)
		evs[i] = &azeventhubs.EventData{Body: o.AppendJSON(nil), ContentType: &jsonContentType, MessageID: &id,
			Properties: map[string]any{"type": o.Type()}}
	}
	return s.send(ctx, evs)
}

// EmitFailures implements runner.FailureSink.
func (s *EventHubSink) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	evs := make([]*azeventhubs.EventData, len(fs))
	for i, f := range fs {
		id := "failure-" + f.Record.ID
		evs[i] = &azeventhubs.EventData{Body: f.AppendJSON(nil), ContentType: &jsonContentType, MessageID: &id,
			Properties: map[string]any{"type": "failure", "offset": f.Record.Offset}}
	}
	return s.send(ctx, evs)
}

func (s *EventHubSink) send(ctx context.Context, evs []*azeventhubs.EventData) error {
	if _, err := ehbatch.Send(ctx, s.Producer, s.Batch, evs); err != nil {
		var be *ehbatch.Error
		if errors.As(err, &be) && be.TooLarge {
			return fmt.Errorf("event hub sink: event %d (%d bytes) is %w", be.First, len(evs[be.First].Body), err)
		}
		return fmt.Errorf("event hub sink: %w", err)
	}
	return nil
}

// TopicSink sends outputs (and failed records) to a gocloud.dev topic: Azure Service Bus with
// "azuresb://topic" (import gocloud.dev/pubsub/azuresb), or any other driver. Each message has
// the output's JSON as its body and "id" and "type" metadata.
type TopicSink struct {
	Topic *pubsub.Topic
}

// Emit implements runner.Sink.
func (s *TopicSink) Emit(ctx context.Context, outs []core.Output) error {
	for i, o := range outs {
		id := OutputID(o)
		m := &pubsub.Message{Body: o.AppendJSON(nil), LoggableID: id, Metadata: map[string]string{"id": id, "type": o.Type()}}
		if err := s.Topic.Send(ctx, m); err != nil {
			return fmt.Errorf("topic sink: send output %d of %d (%s): %w", i+1, len(outs), id, err)
		}
	}
	return nil
}

// EmitFailures implements runner.FailureSink.
func (s *TopicSink) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	for _, f := range fs {
		m := &pubsub.Message{Body: f.AppendJSON(nil), LoggableID: f.Record.ID,
			Metadata: map[string]string{"id": "failure-" + f.Record.ID, "type": "failure", "offset": f.Record.Offset}}
		if err := s.Topic.Send(ctx, m); err != nil {
			return fmt.Errorf("topic sink: dead-letter record %s: %w", f.Record.ID, err)
		}
	}
	return nil
}

// BlobDeadLetter writes failed records to a blob container (azblob://container, or any
// gocloud.dev bucket), one newline-delimited JSON object per call, named by a hash of its content
// under Prefix: a retried invocation rewrites the same object instead of adding a copy.
type BlobDeadLetter struct {
	Bucket *blob.Bucket
	// Prefix is prepended to object names (for example "deadletter/w1/").
	Prefix string
}

// EmitFailures implements runner.FailureSink.
func (d *BlobDeadLetter) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	if len(fs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, f := range fs {
		buf.Write(f.AppendJSON(nil))
		buf.WriteByte('\n')
	}
	sum := sha256.Sum256(buf.Bytes())
	name := d.Prefix + fs[0].Record.Offset + "-" + strconv.Itoa(len(fs)) + "-" + hex.EncodeToString(sum[:12]) + ".ndjson"
	if err := d.Bucket.WriteAll(ctx, name, buf.Bytes(), &blob.WriterOptions{ContentType: "application/x-ndjson"}); err != nil {
		return fmt.Errorf("dead-letter %d records to %s: %w", len(fs), name, err)
	}
	return nil
}
