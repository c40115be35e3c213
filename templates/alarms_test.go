package templates_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/eddyhq/eddy/adapters/aws/emf"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/templates"
)

// infraFiles renders a cloud's deploy files by path.
func infraFiles(t *testing.T, cloud string) map[string][]byte {
	t.Helper()
	files, err := templates.Infra(cloud, data(cloud))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Path] = f.Data
	}
	return out
}

// resources parses a Terraform file and returns its resource blocks by type, each with the
// literal text of its attributes.
func resources(t *testing.T, name string, src []byte) map[string][]map[string]string {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL(src, name)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", name, diags)
	}
	out := map[string][]map[string]string{}
	var walk func(prefix string, b *hclsyntax.Body, attrs map[string]string)
	walk = func(prefix string, b *hclsyntax.Body, attrs map[string]string) {
		for n, a := range b.Attributes {
			r := a.Expr.Range()
			attrs[prefix+n] = string(src[r.Start.Byte:r.End.Byte])
		}
		for _, blk := range b.Blocks {
			walk(prefix+blk.Type+".", blk.Body, attrs)
		}
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "resource" {
			continue
		}
		attrs := map[string]string{"name": b.Labels[1]}
		walk("", b.Body, attrs)
		out[b.Labels[0]] = append(out[b.Labels[0]], attrs)
	}
	return out
}

// The AWS alarms watch the metrics the EMF exporter writes, by their names, namespace and
// dimension, in Terraform and in SAM alike.
func TestAWSAlarmsWatchEMFMetrics(t *testing.T) {
	files := infraFiles(t, "aws")
	alarms := resources(t, "alarms.tf", files["deploy/aws/alarms.tf"])["aws_cloudwatch_metric_alarm"]
	seen := map[string]bool{}
	for _, a := range alarms {
		if a["namespace"] != `"`+emf.DefaultNamespace+`"` {
			continue
		}
		seen[strings.Trim(a["metric_name"], `"`)] = true
		if a["dimensions"] != `{ Function = "press-monitor" }` {
			t.Errorf("%s: dimensions %s, want the function's name", a["name"], a["dimensions"])
		}
	}
	if !seen[emf.WatermarkLag] || !seen[emf.DeadLetters] {
		t.Errorf("alarms.tf watches %v of namespace eddy, want %s and %s", seen, emf.WatermarkLag, emf.DeadLetters)
	}

	var sam struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				Namespace  string `yaml:"Namespace"`
				MetricName string `yaml:"MetricName"`
				Dimensions []struct {
					Name  string `yaml:"Name"`
					Value any    `yaml:"Value"`
				} `yaml:"Dimensions"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(files["deploy/aws/template.yaml"], &sam); err != nil {
		t.Fatal(err)
	}
	seen = map[string]bool{}
	for name, r := range sam.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" || r.Properties.Namespace != emf.DefaultNamespace {
			continue
		}
		seen[r.Properties.MetricName] = true
		if len(r.Properties.Dimensions) != 1 || r.Properties.Dimensions[0].Name != "Function" || r.Properties.Dimensions[0].Value != "press-monitor" {
			t.Errorf("%s: dimensions %+v", name, r.Properties.Dimensions)
		}
	}
	if !seen[emf.WatermarkLag] || !seen[emf.DeadLetters] {
		t.Errorf("template.yaml watches %v of namespace eddy, want %s and %s", seen, emf.WatermarkLag, emf.DeadLetters)
	}
}

// logFields returns the members of a LogExporter line with every optional member present.
func logFields(t *testing.T) map[string]any {
	t.Helper()
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	var b strings.Builder
	exp := metrics.NewLogExporter(&b)
	exp.Observe(context.Background(), &runner.Observation{Function: "press-monitor", Partition: "0", Now: now, Newest: now,
		Commits: 1, Committed: true, StateBytes: 10, Result: core.Result{Watermark: now}})
	var m map[string]any
	if err := json.Unmarshal([]byte(b.String()), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The GCP log-based metrics and the Azure log search alerts read members the LogExporter writes,
// select its lines by its message, and name the function.
func TestLogAlarmsReadLogExporterFields(t *testing.T) {
	fields := logFields(t)
	for cloud, re := range map[string]*regexp.Regexp{
		"gcp":   regexp.MustCompile(`jsonPayload\.(\w+)`),
		"azure": regexp.MustCompile(`\bm\.(\w+)`),
	} {
		src := infraFiles(t, cloud)["deploy/"+cloud+"/alarms.tf"]
		if src == nil {
			t.Fatalf("%s: no deploy/%s/alarms.tf", cloud, cloud)
		}
		if _, diags := hclparse.NewParser().ParseHCL(src, "alarms.tf"); diags.HasErrors() {
			t.Fatalf("%s: %v", cloud, hcl.Diagnostics(diags))
		}
		refs := re.FindAllStringSubmatch(string(src), -1)
		if len(refs) < 4 {
			t.Fatalf("%s: %d field references, want the message, function, lag and dead letters", cloud, len(refs))
		}
		for _, m := range refs {
			if _, ok := fields[m[1]]; !ok {
				t.Errorf("%s: alarms.tf reads %q, which the log line lacks (it has %v)", cloud, m[1], fields)
			}
		}
		for _, want := range []string{`"` + metrics.LogMessage + `"`, "watermarkLagSeconds", "deadLetters", "press-monitor"} {
			if !strings.Contains(strings.ReplaceAll(string(src), `\"`, `"`), want) {
				t.Errorf("%s: alarms.tf does not mention %s", cloud, want)
			}
		}
	}
	gcp := resources(t, "alarms.tf", infraFiles(t, "gcp")["deploy/gcp/alarms.tf"])
	if len(gcp["google_logging_metric"]) != 2 || len(gcp["google_monitoring_alert_policy"]) != 2 {
		t.Errorf("gcp: %d log metrics and %d alert policies, want 2 and 2", len(gcp["google_logging_metric"]), len(gcp["google_monitoring_alert_policy"]))
	}
	az := resources(t, "alarms.tf", infraFiles(t, "azure")["deploy/azure/alarms.tf"])
	if len(az["azurerm_monitor_scheduled_query_rules_alert_v2"]) != 2 || len(az["azurerm_monitor_diagnostic_setting"]) != 1 {
		t.Errorf("azure: %v", az)
	}
}
