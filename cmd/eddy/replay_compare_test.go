package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/examples/bench"
)

// --compare reports the decisions a rule change adds, removes and changes, by rule, key and
// window; the same spec on both sides differs in nothing.
func TestReplayCompare(t *testing.T) {
	dir := t.TempDir()
	const old = `name: alarms
input: {format: json, key: key, time: ts, time_format: unix_ms, out_of_order: 1s}
window: {tumbling: 1s}
aggregates:
  - {name: avg_value, avg: value}
rules:
  - {name: hot, when: avg_value > 56, clear: avg_value < 50, severity: critical}
`
	// The new version fires earlier and has a second rule: some alarms are new, some resolve in
	// other windows.
	newer := strings.Replace(old, "avg_value > 56", "avg_value > 54", 1) +
		"  - {name: cold, when: avg_value < 44, severity: warning}\n"
	oldPath, newPath := filepath.Join(dir, "old.yaml"), filepath.Join(dir, "new.yaml")
	input := filepath.Join(dir, "in.ndjson")
	var in []byte
	for _, e := range bench.Generate(5, 20_000, 20) {
		in = append(e.AppendJSON(in), '\n')
	}
	for p, b := range map[string][]byte{oldPath: []byte(old), newPath: []byte(newer), input: in} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	out, stderr, err := replayTo(t, replayOpts{spec: newPath, compare: oldPath, input: input})
	if err != nil {
		t.Fatal(err)
	}
	changes := map[string]int{}
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var c decisionChange
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("report line %q: %v", l, err)
		}
		if c.Key == "" || c.Window.End == "" {
			t.Fatalf("report line without a slot: %s", l)
		}
		switch c.Change {
		case "added":
			if len(c.Old) != 0 || len(c.New) == 0 {
				t.Fatalf("added: %s", l)
			}
		case "removed":
			if len(c.New) != 0 || len(c.Old) == 0 {
				t.Fatalf("removed: %s", l)
			}
		case "changed":
			if len(c.New) == 0 || len(c.Old) == 0 {
				t.Fatalf("changed: %s", l)
			}
		default:
			t.Fatalf("change %q", c.Change)
		}
		changes[c.Change+" "+c.Rule]++
	}
	t.Logf("%v", changes)
	if changes["added cold"] == 0 || changes["added hot"] == 0 || changes["removed hot"] == 0 || changes["changed hot"] != 0 {
		t.Fatalf("report %v:\n%s", changes, out)
	}
	if !strings.Contains(stderr, "decision slots (rule, key, window) differ") {
		t.Fatalf("summary %q", stderr)
	}
	// Another severity: the same slots, each decision changed.
	sevPath := filepath.Join(dir, "sev.yaml")
	if err := os.WriteFile(sevPath, []byte(strings.Replace(old, "severity: critical", "severity: warning", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	sev, _, err := replayTo(t, replayOpts{spec: sevPath, compare: oldPath, input: input})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(sev), "\n")
	if len(lines) < 10 || strings.Count(sev, `"change":"changed"`) != len(lines) || !strings.Contains(lines[0], `"severity":"warning"`) {
		t.Fatalf("severity change: %d lines\n%s", len(lines), lines[0])
	}
	same, stderr, err := replayTo(t, replayOpts{spec: oldPath, compare: oldPath, input: input})
	if err != nil || same != "" || !strings.Contains(stderr, "0 decision slots") {
		t.Fatalf("same spec: %v %q %s", err, same, stderr)
	}
	if _, _, err := replayTo(t, replayOpts{spec: oldPath, compare: oldPath, input: "-"}); err == nil {
		t.Fatal("--compare on stdin: no error")
	}
}
