// Command quickstart is eddy's main job on an embedded default: it generates a few minutes of
// machine telemetry in memory, runs one function over it in delivery-sized batches (10 s tumbling
// windows per machine, an overheat alarm with for: and hysteresis, a z-score anomaly detector and a
// temporal pattern), and prints the window results and decisions as JSON lines.
//
//	go run ./examples/quickstart            # everything
//	go run ./examples/quickstart -decisions # decisions only
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/aggregate"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/pattern"
	"github.com/eddyhq/eddy/core/pipeline"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/core/window"
	"github.com/eddyhq/eddy/internal/demo"
)

func main() {
	decisionsOnly := flag.Bool("decisions", false, "print decisions only, not window results")
	machines := flag.Int("machines", 12, "number of machines")
	minutes := flag.Int("minutes", 5, "minutes of telemetry")
	flag.Parse()
	if err := run(*machines, *minutes, *decisionsOnly); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// build assembles the function with eddy's Go API; examples/quickstart/eddy.yaml is the same
// function as a spec.
func build() (*pipeline.Pipeline, error) {
	b, err := pipeline.New(pipeline.Config{
		Function: "machine-health",
		Window:   window.Spec{Kind: window.Tumbling, Size: 10 * time.Second},
		Time:     window.Time{OutOfOrder: 2 * time.Second, AllowedLateness: 5 * time.Second},
		Aggregates: []aggregate.Spec{
			{Name: "readings", Op: aggregate.Count},
			{Name: "avg_temp", Op: aggregate.Avg, Field: "temp"},
			{Name: "max_temp", Op: aggregate.Max, Field: "temp"},
			{Name: "p95_vibration", Op: aggregate.Quantile, Field: "vibration", Q: 0.95},
		},
	})
	if err != nil {
		return nil, err
	}
	rules, err := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "readings"}, {Name: "avg_temp"}, {Name: "max_temp"}, {Name: "p95_vibration"}},
		Thresholds: []rule.Threshold{{
			Name: "overheat", Severity: "critical",
			Condition: "avg_temp > 80.0 && readings >= 5", Clear: "avg_temp < 70.0",
			ForWindows: 2,
		}},
		Anomalies: []rule.Anomaly{{
			Name: "vibration-anomaly", Severity: "warning", Aggregate: "p95_vibration",
			Method: rule.ZScore, Window: 12, Threshold: 4, Direction: rule.Above,
		}},
	})
	if err != nil {
		return nil, err
	}
	b.Decide(rules.NewEngine())
	spikes, err := pattern.Compile(pattern.Config{
		Name: "temp-spike-then-stop", Function: "machine-health",
		Steps: []pattern.Step{
			{Name: "hot", Where: "temp > 95.0", Times: 3},
			{Name: "stop", Where: "status == 'stopped'"},
		},
		Within: 30 * time.Second, Contiguity: pattern.Strict,
	}, b.Fields())
	if err != nil {
		return nil, err
	}
	b.Match(spikes.NewMatcher())
	return b.Build(func(paths []string) (pipeline.Decoder, error) {
		return codec.New(codec.Config{Format: "json", Paths: paths, Key: "machine", Time: "ts", TimeFormat: "unix_ms"})
	})
}

// telemetry is the demo's generated machine telemetry (internal/demo).
func telemetry(machines, minutes int) []core.Record { return demo.Telemetry(machines, minutes) }

func run(machines, minutes int, decisionsOnly bool) error {
	p, err := build()
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var line []byte
	emit := func(o core.Output) {
		if decisionsOnly && o.Type() != "decision" {
			return
		}
		line = append(o.AppendJSON(line[:0]), '\n')
		out.Write(line)
	}
	ctx := context.Background()
	recs := telemetry(machines, minutes)
	var stats core.Stats
	for i := 0; i < len(recs); i += 500 {
		b := core.Batch{Partition: "local-0", Records: recs[i:min(i+500, len(recs))], Now: time.Now()}
		res, err := p.Run(ctx, b, emit)
		if err != nil {
			return err
		}
		stats.Add(res.Stats)
	}
	res, err := p.Flush(ctx, emit)
	if err != nil {
		return err
	}
	stats.Add(res.Stats)
	if err := out.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d events, %d windows, %d decisions, %d late, %d failed\n",
		stats.Events, stats.Windows, stats.Decisions, stats.Late, stats.Failed)
	return nil
}
