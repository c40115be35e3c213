package metrics_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/eddyhq/eddy/core/metrics"
)

// A Registry is a runner.Observer: give it to runner.Config.Observer, then serve Handler on
// /metrics and JSONHandler on /metrics.json.
func ExampleRegistry() {
	reg := metrics.New()
	r, err := buildRunner(reg) // runner.New(runner.Config{..., Observer: reg})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := r.Run(context.Background(), knownBatch()); err != nil {
		fmt.Println(err)
		return
	}
	p := reg.Snapshot()[0]
	fmt.Println(p.Partition, "events", p.Events, "late", p.Late, "dead letters", p.DeadLetters, "lag", *p.WatermarkLagSeconds, "s")

	var sb strings.Builder
	_ = reg.WritePrometheus(&sb)
	for _, line := range strings.Split(sb.String(), "\n") {
		if strings.HasPrefix(line, "eddy_outputs_total") || strings.HasPrefix(line, "eddy_dead_letters_total") {
			fmt.Fprintln(os.Stdout, line)
		}
	}
	// Output:
	// shard-1 events 5 late 1 dead letters 1 lag 9 s
	// eddy_dead_letters_total{function="m1",partition="shard-1"} 1
	// eddy_outputs_total{function="m1",partition="shard-1",type="decision"} 1
	// eddy_outputs_total{function="m1",partition="shard-1",type="late"} 1
	// eddy_outputs_total{function="m1",partition="shard-1",type="window"} 2
}
