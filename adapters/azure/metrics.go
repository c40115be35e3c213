package azure

import (
	"io"

	"github.com/eddyhq/eddy/core/metrics/otlp"
	"github.com/eddyhq/eddy/core/runner"
)

// EnvMetrics chooses how the function reports its per-partition metrics: "log" (the default) writes
// one structured JSON line per invocation and partition on stdout (metrics.LogExporter), which
// reaches the function's logs (FunctionAppLogs), where log search alerts (deploy/azure/alarms.tf)
// read them; "otlp" pushes them over OTLP/HTTP, within each invocation, to the receiver the
// standard OTEL_EXPORTER_OTLP_* variables name (an OpenTelemetry Collector, a vendor's endpoint);
// "off" reports none.
const EnvMetrics = otlp.EnvMetrics

// MetricsFromEnv returns the runner.Observer the environment asks for (nil for "off"), writing to
// w (os.Stdout in a deployed function); see otlp.ObserverFromEnv.
func MetricsFromEnv(w io.Writer) (runner.Observer, error) { return otlp.ObserverFromEnv(w) }
