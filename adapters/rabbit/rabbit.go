// Package rabbit sends outputs to a RabbitMQ exchange through gocloud.dev/pubsub/rabbitpubsub, and
// registers the scheme "rabbit" with sink.DefaultURLMux:
//
//	rabbit://EXCHANGE
//
// The server comes from the environment variable RABBIT_SERVER_URL
// ("amqp://user:password@host:5672/vhost"), as in gocloud.dev. The exchange must exist: declare it
// (fanout to copy every output to each bound queue; direct or topic to route by key) with its
// queues and bindings as your deployment does.
//
// Each message is one AMQP message: the body, content type application/json (or
// application/cloudevents+json), persistent delivery,
// message-id = eddy_id, headers = the contract's metadata, and routing key = the message's key. The
// server confirms each message (publisher confirms); one key's messages are published one after
// the other, different keys in parallel, so a queue gets one key's outputs in order. When one is
// not confirmed, the later messages of its key are not sent, and all of them come back in a
// *driver.PartialError.
package rabbit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/rabbitpubsub"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Scheme is the URL scheme the package registers.
const Scheme = "rabbit"

// EnvServerURL names the server, as in gocloud.dev/pubsub/rabbitpubsub.
const EnvServerURL = "RABBIT_SERVER_URL"

// routingKey is the metadata entry rabbitpubsub takes the routing key from (and leaves out of the
// headers); it exists only on the way to the client.
const routingKey = "eddy.routing_key"

func init() {
	sink.DefaultURLMux().Register(Scheme, sink.URLOpenerFunc(func(ctx context.Context, u *url.URL) (driver.Sink, error) {
		return OpenURL(ctx, u)
	}))
}

// OpenURL opens rabbit://EXCHANGE on the server RABBIT_SERVER_URL names.
func OpenURL(_ context.Context, u *url.URL) (*Sink, error) {
	exchange := path.Join(u.Host, u.Path)
	if exchange == "" || exchange == "/" {
		return nil, fmt.Errorf("rabbit: %s: want rabbit://EXCHANGE", u.Redacted())
	}
	if len(u.Query()) > 0 {
		return nil, fmt.Errorf("rabbit: %s: no parameters are known (got %q)", u.Redacted(), u.RawQuery)
	}
	server := os.Getenv(EnvServerURL)
	if server == "" {
		return nil, fmt.Errorf("rabbit: %s: set %s to the server's URL (amqp://user:password@host:5672/)", u.Redacted(), EnvServerURL)
	}
	conn, err := amqp.Dial(server)
	if err != nil {
		su, _ := url.Parse(server)
		name := "(unparsable)"
		if su != nil {
			name = su.Redacted()
		}
		return nil, fmt.Errorf("rabbit: %s: dial %s %s: %w", u.Redacted(), EnvServerURL, name, err)
	}
	s := New(conn, exchange)
	s.conn = conn
	return s, nil
}

// Sink publishes to one exchange. It is a driver.Sink.
type Sink struct {
	topic *pubsub.Topic
	conn  *amqp.Connection // closed by Close when the sink dialled it
	// Concurrency bounds the keys published in parallel (default 64).
	Concurrency int
}

// New publishes to exchange over conn; Close leaves conn open.
func New(conn *amqp.Connection, exchange string) *Sink {
	return &Sink{topic: rabbitpubsub.OpenTopic(conn, exchange, &rabbitpubsub.TopicOptions{KeyName: routingKey}), Concurrency: 64}
}

// MaxMessageBytes is the largest message the sink sends: RabbitMQ 4's default max_message_size
// (3.x allowed 128 MiB), far beyond eddy's outputs.
const MaxMessageBytes = 16 << 20

// Limits implements driver.Sink.
func (s *Sink) Limits() driver.Limits {
	return driver.Limits{MaxMessageBytes: MaxMessageBytes, MaxBatchMessages: 1000}
}

// Close implements driver.Sink.
func (s *Sink) Close(ctx context.Context) error {
	err := s.topic.Shutdown(ctx)
	if s.conn != nil {
		err = errors.Join(err, s.conn.Close())
	}
	return err
}

// Send implements driver.Sink.
func (s *Sink) Send(ctx context.Context, msgs []*driver.Message) error {
	return driver.SendPerKey(ctx, msgs, s.Concurrency, func(ctx context.Context, m *driver.Message) error {
		md := make(map[string]string, len(m.Metadata)+1)
		for k, v := range m.Metadata {
			md[k] = v
		}
		md[routingKey] = m.Key
		id, ct := m.ID, m.ContentType
		if ct == "" {
			ct = sink.ContentTypeJSON
		}
		return s.topic.Send(ctx, &pubsub.Message{Body: m.Body, Metadata: md, BeforeSend: func(as func(any) bool) error {
			var p *amqp.Publishing
			if !as(&p) {
				return errors.New("rabbit: the message is not an AMQP publishing")
			}
			p.MessageId, p.ContentType, p.DeliveryMode = id, ct, amqp.Persistent
			return nil
		}})
	})
}
