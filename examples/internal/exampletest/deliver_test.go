package exampletest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDeliver: deliver sorts eddytest's outputs so that deliveries of the same events over other
// partitions compare equal, and other events do not.
func TestDeliver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eddy.yaml")
	hot := `name: hot
input: {format: json, key: device, time: ts, time_format: rfc3339}
window: {tumbling: 1m}
aggregates: [{name: avg, avg: temp}]
rules: [{name: hot, when: avg > 80.0, clear: avg < 70.0}]
`
	if err := os.WriteFile(path, []byte(hot), 0o644); err != nil {
		t.Fatal(err)
	}
	fn, _ := Load(t, path, nil)
	var b bytes.Buffer
	for m := range 4 {
		for d, temp := range []string{"60", "90", "60", "90"} {
			if m%2 == 1 {
				temp = "60"
			}
			b.WriteString(`{"device":"d-` + string(rune('0'+d)) + `","ts":"2026-11-25T08:0` + string(rune('0'+m)) + `:00Z","temp":` + temp + "}\n")
		}
	}
	b.WriteString(`{"device":"d-0","ts":` + "\n" + `{"device":"d-1","ts":"2026-11-25T08:00:00Z","temp":60}` + "\n")
	recs := records(t, b.Bytes(), "in.ndjson")
	one, four := deliver(t, fn, recs, 1, 100), deliver(t, fn, recs, 4, 3)
	if len(one.decisions) != 8 || !strings.Contains(one.decisions[0], `"key":"d-1","state":"firing"`) ||
		!strings.Contains(one.decisions[1], `"key":"d-3","state":"firing"`) {
		t.Errorf("decisions not by time, then key:\n%s", strings.Join(one.decisions, "\n"))
	}
	if !slices.Equal(one.late, []string{"in.ndjson:18 d-1 2026-11-25T08:00:00Z"}) || len(one.dead) != 1 || !strings.HasPrefix(one.dead[0], "in.ndjson:17  ") {
		t.Errorf("late %q, dead %q", one.late, one.dead)
	}
	if !slices.Equal(one.decisions, four.decisions) || !slices.Equal(one.late, four.late) || !slices.Equal(one.dead, four.dead) {
		t.Errorf("4 partitions in batches of 3 differ from 1 in one batch:\n%+v\n%+v", four, one)
	}
	if other := deliver(t, fn, recs[:8], 1, 100); slices.Equal(other.decisions, one.decisions) {
		t.Errorf("half the events decided the same: %q", other.decisions)
	}
}
