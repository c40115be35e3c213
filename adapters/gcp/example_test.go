package gcp_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"time"

	"gocloud.dev/pubsub"
	_ "gocloud.dev/pubsub/gcppubsubv2" // gcppubsubv2:// subscriptions

	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/examples/bench"
)

// open builds the function from its environment: state in a GCS bucket (import
// core/state/blobstate and gocloud.dev/blob/gcsblob for gs://), decisions and dead letters on
// Pub/Sub topics (the gcppubsub:// sink, which importing adapters/gcp registers).
func open(ctx context.Context) (*gcp.Function, error) {
	store, err := state.Open(ctx, os.Getenv("EDDY_STATE")) // gs://my-bucket?prefix=eddy/
	if err != nil {
		return nil, err
	}
	out, err := sink.Open(ctx, "gcppubsub://projects/my-project/topics/decisions?ordering=true")
	if err != nil {
		return nil, err
	}
	dead, err := sink.Open(ctx, "gcppubsub://projects/my-project/topics/eddy-dead-letter")
	if err != nil {
		return nil, err
	}
	r, err := runner.New(runner.Config{
		Function:   "w1",
		Store:      store,
		New:        func(string) (runner.Processor, error) { return bench.Build(bench.W1) },
		Sink:       out,
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

// The tick entry point beside the Pub/Sub one, sharing one Function where one process serves both
// (locally, FUNCTION_TARGET unset: POST /Tick). Deploy it from the same source as a second function
// (--entry-point Tick --trigger-http --no-allow-unauthenticated) and have a Cloud Scheduler job
// POST to it every minute with an OIDC token of a service account that may only invoke it.
//
//	package function
//
//	func init() {
//		open := gcp.OpenOnce(open)
//		gcp.Register("OnMessage", open)
//		gcp.RegisterTick("Tick", open)
//	}
func ExampleRegisterTick() {
	shared := gcp.OpenOnce(open)
	gcp.Register("OnMessage", shared)
	gcp.RegisterTick("Tick", shared)
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

// A scheduled tick closes the windows of ordering keys that went quiet: RegisterTick's entry point
// calls it for Cloud Scheduler; a pulling service can call it on a ticker of its own.
func ExampleFunction_Tick() {
	ctx := context.Background()
	f, err := open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	res, err := f.Tick(ctx, time.Now())
	log.Printf("tick: %d outputs: %v", len(res.Outputs), err)
}
