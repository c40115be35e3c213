package gcp_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"time"

	"gocloud.dev/pubsub"
	_ "gocloud.dev/pubsub/gcppubsubv2" // gcppubsubv2:// topics and subscriptions

	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/examples/bench"
)

// open builds the function from its environment: state in a GCS bucket (import
// core/state/blobstate and gocloud.dev/blob/gcsblob for gs://), decisions and dead letters on
// Pub/Sub topics (the short gcppubsubv2://project/topic form).
func open(ctx context.Context) (*gcp.Function, error) {
	store, err := state.Open(ctx, os.Getenv("EDDY_STATE")) // gs://my-bucket?prefix=eddy/
	if err != nil {
		return nil, err
	}
	out, err := pubsub.OpenTopic(ctx, "gcppubsubv2://my-project/decisions")
	if err != nil {
		return nil, err
	}
	dlq, err := pubsub.OpenTopic(ctx, "gcppubsubv2://my-project/eddy-dead-letter")
	if err != nil {
		return nil, err
	}
	dead := gcp.NewTopicSink(dlq, nil)
	r, err := runner.New(runner.Config{
		Function:   "w1",
		Store:      store,
		New:        func(string) (runner.Processor, error) { return bench.Build(bench.W1) },
		Sink:       gcp.NewTopicSink(out, &gcp.TopicOptions{OrderingKeys: true}),
		DeadLetter: dead,
	})
	if err != nil {
		return nil, err
	}
	byKey, err := gcp.ByEventKey(bench.Input)
	if err != nil {
		return nil, err
	}
	return gcp.New(gcp.Config{Runner: r, DeadLetter: dead, Partition: gcp.FirstOf(gcp.ByOrderingKey, byKey)})
}

// A Cloud Run function: in the deployed module's root package (not main), register the function
// in init; deploy with --entry-point OnMessage and a Pub/Sub trigger with retries enabled.
//
//	package function
//
//	func init() { gcp.Register("OnMessage", open) }
func ExampleRegister() {
	gcp.Register("OnMessage", open)
}

// Pull mode, in a Cloud Run service or any container: batches per partition, acknowledged after
// the state commit.
func ExampleFunction_Pull() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	f, err := open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	sub, err := pubsub.OpenSubscription(ctx, "gcppubsubv2://my-project/telemetry-eddy")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Shutdown(context.Background())
	stats, err := f.Pull(ctx, sub, gcp.PullOptions{MaxBatch: 1000})
	log.Printf("pulled %d messages: %v", stats.Messages, err)
}

// A scheduled tick closes the windows of ordering keys that went quiet: call it from a Cloud
// Scheduler job (an HTTP function of the same module, say) every minute.
func ExampleFunction_Tick() {
	ctx := context.Background()
	f, err := open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	res, err := f.Tick(ctx, time.Now())
	log.Printf("tick: %d outputs: %v", len(res.Outputs), err)
}
