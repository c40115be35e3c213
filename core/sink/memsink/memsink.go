// Package memsink is an in-memory sink driver for tests and for `eddy dev`: mem://NAME opens the
// topic NAME of the process; every sink opened with one name shares its messages.
package memsink

import (
	"context"
	"net/url"
	"sync"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Scheme is the URL scheme memsink registers with the default mux.
const Scheme = "mem"

func init() {
	sink.DefaultURLMux().Register(Scheme, sink.URLOpenerFunc(func(_ context.Context, u *url.URL) (driver.Sink, error) {
		return Named(u.Host + u.Path), nil
	}))
}

// Topic keeps the messages sent to it, in order. It is a driver.Sink.
type Topic struct {
	mu   sync.Mutex
	msgs []*driver.Message
	// Lim is reported by Limits; zero means none.
	Lim driver.Limits
}

// Send implements driver.Sink; it copies the messages.
func (t *Topic) Send(_ context.Context, msgs []*driver.Message) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range msgs {
		c := *m
		c.Body = append([]byte(nil), m.Body...)
		c.Metadata = make(map[string]string, len(m.Metadata))
		for k, v := range m.Metadata {
			c.Metadata[k] = v
		}
		t.msgs = append(t.msgs, &c)
	}
	return nil
}

// Limits implements driver.Sink.
func (t *Topic) Limits() driver.Limits { return t.Lim }

// Close implements driver.Sink.
func (t *Topic) Close(context.Context) error { return nil }

// Messages returns what was sent so far.
func (t *Topic) Messages() []*driver.Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*driver.Message(nil), t.msgs...)
}

var (
	topicsMu sync.Mutex
	topics   = map[string]*Topic{}
)

// Named returns the process's topic of that name, creating it on first use.
func Named(name string) *Topic {
	topicsMu.Lock()
	defer topicsMu.Unlock()
	t := topics[name]
	if t == nil {
		t = &Topic{}
		topics[name] = t
	}
	return t
}
