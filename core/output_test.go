package core_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// Every output's JSON carries its deterministic id: the same window (function, key, span,
// revision) gets the same id, and a revision or another key gets another.
func TestOutputJSONCarriesID(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &core.WindowResult{Function: "f", Key: "k", Start: start, End: start.Add(time.Minute), Values: []core.NamedValue{{Name: "count", Num: 2}}}
	l := &core.Late{Function: "f", Key: "k", Time: start, Watermark: start.Add(time.Hour), ID: "rec-1", Pos: core.Pos{Partition: "0", Offset: "7"}, Data: []byte(`{"v":1}`)}
	ids := map[string]string{}
	for _, o := range []core.Output{w, l} {
		var m map[string]any
		if err := json.Unmarshal(o.AppendJSON(nil), &m); err != nil {
			t.Fatal(err)
		}
		id, _ := m["id"].(string)
		if id == "" || id != core.OutputID(o) || m["type"] != o.Type() {
			t.Fatalf("%s JSON %v: want id %q", o.Type(), m, core.OutputID(o))
		}
		ids[o.Type()] = id
	}
	var m map[string]any
	json.Unmarshal(l.AppendJSON(nil), &m)
	if m["record"] != "rec-1" {
		t.Errorf("late JSON %v: want the event's id as record", m)
	}
	w2 := w.Clone()
	w2.Revision = 1
	w3 := w.Clone()
	w3.Key = "other"
	if core.OutputID(w.Clone()) != ids["window"] || core.OutputID(w2) == ids["window"] || core.OutputID(w3) == ids["window"] {
		t.Errorf("window ids: same window %q, revision 1 %q, other key %q", core.OutputID(w.Clone()), core.OutputID(w2), core.OutputID(w3))
	}
}
