package aws

import (
	"fmt"
	"io"
	"os"

	"github.com/eddyhq/eddy/adapters/aws/emf"
	"github.com/eddyhq/eddy/core/runner"
)

// Environment variables read by MetricsFromEnv.
const (
	// EnvMetrics chooses how the function reports its per-shard metrics: "emf" (the default) writes
	// one CloudWatch embedded metric format line per invocation and shard on stdout, from which
	// CloudWatch Logs extracts the metrics (namespace eddy, dimensions Function and Function +
	// Partition); "off" reports none.
	EnvMetrics = "EDDY_METRICS"
	// EnvMetricsNamespace overrides the CloudWatch namespace (default "eddy").
	EnvMetricsNamespace = "EDDY_METRICS_NAMESPACE"
)

// MetricsFromEnv returns the runner.Observer the environment asks for (nil for "off"), writing to
// w (os.Stdout in Lambda).
func MetricsFromEnv(w io.Writer) (runner.Observer, error) {
	switch v := os.Getenv(EnvMetrics); v {
	case "", "emf":
		exp, err := emf.New(w, &emf.Options{Namespace: os.Getenv(EnvMetricsNamespace)})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMetricsNamespace, err)
		}
		return exp, nil
	case "off":
		return nil, nil
	default:
		return nil, fmt.Errorf("%s=%q: want \"emf\" or \"off\"", EnvMetrics, v)
	}
}
