package sinktest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/sink/memsink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
)

var topics atomic.Int64

// memsink is the reference driver: it carries everything, and rejects through its Reject hook.
func TestMemsink(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Features: sinktest.Features{Metadata: true, MessageID: true, Key: true, ContentType: true},
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			topic := memsink.Named(fmt.Sprintf("sinktest-%d", topics.Add(1)))
			topic.Lim = driver.Limits{MaxMessageBytes: 64 << 10, MaxBatchMessages: 10}
			var mu sync.Mutex
			var reject []string
			topic.Reject = func(m *driver.Message) error {
				mu.Lock()
				defer mu.Unlock()
				if slices.Contains(reject, m.Key) {
					return errors.New("throttled")
				}
				return nil
			}
			return &sinktest.Destination{
				Sink: topic,
				Read: func(ctx context.Context, n int) ([]sinktest.Received, error) {
					var c sinktest.Collector
					for _, m := range topic.Messages() {
						c.Add(sinktest.Received{Body: m.Body, ID: m.ID, Key: m.Key, ContentType: m.ContentType, Metadata: m.Metadata})
					}
					return c.Read(ctx, n)
				},
				Reject: func(keys ...string) {
					mu.Lock()
					reject = keys
					mu.Unlock()
				},
			}
		},
	})
}

// The same driver seen through a consumer that gets bodies only, and without a Reject hook: the
// suite's own rejecting wrapper and the bodies' ids carry the checks.
func TestBodiesOnly(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			topic := memsink.Named(fmt.Sprintf("sinktest-%d", topics.Add(1)))
			return &sinktest.Destination{
				Sink: topic,
				Read: func(ctx context.Context, n int) ([]sinktest.Received, error) {
					var c sinktest.Collector
					for _, m := range topic.Messages() {
						c.Add(sinktest.Received{Body: m.Body})
					}
					return c.Read(ctx, n)
				},
			}
		},
	})
}
