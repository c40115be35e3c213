package gcp

import (
	"context"
	"fmt"

	raw "cloud.google.com/go/pubsub/v2"
	"gocloud.dev/pubsub"
	"golang.org/x/sync/errgroup"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
)

// Attributes TopicSink sets on the messages it publishes: the wire contract's (package core/sink).
const (
	// AttrType is the output's type: "window", "decision", "late" or "deadletter".
	AttrType = sink.MetaType
	// AttrID is the output's deterministic id (sink.OutputID): a re-emitted output carries the
	// same one, so consumers drop duplicates by it.
	AttrID = sink.MetaID
	// AttrKey is the output's key.
	AttrKey = sink.MetaKey
	// AttrReason and AttrField describe a dead letter: why it failed and the field at fault.
	AttrReason = sink.MetaReason
	AttrField  = sink.MetaField
	// AttrMessageID is a dead letter's original message id.
	AttrMessageID = sink.MetaRecord
)

// maxAttrValue is Pub/Sub's limit on an attribute value, in bytes.
const maxAttrValue = 1024

// TopicOptions configures a TopicSink.
type TopicOptions struct {
	// OrderingKeys publishes each output with its key as the ordering key, so that subscribers
	// with message ordering see one key's outputs in order. Outputs of one key are then published
	// one after the other; different keys still go in parallel.
	OrderingKeys bool
	// CloudEvents publishes each output as a structured-mode CloudEvent (codec.AppendCloudEvent)
	// instead of the bare output JSON.
	CloudEvents bool
	// Source is the CloudEvents source (default "eddy").
	Source string
	// Parallel bounds the messages in flight (default 128).
	Parallel int
}

// TopicSink publishes outputs (runner.Sink) and dead letters (runner.FailureSink) to a Pub/Sub
// topic through gocloud.dev, under the wire contract of package core/sink. Emit returns once every
// message is accepted by Pub/Sub, so the Runner commits only what was published.
//
// Deprecated: Start and Open send outputs with sink.Open(EDDY_OUTPUT_URL)
// (gcppubsub://PROJECT/TOPIC), one registry for every transport.
type TopicSink struct {
	topic *pubsub.Topic
	opts  TopicOptions
	pub   *raw.Publisher // nil for topics of other gocloud drivers
}

// NewTopicSink wraps t. With OrderingKeys on a gcppubsubv2 topic it enables message ordering on
// the underlying publisher, which Pub/Sub requires before a message may carry an ordering key.
func NewTopicSink(t *pubsub.Topic, opts *TopicOptions) *TopicSink {
	s := &TopicSink{topic: t}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Source == "" {
		s.opts.Source = "eddy"
	}
	if s.opts.Parallel <= 0 {
		s.opts.Parallel = 128
	}
	var p *raw.Publisher
	if t.As(&p) {
		s.pub = p
		if s.opts.OrderingKeys {
			p.EnableMessageOrdering = true
		}
	}
	return s
}

// Emit implements runner.Sink: each output as the wire contract of package core/sink writes it
// (sink.Message: body and eddy_* attributes).
func (s *TopicSink) Emit(ctx context.Context, outs []core.Output) error {
	opts := &sink.Options{Source: s.opts.Source}
	if s.opts.CloudEvents {
		opts.Format = sink.CloudEvents
	}
	msgs := make([]*pubsub.Message, len(outs))
	keys := make([]string, len(outs))
	for i, o := range outs {
		m := sink.Message(o, opts)
		msgs[i] = &pubsub.Message{Body: m.Body, Metadata: clipAll(m.Metadata)}
		if s.opts.OrderingKeys {
			keys[i] = m.Key
		}
	}
	return s.send(ctx, msgs, keys)
}

// EmitFailures implements runner.FailureSink: each failed record as the wire contract's
// dead-letter envelope (sink.DeadLetter), whose data_base64 holds the original bytes.
func (s *TopicSink) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	msgs := make([]*pubsub.Message, len(fs))
	for i, f := range fs {
		m := sink.DeadLetter(f)
		msgs[i] = &pubsub.Message{Body: m.Body, Metadata: clipAll(m.Metadata)}
	}
	return s.send(ctx, msgs, make([]string, len(fs)))
}

func clipAll(md map[string]string) map[string]string {
	for k, v := range md {
		md[k] = clip(v)
	}
	return md
}

// send publishes msgs: those with an ordering key one after the other per key, the rest in
// parallel.
func (s *TopicSink) send(ctx context.Context, msgs []*pubsub.Message, keys []string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Parallel)
	var byKey map[string][]int
	for i, m := range msgs {
		if keys[i] == "" {
			g.Go(func() error { return s.sendOne(gctx, m, "") })
			continue
		}
		if byKey == nil {
			byKey = make(map[string][]int)
		}
		byKey[keys[i]] = append(byKey[keys[i]], i)
	}
	for key, idx := range byKey {
		g.Go(func() error {
			for _, i := range idx {
				if err := s.sendOne(gctx, msgs[i], key); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func (s *TopicSink) sendOne(ctx context.Context, m *pubsub.Message, orderingKey string) error {
	if orderingKey != "" {
		m.BeforeSend = func(as func(any) bool) error {
			var rm *raw.Message
			if as(&rm) {
				rm.OrderingKey = orderingKey
			}
			return nil
		}
	}
	if err := s.topic.Send(ctx, m); err != nil {
		if orderingKey != "" && s.pub != nil {
			// The publisher pauses a key after an error; resume it so the redelivered batch can
			// publish again.
			s.pub.ResumePublish(orderingKey)
		}
		return fmt.Errorf("publish %s %s: %w", m.Metadata[AttrType], m.Metadata[AttrID], err)
	}
	return nil
}

// clip cuts s to Pub/Sub's attribute value limit on a UTF-8 boundary.
func clip(s string) string {
	if len(s) <= maxAttrValue {
		return s
	}
	n := maxAttrValue - len("…")
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
