package azure

import (
	"fmt"
	"io"
	"os"

	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/runner"
)

// EnvMetrics chooses how the function reports its per-partition metrics: "log" (the default)
// writes one structured JSON line per invocation and partition on stdout (metrics.LogExporter),
// which reaches the function's logs (FunctionAppLogs), where log search alerts (deploy/azure/alarms.tf) read them; "off" reports none.
const EnvMetrics = "EDDY_METRICS"

// MetricsFromEnv returns the runner.Observer the environment asks for (nil for "off"), writing to
// w (os.Stdout in a deployed function). Set it as runner.Config.Observer.
func MetricsFromEnv(w io.Writer) (runner.Observer, error) {
	switch v := os.Getenv(EnvMetrics); v {
	case "", "log":
		return metrics.NewLogExporter(w), nil
	case "off":
		return nil, nil
	default:
		return nil, fmt.Errorf("%s=%q: want \"log\" or \"off\"", EnvMetrics, v)
	}
}
