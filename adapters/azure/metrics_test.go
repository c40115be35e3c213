package azure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/metrics/otlp"
	"github.com/eddyhq/eddy/core/runner"
)

func TestMetricsFromEnv(t *testing.T) {
	t.Setenv(azure.EnvMetrics, "off")
	if obs, err := azure.MetricsFromEnv(&bytes.Buffer{}); err != nil || obs != nil {
		t.Errorf("off: %v %v", obs, err)
	}
	t.Setenv(azure.EnvMetrics, "statsd")
	if _, err := azure.MetricsFromEnv(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "EDDY_METRICS") {
		t.Errorf("statsd: err %v, want one naming EDDY_METRICS", err)
	}
	t.Setenv(azure.EnvMetrics, "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	if obs, err := azure.MetricsFromEnv(&bytes.Buffer{}); err != nil || obs == nil {
		t.Errorf("otlp: %v %v", obs, err)
	} else if _, ok := obs.(*otlp.Exporter); !ok {
		t.Errorf("otlp: %T", obs)
	}
	t.Setenv(azure.EnvMetrics, "")
	var buf bytes.Buffer
	obs, err := azure.MetricsFromEnv(&buf)
	if err != nil || obs == nil {
		t.Fatalf("default: %v %v", obs, err)
	}
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	obs.Observe(context.Background(), &runner.Observation{Function: "f", Partition: "0", Now: now,
		Result: core.Result{Stats: core.Stats{Records: 3, Events: 3}, Watermark: now.Add(-4 * time.Second)}})
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if line["message"] != metrics.LogMessage || line["records"] != 3.0 || line["watermarkLagSeconds"] != 4.0 {
		t.Errorf("line %v", line)
	}
}
