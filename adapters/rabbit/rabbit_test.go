//go:build unix

package rabbit_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddyhq/eddy/adapters/rabbit"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
	"github.com/eddyhq/eddy/internal/standin"
)

var names atomic.Int64

// exchange declares a fanout exchange with a queue bound to it and consumes the queue, as a
// consumer does, until the test ends.
func exchange(t *testing.T, server string) (string, *sinktest.Collector) {
	conn, err := amqp.Dial(server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("outputs-%d", names.Add(1))
	if err := ch.ExchangeDeclare(name, "fanout", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "", name, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &sinktest.Collector{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range deliveries {
			md := map[string]string{}
			for k, v := range d.Headers {
				md[k] = fmt.Sprint(v)
			}
			if d.DeliveryMode != amqp.Persistent {
				t.Errorf("message %s: delivery mode %d", d.MessageId, d.DeliveryMode)
			}
			c.Add(sinktest.Received{Body: d.Body, ID: d.MessageId, Key: d.RoutingKey, ContentType: d.ContentType, Metadata: md})
		}
	}()
	t.Cleanup(func() { ch.Close(); <-done })
	return name, c
}

func TestConformance(t *testing.T) {
	server := standin.RabbitMQ(t)
	sinktest.Run(t, sinktest.Harness{
		Features: sinktest.Features{Metadata: true, MessageID: true, Key: true, ContentType: true},
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			name, c := exchange(t, server)
			conn, err := amqp.Dial(server)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			return &sinktest.Destination{Sink: rabbit.New(conn, name), Read: c.Read}
		},
	})
	t.Run("OpenURL", func(t *testing.T) {
		ctx := context.Background()
		name, c := exchange(t, server)
		t.Setenv(rabbit.EnvServerURL, server)
		s, err := sink.Open(ctx, "rabbit://"+name)
		if err != nil {
			t.Fatal(err)
		}
		d := &core.Decision{ID: "d-1", Function: "f", Rule: "hot", Key: "m-7", State: "firing"}
		if err := s.Emit(ctx, []core.Output{d}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := c.Read(ctx, 1)
		if err != nil || got[0].ID != "d-1" || got[0].Key != "m-7" || got[0].Metadata[sink.MetaType] != "decision" {
			t.Fatalf("got %+v, %v", got, err)
		}
		// A missing exchange is an error of the send, not a silent drop.
		s, err = sink.Open(ctx, "rabbit://no-such-exchange?max_attempts=1")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		if err := s.Emit(ctx, []core.Output{d}); err == nil {
			t.Fatal("sent to a missing exchange")
		}
		t.Setenv(rabbit.EnvServerURL, "")
		if _, err := sink.Open(ctx, "rabbit://x"); err == nil {
			t.Fatal("opened without a server")
		}
	})
}
