package metrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/runner"
)

// Partition names come from outside (a Pub/Sub ordering key is any string): whatever they are, the
// exposition parses and gives the partition back (invalid UTF-8 replaced).
func FuzzPrometheusLabels(f *testing.F) {
	for _, s := range []string{"shard-1", `a"b\c` + "\n", "\xff\xfe", "ключ 🔑", "", "\r\t\x00"} {
		f.Add(s, "fn")
	}
	f.Fuzz(func(t *testing.T, partition, function string) {
		reg := metrics.New()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		reg.Observe(context.Background(), &runner.Observation{Function: function, Partition: partition, Now: now,
			Result: core.Result{Stats: core.Stats{Records: 3}, Watermark: now.Add(-time.Second)}})
		var sb strings.Builder
		if err := reg.WritePrometheus(&sb); err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(sb.String()))
		if err != nil {
			t.Fatalf("partition %q function %q: %v\n%s", partition, function, err, sb.String())
		}
		ms := fams["eddy_records_total"].GetMetric()
		if len(ms) != 1 {
			t.Fatalf("%d series", len(ms))
		}
		labels := map[string]string{}
		for _, l := range ms[0].Label {
			labels[l.GetName()] = l.GetValue()
		}
		if want := strings.ToValidUTF8(partition, "\uFFFD"); labels["partition"] != want {
			t.Errorf("partition label %q, want %q", labels["partition"], want)
		}
		if want := strings.ToValidUTF8(function, "\uFFFD"); labels["function"] != want {
			t.Errorf("function label %q, want %q", labels["function"], want)
		}
		if ms[0].GetCounter().GetValue() != 3 {
			t.Errorf("value %v", ms[0].GetCounter().GetValue())
		}
	})
}
