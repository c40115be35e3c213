package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy"
	"github.com/eddyhq/eddy/core/eddytest"
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

func outputs(t *testing.T, fn *eddy.Function) []string {
	t.Helper()
	var lines []string
	_, err := eddy.Run(context.Background(), fn, demo.Telemetry(12, 5), func(o eddy.Output) { lines = append(lines, string(o.AppendJSON(nil))) })
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestGoAPIAndSpecAgree runs the quickstart's function built with the Go API and from eddy.yaml:
// same outputs, byte for byte, and the decisions the generated telemetry was made to trigger.
func TestGoAPIAndSpecAgree(t *testing.T) {
	fromSpec, err := eddy.Load("eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := outputs(t, machineHealth), outputs(t, fromSpec)
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

// TestDeliveries tests the function with the public test kit, as a user would: cut over 4
// partitions, into invocations of 7 records, with the state restored between them, it gives the
// outputs of one invocation (eddytest.Outputs checks that), built in Go or from eddy.yaml alike.
func TestDeliveries(t *testing.T) {
	fromSpec, err := eddy.Load("eddy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	recs := demo.Telemetry(12, 5)
	now := demo.Start.Add(time.Hour) // after the telemetry: a later event would be dead-lettered
	a, err := eddytest.Outputs(machineHealth, recs, 4, 7, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := eddytest.Outputs(fromSpec, recs, 4, 7, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Fatalf("Go API: %d outputs, spec: %d; they differ", len(a), len(b))
	}
	decisions := 0
	for _, l := range a {
		if strings.HasPrefix(l, `{"type":"decision"`) {
			decisions++
		}
	}
	if decisions != 4 {
		t.Errorf("%d decisions over 4 partitions, want the 4 of one (TestGoAPIAndSpecAgree)", decisions)
	}
}
