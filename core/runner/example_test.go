package runner_test

import (
	"context"
	"fmt"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// A Runner around a Processor: a redelivered batch is skipped up to the stored checkpoint.
func ExampleRunner_Run() {
	ctx := context.Background()
	r, err := runner.New(runner.Config{
		Function: "count",
		Store:    memstate.New(nil),
		New:      func(p string) (runner.Processor, error) { return newCounter(p), nil },
	})
	if err != nil {
		panic(err)
	}
	batch := core.Batch{Partition: "shard-0", Records: recs("sensor-1", 1, 3), Now: t0}
	res, _ := r.Run(ctx, batch)
	fmt.Println(res.Checkpoint, res.Stats.Events, res.Stats.Skipped)
	res, _ = r.Run(ctx, batch) // the trigger retried the same batch
	fmt.Println(res.Checkpoint, res.Stats.Events, res.Stats.Skipped)
	// Output:
	// 3 3 0
	// 3 0 3
}
