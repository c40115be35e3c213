package kafkasink_test

import (
	"context"
	"log"

	_ "github.com/eddyhq/eddy/adapters/kafka/kafkasink"
	"github.com/eddyhq/eddy/core/sink"
)

// Outputs to a Kafka topic, keyed by the output's key, with the wire contract's metadata as
// headers: the portable sink opens the driver by URL.
func Example() {
	ctx := context.Background()
	s, err := sink.Open(ctx, "kafka://127.0.0.1:9092,127.0.0.1:9093/decisions?max_record_bytes=1048576")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)
	// runner.Config{Sink: s, DeadLetter: s, ...}
}
