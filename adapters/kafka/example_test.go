package kafka_test

import (
	"context"
	"fmt"
	"log"
	"os/signal"
	"syscall"

	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
)

func ExampleParseSourceURL() {
	src, err := kafka.ParseSourceURL("kafka://b1:9092,b2:9092/telemetry?group=press&session_timeout=10s")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(src.Brokers, src.Topic, src.Group, src.SessionTimeout)
	// Output: [b1:9092 b2:9092] telemetry press 10s
}

func ExamplePartition() {
	fmt.Println(kafka.Partition("telemetry", 3))
	// Output: telemetry-3
}

// A worker's main: the function's spec, its configuration from EDDY_* variables (as Start reads
// them), and Run until SIGTERM. kafka.Start(fn) does all of this in one call.
func ExampleOpen() {
	f, err := spec.Load("eddy.yaml")
	if err != nil {
		log.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	w, closeAll, err := kafka.Open(ctx, kafka.Config{
		SourceURL:     "kafka://127.0.0.1:9092/telemetry?group=press",
		StateURL:      "file:///var/lib/eddy",
		OutputURL:     "kafka://127.0.0.1:9092/decisions",
		DeadLetterURL: "kafka://127.0.0.1:9092/telemetry-dlq",
	}, kafka.Func(c.Name(), func(string) (runner.Processor, error) { return c.NewPipeline() }), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer closeAll()
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
