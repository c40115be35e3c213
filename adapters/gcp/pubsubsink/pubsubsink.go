// Package pubsubsink publishes outputs to a Google Cloud Pub/Sub topic and registers the scheme
// "gcppubsub" with sink.DefaultURLMux:
//
//	gcppubsub://projects/PROJECT/topics/TOPIC[?ordering=true]
//
// Credentials are the application default ones, or none with PUBSUB_EMULATOR_HOST (the emulator,
// pstest).
//
// Each message is one Pub/Sub message: data = the body, attributes = the contract's metadata (a
// value over Pub/Sub's 1,024 bytes is cut at a UTF-8 boundary and ends in "…"; the body has it
// whole). With ordering=true the message's key is its ordering key and the publisher has message
// ordering enabled, so a subscription with message ordering gets one key's outputs in order;
// without it Pub/Sub does not order messages. Each message is accepted or rejected on its own: the
// rejected ones come back in a *driver.PartialError, and with ordering the publisher also rejects
// the later messages of a rejected key (and is resumed for the resend), so a key's order holds.
package pubsubsink

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"

	"cloud.google.com/go/pubsub/v2"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Scheme is the URL scheme pubsubsink registers.
const Scheme = "gcppubsub"

// Pub/Sub limits.
const (
	// MaxMessageBytes is the largest message (data, attributes and ordering key).
	MaxMessageBytes = 10_000_000
	// MaxAttrValue is the longest attribute value, in bytes.
	MaxAttrValue = 1024
	// MaxBatch is the most messages one Send waits for; the client batches them into requests.
	MaxBatch = 1000
)

func init() {
	sink.DefaultURLMux().Register(Scheme, sink.URLOpenerFunc(func(ctx context.Context, u *url.URL) (driver.Sink, error) {
		return OpenURL(ctx, u)
	}))
}

var topicPathRE = regexp.MustCompile(`^projects/([^/]+)/topics/([^/]+)$`)

// OpenURL opens gcppubsub://projects/P/topics/T?ordering=true.
func OpenURL(ctx context.Context, u *url.URL) (*Sink, error) {
	m := topicPathRE.FindStringSubmatch(u.Host + u.Path)
	if m == nil {
		return nil, fmt.Errorf("gcppubsub: %s: want gcppubsub://projects/PROJECT/topics/TOPIC", u.Redacted())
	}
	ordering := false
	for k, v := range u.Query() {
		switch k {
		case "ordering":
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return nil, fmt.Errorf("gcppubsub: %s: ordering=%q: want true or false", u.Redacted(), v[0])
			}
			ordering = b
		default:
			return nil, fmt.Errorf("gcppubsub: %s: unknown parameter %q (want ordering)", u.Redacted(), k)
		}
	}
	// The client connects to PUBSUB_EMULATOR_HOST, without credentials, when it is set.
	client, err := pubsub.NewClient(ctx, m[1])
	if err != nil {
		return nil, fmt.Errorf("gcppubsub: %s: %w", u.Redacted(), err)
	}
	s := New(client.Publisher(m[2]), ordering)
	s.client = client
	return s, nil
}

// Sink publishes to one topic. It is a driver.Sink.
type Sink struct {
	pub      *pubsub.Publisher
	ordering bool
	client   *pubsub.Client // closed by Close when the sink made it
}

// New publishes through pub; with ordering, messages carry their key as ordering key and pub gets
// message ordering enabled. Close stops pub.
func New(pub *pubsub.Publisher, ordering bool) *Sink {
	if ordering {
		pub.EnableMessageOrdering = true
	}
	return &Sink{pub: pub, ordering: ordering}
}

// Limits implements driver.Sink.
func (s *Sink) Limits() driver.Limits {
	return driver.Limits{MaxMessageBytes: MaxMessageBytes, MaxBatchMessages: MaxBatch}
}

// Close implements driver.Sink: it publishes what is buffered and stops the publisher.
func (s *Sink) Close(context.Context) error {
	s.pub.Stop()
	if s.client != nil {
		return s.client.Close()
	}
	return nil
}

// Send implements driver.Sink.
func (s *Sink) Send(ctx context.Context, msgs []*driver.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	results := make([]*pubsub.PublishResult, len(msgs))
	for i, m := range msgs {
		pm := &pubsub.Message{Data: m.Body, Attributes: make(map[string]string, len(m.Metadata))}
		for k, v := range m.Metadata {
			pm.Attributes[k] = clip(v)
		}
		if s.ordering {
			pm.OrderingKey = m.Key
		}
		results[i] = s.pub.Publish(ctx, pm)
	}
	var pe *driver.PartialError
	resumed := map[string]bool{}
	for i, r := range results {
		_, err := r.Get(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("gcppubsub: publish %d messages (first %s): %w", len(msgs), msgs[0].ID, ctx.Err())
		}
		if pe == nil {
			pe = &driver.PartialError{Err: fmt.Errorf("gcppubsub: publish %s: %w", msgs[i].ID, err)}
		}
		pe.Failed = append(pe.Failed, i)
		if k := msgs[i].Key; s.ordering && k != "" && !resumed[k] {
			// The publisher pauses a key after an error, refusing its later messages; resume it
			// for the resend.
			resumed[k] = true
			defer s.pub.ResumePublish(k)
		}
	}
	if pe != nil {
		return pe
	}
	return nil
}

// clip cuts s to Pub/Sub's attribute value limit on a UTF-8 boundary.
func clip(s string) string {
	if len(s) <= MaxAttrValue {
		return s
	}
	n := MaxAttrValue - len("…")
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
