package sinktest_test

import (
	"context"
	"testing"

	"github.com/eddyhq/eddy/core/sink/memsink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
)

// A driver's test runs the suite with a harness that opens a fresh destination on the transport's
// stand-in and reads back what arrived, as a consumer would.
func ExampleRun() {
	var t *testing.T // the driver's test function's
	sinktest.Run(t, sinktest.Harness{
		Features: sinktest.Features{Metadata: true, MessageID: true, Key: true},
		Open: func(ctx context.Context, t *testing.T) *sinktest.Destination {
			topic := memsink.Named(t.Name())
			return &sinktest.Destination{Sink: topic, Read: func(ctx context.Context, n int) ([]sinktest.Received, error) {
				var c sinktest.Collector
				for _, m := range topic.Messages() {
					c.Add(sinktest.Received{Body: m.Body, ID: m.ID, Key: m.Key, Metadata: m.Metadata})
				}
				return c.Read(ctx, n)
			}}
		},
	})
}
