//go:build unix

package eventhubsink_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/eddyhq/eddy/adapters/azure/eventhubsink"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
	"github.com/eddyhq/eddy/internal/ehfake"
)

const hubs = 12

// read receives every event of every partition of hub, from the earliest, until the test ends.
func read(t *testing.T, conn, hub string) *sinktest.Collector {
	ctx := context.Background()
	cc, err := azeventhubs.NewConsumerClientFromConnectionString(conn, hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	props, err := cc.GetEventHubProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &sinktest.Collector{}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = cc.Close(context.Background())
	})
	for _, id := range props.PartitionIDs {
		pc, err := cc.NewPartitionClient(id, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to(true)}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer pc.Close(context.Background())
			for rctx.Err() == nil {
				wctx, wcancel := context.WithTimeout(rctx, 200*time.Millisecond)
				evs, err := pc.ReceiveEvents(wctx, 100, nil)
				wcancel()
				for _, e := range evs {
					md := map[string]string{}
					for k, v := range e.Properties {
						md[k] = fmt.Sprint(v)
					}
					c.Add(sinktest.Received{Body: e.Body, ID: deref(e.MessageID), Key: deref(e.PartitionKey), ContentType: deref(e.ContentType), Metadata: md})
				}
				if err != nil && !errors.Is(err, context.DeadlineExceeded) && rctx.Err() == nil {
					t.Errorf("partition %s: %v", id, err)
					return
				}
			}
		})
	}
	return c
}

func to[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rejecting refuses to send the batches of some partition keys, as the service does when it
// throttles: the fake cannot be made to.
type rejecting struct {
	*azeventhubs.ProducerClient
	mu      sync.Mutex
	keys    []string
	batches map[*azeventhubs.EventDataBatch]string
}

func (r *rejecting) NewEventDataBatch(ctx context.Context, opts *azeventhubs.EventDataBatchOptions) (*azeventhubs.EventDataBatch, error) {
	b, err := r.ProducerClient.NewEventDataBatch(ctx, opts)
	if err == nil && opts != nil && opts.PartitionKey != nil {
		r.mu.Lock()
		r.batches[b] = *opts.PartitionKey
		r.mu.Unlock()
	}
	return b, err
}

func (r *rejecting) SendEventDataBatch(ctx context.Context, b *azeventhubs.EventDataBatch, opts *azeventhubs.SendEventDataBatchOptions) error {
	r.mu.Lock()
	key, ok := r.batches[b]
	reject := ok && slices.Contains(r.keys, key)
	r.mu.Unlock()
	if reject {
		return errors.New("sinktest: the service is busy (ServerBusy)")
	}
	return r.ProducerClient.SendEventDataBatch(ctx, b, opts)
}

func TestConformance(t *testing.T) {
	names := make([]string, hubs)
	for i := range names {
		names[i] = fmt.Sprintf("out%d:2", i)
	}
	conn := ehfake.Start(t, strings.Join(names, ","))
	var next atomic.Int64
	sinktest.Run(t, sinktest.Harness{
		Features: sinktest.Features{Metadata: true, MessageID: true, Key: true, ContentType: true},
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			hub := fmt.Sprintf("out%d", next.Add(1)-1)
			prod, err := azeventhubs.NewProducerClientFromConnectionString(conn, hub, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := &rejecting{ProducerClient: prod, batches: map[*azeventhubs.EventDataBatch]string{}}
			return &sinktest.Destination{Sink: eventhubsink.New(r, hub), Read: read(t, conn, hub).Read, Reject: func(keys ...string) {
				r.mu.Lock()
				r.keys = keys
				r.mu.Unlock()
			}}
		},
	})
}

// Opened by URL with the connection string in the environment, as a deployed function does.
func TestOpenURL(t *testing.T) {
	conn := ehfake.Start(t, "out:2")
	t.Setenv(eventhubsink.EnvConnectionString, conn)
	ctx := context.Background()
	ns := strings.TrimPrefix(strings.Split(conn, ";")[0], "Endpoint=sb://")
	s, err := sink.Open(ctx, "eventhubs://"+ns+"/out")
	if err != nil {
		t.Fatal(err)
	}
	c := read(t, conn, "out")
	d := &core.Decision{ID: "d-1", Function: "f", Rule: "hot", Key: "m-7", State: "firing"}
	if err := s.Emit(ctx, []core.Output{d}); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	got, err := c.Read(ctx, 1)
	if err != nil || got[0].ID != "d-1" || got[0].Key != "m-7" || got[0].Metadata[sink.MetaType] != "decision" {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, u := range []string{"eventhubs://other/out", "eventhubs://" + ns + "/", "eventhubs://" + ns + "/out?max_bytes=0", "eventhubs://" + ns + "/out?x=1"} {
		if _, err := sink.Open(ctx, u); err == nil {
			t.Errorf("%s opened", u)
		}
	}
}
