// Command quickstart is eddy's main job on an embedded default: it generates a few minutes of
// machine telemetry in memory, runs one function over it (10 s tumbling windows per machine, an
// overheat alarm with for: and hysteresis, a z-score anomaly detector and a temporal pattern), and
// prints the window results and decisions as JSON lines. eddy.yaml beside it is the same function.
//
//	go run ./examples/quickstart            # everything
//	go run ./examples/quickstart -decisions # decisions only
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/eddyhq/eddy"
	"github.com/eddyhq/eddy/internal/demo"
)

// machineHealth is the function, in Go.
var machineHealth = &eddy.Function{
	Name:   "machine-health",
	Input:  eddy.Input{Key: "machine", Time: "ts", TimeFormat: "unix_ms", OutOfOrder: 2 * time.Second},
	Window: eddy.Window{Tumbling: 10 * time.Second, AllowedLateness: 5 * time.Second},
	Aggregates: []eddy.Aggregate{
		{Name: "readings", Op: eddy.Count},
		{Name: "avg_temp", Op: eddy.Avg, Field: "temp"},
		{Name: "max_temp", Op: eddy.Max, Field: "temp"},
		{Name: "p95_vibration", Op: eddy.Quantile, Field: "vibration", Q: 0.95},
	},
	Rules: []eddy.Rule{{Name: "overheat", Severity: "critical", For: eddy.Windows(2),
		When: "avg_temp > 80.0 && readings >= 5", Clear: "avg_temp < 70.0"}},
	Anomalies: []eddy.Anomaly{{Name: "vibration-anomaly", Severity: "warning", Aggregate: "p95_vibration",
		Method: eddy.ZScore, Window: 12, Threshold: 4, Direction: eddy.Above}},
	Patterns: []eddy.Pattern{{Name: "temp-spike-then-stop", Within: 30 * time.Second, Contiguity: eddy.Strict,
		Steps: []eddy.Step{{Name: "hot", Where: "temp > 95.0", Times: 3}, {Name: "stop", Where: "status == 'stopped'"}}}},
}

func main() {
	decisionsOnly := flag.Bool("decisions", false, "print decisions only, not window results")
	machines := flag.Int("machines", 12, "number of machines")
	minutes := flag.Int("minutes", 5, "minutes of telemetry")
	flag.Parse()
	res, err := eddy.Run(context.Background(), machineHealth, demo.Telemetry(*machines, *minutes), func(o eddy.Output) {
		if !*decisionsOnly || o.Type() == "decision" {
			fmt.Printf("%s\n", o.AppendJSON(nil))
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	s := res.Stats
	fmt.Fprintf(os.Stderr, "%d events, %d windows, %d decisions, %d late, %d failed\n", s.Events, s.Windows, s.Decisions, s.Late, s.Failed)
}
