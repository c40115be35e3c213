package gcp

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/metrics/otlp"
	"github.com/eddyhq/eddy/core/runner"
)

// EnvMetrics chooses how the function reports its per-partition metrics: "log" (the default) writes
// one structured JSON line per invocation and partition on stdout (metrics.LogExporter), which
// reaches Cloud Logging, where log-based metrics (deploy/gcp/alarms.tf) extract them; "otlp" pushes
// them over OTLP/HTTP, within each invocation, to the receiver the standard OTEL_EXPORTER_OTLP_*
// variables name (an OpenTelemetry Collector, a vendor's endpoint); "off" reports none.
const EnvMetrics = "EDDY_METRICS"

// MetricsFromEnv returns the runner.Observer the environment asks for (nil for "off"), writing to
// w (os.Stdout in a deployed function). Set it as runner.Config.Observer.
func MetricsFromEnv(w io.Writer) (runner.Observer, error) {
	switch v := os.Getenv(EnvMetrics); v {
	case "", "log":
		return metrics.NewLogExporter(w), nil
	case "otlp":
		exp, err := otlp.New(context.Background(), nil)
		if err != nil {
			return nil, fmt.Errorf("%s=otlp: %w", EnvMetrics, err)
		}
		return exp, nil
	case "off":
		return nil, nil
	default:
		return nil, fmt.Errorf("%s=%q: want \"log\", \"otlp\" or \"off\"", EnvMetrics, v)
	}
}
