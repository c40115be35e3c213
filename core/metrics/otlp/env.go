package otlp

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/runner"
)

// EnvMetrics chooses how a function without a cloud-native metrics path (GCP, Azure) reports its
// per-partition metrics: "log" (the default) writes one structured JSON line per invocation and
// partition (metrics.LogExporter), "otlp" pushes them over OTLP/HTTP within each invocation to the
// receiver the standard OTEL_EXPORTER_OTLP_* variables name, "off" reports none.
const EnvMetrics = "EDDY_METRICS"

// ObserverFromEnv returns the runner.Observer EnvMetrics asks for (nil for "off"), writing log
// lines to w (os.Stdout in a deployed function).
func ObserverFromEnv(w io.Writer) (runner.Observer, error) {
	switch v := os.Getenv(EnvMetrics); v {
	case "", "log":
		return metrics.NewLogExporter(w), nil
	case "otlp":
		exp, err := New(context.Background(), nil)
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
