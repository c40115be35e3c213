package pubsubsink_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/eddyhq/eddy/adapters/gcp/pubsubsink"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
)

// rejecter refuses Publish requests that carry a message of a rejected ordering key, as Pub/Sub
// refuses a request it cannot take. With ordering on, the client sends one key per request.
type rejecter struct {
	mu   sync.Mutex
	keys []string
}

func (r *rejecter) React(req any) (bool, any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range req.(*pb.PublishRequest).Messages {
		if slices.Contains(r.keys, m.OrderingKey) {
			return true, nil, status.Error(codes.FailedPrecondition, "sinktest: rejected")
		}
	}
	return false, nil, nil
}

// server starts pstest with a topic and returns a client of it.
func server(t *testing.T, r *rejecter) (*pstest.Server, *pubsub.Client) {
	ctx := context.Background()
	srv := pstest.NewServer(pstest.ServerReactorOption{FuncName: "Publish", Reactor: r})
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := pubsub.NewClient(ctx, "p", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: "projects/p/topics/out"}); err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// read returns what the topic got, in publish order.
func read(srv *pstest.Server) func(ctx context.Context, n int) ([]sinktest.Received, error) {
	return func(ctx context.Context, n int) ([]sinktest.Received, error) {
		var c sinktest.Collector
		for _, m := range srv.Messages() {
			c.Add(sinktest.Received{Body: m.Data, ID: m.Attributes[sink.MetaID], Key: m.OrderingKey, Metadata: m.Attributes})
		}
		return c.Read(ctx, n)
	}
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Features:        sinktest.Features{Metadata: true, Key: true},
		StandInMaxBytes: 4 << 20,
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			r := &rejecter{}
			srv, c := server(t, r)
			return &sinktest.Destination{Sink: pubsubsink.New(c.Publisher("out"), true), Read: read(srv), Reject: func(keys ...string) {
				r.mu.Lock()
				r.keys = keys
				r.mu.Unlock()
			}}
		},
	})
}

// Without ordering, messages carry no ordering key and Pub/Sub promises no order: only what
// does not depend on order is checked.
func TestConformanceUnordered(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Features:        sinktest.Features{Metadata: true, Unordered: true},
		StandInMaxBytes: 4 << 20,
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			srv, c := server(t, &rejecter{})
			return &sinktest.Destination{Sink: pubsubsink.New(c.Publisher("out"), false), Read: read(srv)}
		},
	})
}

// Opened by URL against the emulator, and read by a subscriber with message ordering, as a
// consumer does: the attributes and the ordering key arrive.
func TestOpenURLAndSubscribe(t *testing.T) {
	ctx := context.Background()
	srv, c := server(t, &rejecter{})
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{Name: "projects/p/subscriptions/s",
		Topic: "projects/p/topics/out", EnableMessageOrdering: true}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	s, err := sink.Open(ctx, "gcppubsub://projects/p/topics/out?ordering=true")
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
	rctx, cancel := context.WithCancel(ctx)
	var got *pubsub.Message
	err = c.Subscriber("s").Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		got = m
		cancel()
	})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.OrderingKey != "m-7" || got.Attributes[sink.MetaID] != "d-1" || got.Attributes[sink.MetaType] != "decision" {
		t.Fatalf("received %+v", got)
	}
	for _, u := range []string{"gcppubsub://p/t", "gcppubsub://projects/p/topics/t?ordering=maybe", "gcppubsub://projects/p/topics/t?x=1"} {
		if _, err := sink.Open(ctx, u); err == nil {
			t.Errorf("%s opened", u)
		}
	}
}

// An attribute over Pub/Sub's 1,024 bytes (a long dead-letter reason) is cut at a UTF-8 boundary
// with "…"; the body keeps it whole.
func TestLongAttribute(t *testing.T) {
	ctx := context.Background()
	srv, c := server(t, &rejecter{})
	s := sink.New(pubsubsink.New(c.Publisher("out"), false), nil)
	reason := strings.Repeat("é", 600) // 1,200 bytes
	f := &core.Failure{Record: core.Record{ID: "r", Offset: "1", Data: []byte("x")}, Reason: reason}
	if err := s.EmitFailures(ctx, []*core.Failure{f}); err != nil {
		t.Fatal(err)
	}
	got, err := read(srv)(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := got[0].Metadata[sink.MetaReason]
	if len(a) > pubsubsink.MaxAttrValue || !utf8.ValidString(a) || !strings.HasSuffix(a, "…") || !strings.HasPrefix(reason, strings.TrimSuffix(a, "…")) {
		t.Fatalf("attribute of %d bytes: %q", len(a), a)
	}
	if !strings.Contains(string(got[0].Body), reason) {
		t.Fatal("the body lost the reason")
	}
}
