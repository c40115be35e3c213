package pubsubsink_test

import (
	"context"
	"log"

	"github.com/eddyhq/eddy/core/sink"

	_ "github.com/eddyhq/eddy/adapters/gcp/pubsubsink"
)

// Importing the package registers its scheme; the portable sink it opens is the runner's Sink and
// DeadLetter.
func Example() {
	ctx := context.Background()
	s, err := sink.Open(ctx, "gcppubsub://projects/acme/topics/press-outputs?ordering=true")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)
	_ = s // runner.Config{Sink: s, DeadLetter: s, ...}
}
