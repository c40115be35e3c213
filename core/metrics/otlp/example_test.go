package otlp_test

import (
	"context"
	"log"

	"github.com/eddyhq/eddy/core/metrics/otlp"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// The exporter takes its receiver from OTEL_EXPORTER_OTLP_ENDPOINT (and _HEADERS, _TIMEOUT…) and
// is a runner.Observer: every Run and Tick is recorded and pushed within the invocation.
func ExampleNew() {
	ctx := context.Background()
	exp, err := otlp.New(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer exp.Close(ctx)
	_, err = runner.New(runner.Config{Function: "alarms", Store: memstate.New(nil), Observer: exp,
		New: func(string) (runner.Processor, error) { return nil, nil }})
	if err != nil {
		log.Fatal(err)
	}
}
