package kinesissink_test

import (
	"context"
	"log"

	"github.com/eddyhq/eddy/core/sink"

	_ "github.com/eddyhq/eddy/adapters/aws/kinesissink"
)

// Importing the package registers its scheme; the portable sink it opens is the runner's Sink and
// DeadLetter.
func Example() {
	ctx := context.Background()
	s, err := sink.Open(ctx, "kinesis://press-monitor-outputs?region=eu-west-1")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)
	_ = s // runner.Config{Sink: s, DeadLetter: s, ...}
}
