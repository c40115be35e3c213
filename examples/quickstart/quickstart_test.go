package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/pipeline"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/internal/demo"
)

// TestDemoSpecIsThisSpec: the CLI's embedded demo (eddy dev --demo) runs this very spec.
func TestDemoSpecIsThisSpec(t *testing.T) {
	b, err := os.ReadFile("eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, demo.Spec) {
		t.Fatal("internal/demo/eddy.yaml differs from examples/quickstart/eddy.yaml: copy one over the other")
	}
}

func outputs(t *testing.T, p *pipeline.Pipeline) []string {
	t.Helper()
	var lines []string
	emit := func(o core.Output) { lines = append(lines, string(o.AppendJSON(nil))) }
	recs := telemetry(12, 5)
	ctx := context.Background()
	for i := 0; i < len(recs); i += 500 {
		if _, err := p.Run(ctx, core.Batch{Partition: "local-0", Records: recs[i:min(i+500, len(recs))], Now: time.Now()}, emit); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Flush(ctx, emit); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestGoAPIAndSpecAgree runs the quickstart's function built with the Go API and from eddy.yaml:
// same outputs, byte for byte, and the decisions the generated telemetry was made to trigger.
func TestGoAPIAndSpecAgree(t *testing.T) {
	goAPI, err := build()
	if err != nil {
		t.Fatal(err)
	}
	f, err := spec.Load("eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fromSpec, err := f.Build()
	if err != nil {
		t.Fatal(err)
	}
	a, b := outputs(t, goAPI), outputs(t, fromSpec)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("Go API: %d outputs, spec: %d; they differ", len(a), len(b))
	}
	var decisions []string
	for _, l := range a {
		if strings.HasPrefix(l, `{"type":"decision"`) {
			i := strings.Index(l, `"rule":`)
			j := strings.Index(l, `,"time"`)
			if k := strings.Index(l, `,"severity"`); k >= 0 {
				j = k
			}
			decisions = append(decisions, l[i:j])
		}
	}
	want := []string{
		`"rule":"overheat","key":"machine-03","state":"firing"`,
		`"rule":"overheat","key":"machine-03","state":"resolved"`,
		`"rule":"vibration-anomaly","key":"machine-07","state":"anomaly"`,
		`"rule":"temp-spike-then-stop","key":"machine-09","state":"matched"`,
	}
	if strings.Join(decisions, "\n") != strings.Join(want, "\n") {
		t.Errorf("decisions:\n%s\nwant:\n%s", strings.Join(decisions, "\n"), strings.Join(want, "\n"))
	}
}
