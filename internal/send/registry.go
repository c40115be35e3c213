package send

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Events to a function's input stream are not outputs: they carry no eddy metadata, and the
// publishers above report per record what was sent, failed and retried. For the other transports
// (RabbitMQ, SNS/SQS, webhooks, files, logs) send goes through the output registry: each event is a
// message with its ID, key and data and no metadata, sent by the portable sink's Send.

// registered tells whether the sink registry opens scheme. Plain http stays eddy dev's ingest.
func registered(scheme string) bool {
	return scheme != "http" && slices.Contains(sink.DefaultURLMux().Schemes(), scheme)
}

// registryPublisher publishes through a sink opened from the registry.
type registryPublisher struct {
	s     *sink.Sink
	calls *countingDriver
}

func openRegistry(ctx context.Context, rawURL string, o Options) (Publisher, error) {
	s, err := sink.Open(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("send to %q: %w", redact(rawURL), err)
	}
	c := &countingDriver{Sink: s.Driver()}
	opts := &sink.Options{MaxAttempts: o.MaxAttempts, Backoff: o.Backoff}
	return &registryPublisher{s: sink.New(c, opts), calls: c}, nil
}

// countingDriver counts the messages handed to the driver, to tell resends.
type countingDriver struct {
	driver.Sink
	n atomic.Int64
}

func (c *countingDriver) Send(ctx context.Context, msgs []*driver.Message) error {
	c.n.Add(int64(len(msgs)))
	return c.Sink.Send(ctx, msgs)
}

// Publish implements Publisher.
func (p *registryPublisher) Publish(ctx context.Context, msgs []Message) (Stats, error) {
	dm := make([]*driver.Message, len(msgs))
	for i, m := range msgs {
		dm[i] = &driver.Message{ID: m.ID, Key: m.Key, Body: m.Data}
	}
	before := p.calls.n.Load()
	err := p.s.Send(ctx, dm)
	st := Stats{Retried: max(int(p.calls.n.Load()-before)-len(msgs), 0)}
	if err != nil {
		// The portable sink does not say which were delivered before it gave up: count none.
		st.Failed = len(msgs)
		return st, fmt.Errorf("%s: %w", ids(msgs), err)
	}
	st.Sent = len(msgs)
	return st, nil
}

// Close implements Publisher.
func (p *registryPublisher) Close(ctx context.Context) error { return p.s.Close(ctx) }

func redact(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	return rawURL
}

func schemeOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return strings.ToLower(u.Scheme)
	}
	return ""
}
