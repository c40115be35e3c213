package gcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	raw "cloud.google.com/go/pubsub/v2"
	"gocloud.dev/pubsub"
	"golang.org/x/sync/errgroup"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
)

// Attributes TopicSink sets on the messages it publishes.
const (
	// AttrType is the output's type: "window", "decision", "late" (or "failure" on dead letters).
	AttrType = "eddy_type"
	// AttrID is the output's deterministic id (the decision id, else a hash of the output's JSON):
	// a re-emitted output carries the same one, so consumers drop duplicates by it.
	AttrID = "eddy_id"
	// AttrKey is the output's key.
	AttrKey = "eddy_key"
	// AttrReason, AttrField and AttrMessageID describe a dead letter: why it failed, the field at
	// fault and the original message id. AttrOrderingKey and AttrPublishTime keep the original's.
	AttrReason      = "eddy_reason"
	AttrField       = "eddy_field"
	AttrMessageID   = "eddy_message_id"
	AttrOrderingKey = "eddy_ordering_key"
	AttrPublishTime = "eddy_publish_time"
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
// topic through gocloud.dev. Emit returns once every message is accepted by Pub/Sub, so the
// Runner commits only what was published.
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

// Emit implements runner.Sink.
func (s *TopicSink) Emit(ctx context.Context, outs []core.Output) error {
	msgs := make([]*pubsub.Message, len(outs))
	keys := make([]string, len(outs))
	for i, o := range outs {
		data := o.AppendJSON(nil)
		id, key := outputID(o, data), outputKey(o)
		body := data
		if s.opts.CloudEvents {
			body = codec.AppendCloudEvent(nil, o, s.opts.Source)
		}
		md := map[string]string{AttrType: o.Type(), AttrID: id}
		if key != "" {
			md[AttrKey] = clip(key)
		}
		msgs[i] = &pubsub.Message{Body: body, Metadata: md}
		if s.opts.OrderingKeys {
			keys[i] = key
		}
	}
	return s.send(ctx, msgs, keys)
}

// EmitFailures implements runner.FailureSink: each failed record is published as it arrived (its
// data and attributes), with attributes saying why, so that it can be inspected and replayed.
func (s *TopicSink) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	msgs := make([]*pubsub.Message, len(fs))
	for i, f := range fs {
		md := make(map[string]string, len(f.Record.Attrs)+6)
		for k, v := range f.Record.Attrs {
			md[k] = v
		}
		md[AttrType] = "failure"
		md[AttrReason] = clip(f.Reason)
		if f.Field != "" {
			md[AttrField] = clip(f.Field)
		}
		if f.Record.ID != "" {
			md[AttrMessageID] = clip(f.Record.ID)
		}
		if f.Record.Key != "" {
			md[AttrOrderingKey] = clip(f.Record.Key)
		}
		if !f.Record.Time.IsZero() {
			md[AttrPublishTime] = f.Record.Time.UTC().Format(core.TimeLayout)
		}
		body := f.Record.Data
		if len(body) == 0 {
			// Pub/Sub refuses a message with neither data nor attributes; this one has attributes,
			// but keep a body anyway so that every consumer sees a payload.
			body = []byte{}
		}
		msgs[i] = &pubsub.Message{Body: body, Metadata: md}
	}
	return s.send(ctx, msgs, make([]string, len(fs)))
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
		id := m.Metadata[AttrID]
		if id == "" {
			id = m.Metadata[AttrMessageID]
		}
		return fmt.Errorf("publish %s %s: %w", m.Metadata[AttrType], id, err)
	}
	return nil
}

// outputID is the output's deterministic id.
func outputID(o core.Output, data []byte) string {
	if d, ok := o.(*core.Decision); ok && d.ID != "" {
		return d.ID
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

func outputKey(o core.Output) string {
	switch v := o.(type) {
	case *core.Decision:
		return v.Key
	case *core.WindowResult:
		return v.Key
	case *core.Late:
		return v.Key
	}
	return ""
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
