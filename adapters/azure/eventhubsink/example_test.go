package eventhubsink_test

import (
	"context"
	"log"

	"github.com/eddyhq/eddy/core/sink"

	_ "github.com/eddyhq/eddy/adapters/azure/eventhubsink"
)

// Importing the package registers its scheme; the portable sink it opens is the runner's Sink and
// DeadLetter.
func Example() {
	ctx := context.Background()
	s, err := sink.Open(ctx, "eventhubs://acme/press-outputs")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)
	_ = s // runner.Config{Sink: s, DeadLetter: s, ...}
}
