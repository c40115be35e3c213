// Package driver defines the small interface an output transport implements. Users never call a
// driver directly: they use the portable *sink.Sink, which turns eddy's outputs into messages under
// one wire contract (ids, metadata, the dead-letter envelope), splits sends to the driver's limits,
// retries what the transport rejected and checks sizes, the way gocloud.dev's portable types wrap
// their drivers. Every driver passes the conformance suite in core/sink/sinktest.
package driver

import (
	"context"
	"fmt"
)

// Message is one output on the wire: what every transport carries, whatever its format.
type Message struct {
	// ID is the output's deterministic id (sink.OutputID): the same output re-emitted after a crash
	// or a lost race has the same ID, so consumers drop duplicates by it. Drivers put it where the
	// transport keeps a message id (Event Hubs MessageID, RabbitMQ message-id, an HTTP header).
	ID string
	// Key is the output's key. Drivers use it as the partition, ordering or routing key, so that one
	// key's messages stay in order; "" means the transport may spread the message anywhere.
	Key string
	// Body is the payload: the output's JSON, or a structured CloudEvent.
	Body []byte
	// Metadata holds the contract's metadata (sink.Meta*). Drivers whose transport has attributes,
	// properties or headers carry every entry as one; those without (Kinesis, files) rely on the
	// body, which holds the same facts.
	Metadata map[string]string
}

// Size is the message's size as the limits count it: body, key, id and metadata.
func (m *Message) Size() int {
	n := len(m.Body) + len(m.Key) + len(m.ID)
	for k, v := range m.Metadata {
		n += len(k) + len(v)
	}
	return n
}

// Limits are a transport's size limits. Zero means no limit.
type Limits struct {
	// MaxMessageBytes bounds one message's Size.
	MaxMessageBytes int
	// MaxBatchMessages bounds the messages of one Send call.
	MaxBatchMessages int
	// MaxBatchBytes bounds the summed Size of one Send call.
	MaxBatchBytes int
}

// Sink is a transport. Implementations must be safe for concurrent use.
type Sink interface {
	// Send delivers msgs, keeping the order of messages with equal Key, and returns once the
	// transport has accepted them. When some were accepted and others were not, it returns a
	// *PartialError listing the rejected ones, so that only those are retried. Any other error means
	// none can be assumed delivered (the portable type then retries them all: consumers drop
	// duplicates by ID). Send is never called with more than Limits allows.
	Send(ctx context.Context, msgs []*Message) error
	// Limits reports the transport's limits.
	Limits() Limits
	// Close flushes and releases the transport.
	Close(ctx context.Context) error
}

// PartialError reports the messages of a Send that the transport did not accept.
type PartialError struct {
	// Failed holds the indexes (into the Send's msgs) of the rejected messages, ascending.
	Failed []int
	// Err is the first rejection's cause.
	Err error
}

// Error implements error.
func (e *PartialError) Error() string {
	return fmt.Sprintf("%d messages not accepted: %v", len(e.Failed), e.Err)
}

// Unwrap returns the cause.
func (e *PartialError) Unwrap() error { return e.Err }
