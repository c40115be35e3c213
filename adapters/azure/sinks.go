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
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/internal/ehbatch"
)

// OutputID is an output's deterministic id.
//
// Deprecated: use core.OutputID (or sink.OutputID), which this calls.
func OutputID(o core.Output) string { return core.OutputID(o) }

// EventHubSink sends outputs (and, as a runner.FailureSink, failed records) to an Event Hub,
// packed into as few batches as the hub's size limit allows, as the wire contract of package
// core/sink writes them: the message id is the output's id, the properties are its metadata, a
// dead letter's body is the dead-letter envelope.
//
// Deprecated: Open and Start send outputs with sink.Open(EDDY_OUTPUT_URL), e.g.
// eventhubs://NAMESPACE/HUB, which also retries what the hub rejected.
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
		evs[i] = wireEventData(sink.Message(o, nil))
	}
	return s.send(ctx, evs)
}

// EmitFailures implements runner.FailureSink.
func (s *EventHubSink) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	evs := make([]*azeventhubs.EventData, len(fs))
	for i, f := range fs {
		evs[i] = wireEventData(sink.DeadLetter(f))
	}
	return s.send(ctx, evs)
}

func wireEventData(m *driver.Message) *azeventhubs.EventData {
	props := make(map[string]any, len(m.Metadata))
	for k, v := range m.Metadata {
		props[k] = v
	}
	return &azeventhubs.EventData{Body: m.Body, ContentType: &jsonContentType, MessageID: &m.ID, Properties: props}
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
// "azuresb://topic" (import gocloud.dev/pubsub/azuresb), or any other driver, one message each as
// the wire contract of package core/sink writes them: the body (output JSON or dead-letter
// envelope) and the contract's metadata (eddy_id, eddy_type, ...).
//
// Deprecated: Open and Start send outputs with sink.Open(EDDY_OUTPUT_URL), one registry for
// every transport.
type TopicSink struct {
	Topic *pubsub.Topic
}

// Emit implements runner.Sink.
func (s *TopicSink) Emit(ctx context.Context, outs []core.Output) error {
	for i, o := range outs {
		m := sink.Message(o, nil)
		// No LoggableID: gocloud's Topic.Send rejects messages that set it (it is the driver's).
		if err := s.Topic.Send(ctx, &pubsub.Message{Body: m.Body, Metadata: m.Metadata}); err != nil {
			return fmt.Errorf("topic sink: send output %d of %d (%s): %w", i+1, len(outs), m.ID, err)
		}
	}
	return nil
}

// EmitFailures implements runner.FailureSink.
func (s *TopicSink) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	for _, f := range fs {
		m := sink.DeadLetter(f)
		if err := s.Topic.Send(ctx, &pubsub.Message{Body: m.Body, Metadata: m.Metadata}); err != nil {
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
