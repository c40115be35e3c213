// Command w1handler is an Azure Functions custom handler running the standard workload W1
// (tumbling 60 s count/sum/avg/min/max per key) from an Event Hubs trigger. The tests start it
// the way the Functions host does; generated apps look the same with their own function.
//
// Environment: FUNCTIONS_CUSTOMHANDLER_PORT (from the host), EDDY_STATE_URL (for example
// azblob://eddy-state), EDDY_DEADLETTER_URL (a gocloud.dev bucket URL, for example
// azblob://eddy-deadletter?prefix=w1/), and the AZURE_STORAGE_* settings gocloud.dev reads.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	_ "github.com/eddyhq/eddy/core/state/blobstate/azurestate"
	_ "github.com/eddyhq/eddy/core/state/filestate"
	_ "github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/examples/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "w1handler:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, err := state.Open(ctx, os.Getenv("EDDY_STATE_URL"))
	if err != nil {
		return err
	}
	bucket, err := blob.OpenBucket(ctx, os.Getenv("EDDY_DEADLETTER_URL"))
	if err != nil {
		return fmt.Errorf("dead-letter bucket: %w", err)
	}
	defer bucket.Close()
	dlq := &azure.BlobDeadLetter{Bucket: bucket}
	r, err := runner.New(runner.Config{
		Function:   "w1",
		Store:      store,
		New:        func(string) (runner.Processor, error) { return bench.Build(bench.W1) },
		DeadLetter: dlq,
	})
	if err != nil {
		return err
	}
	h, err := azure.NewHandler(azure.HandlerConfig{
		Runner:            r,
		OutputBinding:     "outputs",
		DeadLetterBinding: "deadletter",
		DeadLetter:        dlq,
		Logger:            slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
	if err != nil {
		return err
	}
	return azure.Serve(ctx, h)
}
