package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The README's CLI section runs as written from the checkout root (it once failed there with a bare
// "no such file"). Lines that need a cloud, a running `eddy dev` or a scaffold are run elsewhere.
func TestREADMECLISection(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "## The CLI")
	if i < 0 {
		t.Fatal("README has no CLI section")
	}
	s = s[i:]
	s = s[strings.Index(s, "```sh\n")+6:]
	s = s[:strings.Index(s, "```")]
	ran := 0
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "eddy" {
			continue
		}
		switch f[1] {
		case "dev", "replay", "validate", "generate-event":
		default:
			continue
		}
		if strings.Contains(line, "--listen") { // serves until interrupted: TestDashboardInBrowser runs it
			continue
		}
		cmd := exec.Command(eddyBin, f[1:]...)
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
		}
		ran++
	}
	if ran < 4 {
		t.Errorf("ran %d README lines, want the 4 local ones", ran)
	}
}

// A spec or input that is not there is named, with where eddy looked and what to pass.
func TestMissingFileHints(t *testing.T) {
	r := eddy(t, "", "dev", "--spec", "nope.yaml", "--input", "x.ndjson")
	if r.code == 0 || !strings.Contains(r.stderr, "nope.yaml: no such file in") || !strings.Contains(r.stderr, "--spec examples/") {
		t.Errorf("missing spec: exit %d: %s", r.code, r.stderr)
	}
	r = eddy(t, "", "dev", "--spec", "../../examples/iot/meters/eddy.yaml", "--input", "x.ndjson")
	if r.code == 0 || !strings.Contains(r.stderr, "x.ndjson: no such file in") || !strings.Contains(r.stderr, "--input examples/") {
		t.Errorf("missing input: exit %d: %s", r.code, r.stderr)
	}
}

// eddy test runs YAML cases: a passing file exits 0 with a count, a failing case exits 1 and says
// which expectation failed.
func TestEddyTestCommand(t *testing.T) {
	r := eddy(t, "", "test", "../../core/eddytest/testdata/eddy_test.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "3 passed, 0 failed") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	spec, err := os.ReadFile("../../core/eddytest/testdata/eddy.yaml")
	must(t, err)
	must(t, os.WriteFile(dir+"/eddy.yaml", spec, 0o644))
	must(t, os.WriteFile(dir+"/eddy_test.yaml", []byte("tests:\n  - name: cold\n    events: [{machine: m, ts: 1767225600000, temp: 20}]\n"+
		"    expect: [{type: decision, rule: hot, key: m}]\n"), 0o644))
	r = eddy(t, "", "test", dir+"/eddy_test.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "expect[0]") || !strings.Contains(r.stdout, "0 passed, 1 failed") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
}

// replay's summary reports the peak window state: keys, bytes, per key and the largest key, so a
// user sees what a key costs before a long backtest runs out of memory.
func TestReplayReportsPeakState(t *testing.T) {
	r := eddy(t, "", "replay", "--spec", "../../examples/iot/meters/eddy.yaml", "--input", "../../examples/iot/meters/events.ndjson", "--output", os.DevNull)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var keys, perKey, largest int
	var size string
	i := strings.Index(r.stderr, "window state at its peak: ")
	if i < 0 {
		t.Fatalf("no peak state in the summary:\n%s", r.stderr)
	}
	if _, err := fmt.Sscanf(r.stderr[i:], "window state at its peak: %d keys, %s KB, %d bytes per key on average, %d for the largest key", &keys, &size, &perKey, &largest); err != nil {
		t.Fatalf("%v: %s", err, r.stderr[i:])
	}
	// 10 meters; a key keeps a few quarter-hours of sum/max/count partials.
	if keys != 10 || perKey < 100 || perKey > 10000 || largest < perKey {
		t.Errorf("keys %d, %d bytes per key, largest %d", keys, perKey, largest)
	}
}
