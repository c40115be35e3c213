package codec

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

func TestAppendCloudEvent(t *testing.T) {
	start := time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC)
	win := core.Span{Start: start, End: start.Add(time.Minute)}
	dec := &core.Decision{ID: core.DecisionID("f", "hot", "sensor-1", win, "firing", 0), Function: "f", Rule: "hot", Key: "sensor-1",
		State: "firing", Time: win.End, Window: win, Values: []core.NamedValue{{Name: "avg", Num: 91.5}}}
	res := &core.WindowResult{Function: "f", Key: "sensor-2", Start: win.Start, End: win.End, Values: []core.NamedValue{{Name: "count", Num: 3}}}
	late := &core.Late{Function: "f", Key: "sensor-3", Time: start, Watermark: win.End, ID: "r1", Data: []byte(`{"a":1}`), Reason: "beyond lateness"}
	for _, tt := range []struct {
		out     core.Output
		typ, id string
		subject string
		time    string
	}{
		{dec, "dev.eddy.decision", dec.ID, "sensor-1", "2025-11-25T16:01:00.000Z"},
		{res, "dev.eddy.window", "", "sensor-2", "2025-11-25T16:01:00.000Z"},
		{late, "dev.eddy.late", "", "sensor-3", "2025-11-25T16:00:00.000Z"},
	} {
		b := AppendCloudEvent([]byte("prefix:"), tt.out, "//eddy/functions/f")
		if string(b[:7]) != "prefix:" {
			t.Fatalf("did not append: %q", b)
		}
		var ce map[string]any
		if err := json.Unmarshal(b[7:], &ce); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		var data map[string]any
		json.Unmarshal(tt.out.AppendJSON(nil), &data)
		if ce["specversion"] != "1.0" || ce["type"] != tt.typ || ce["source"] != "//eddy/functions/f" || ce["subject"] != tt.subject ||
			ce["time"] != tt.time || ce["datacontenttype"] != "application/json" || !equalJSON(ce["data"], data) {
			t.Errorf("cloud event = %s", b)
		}
		id, _ := ce["id"].(string)
		if tt.id != "" && id != tt.id {
			t.Errorf("id = %q, want the decision id %q", id, tt.id)
		}
		if len(id) != 32 {
			t.Errorf("id %q is not 128 bits of hex", id)
		}
		// Deterministic: the same output gives the same event; a different one another id.
		if again := AppendCloudEvent(nil, tt.out, "//eddy/functions/f"); string(again) != string(b[7:]) {
			t.Errorf("not deterministic: %s vs %s", again, b[7:])
		}
		// The event decodes with the cloudevents format.
		d := mustNew(t, Config{Format: FormatCloudEvents, Paths: []string{"$ce.type"}, Key: "key", Time: "$ce.time"})
		var ev core.Event
		if err := d.Decode("p", &core.Record{ID: "x", Data: b[7:]}, now, &ev); err != nil || ev.Key != tt.subject || ev.Fields[0].Str != tt.typ {
			t.Errorf("round trip: %+v, %v", ev, err)
		}
	}
	// The id is the output's (core.OutputID): a window's revision is another output, another id.
	res2 := res.Clone()
	res2.Revision++
	a, _ := eventID(AppendCloudEvent(nil, res, "s"))
	b, _ := eventID(AppendCloudEvent(nil, res2, "s"))
	if a == b || a != core.OutputID(res) {
		t.Errorf("ids %q and %q (revision %d and %d); want core.OutputID %q, and a new revision another", a, b, res.Revision, res2.Revision, core.OutputID(res))
	}
}

func eventID(b []byte) (string, error) {
	var ce struct{ ID string }
	err := json.Unmarshal(b, &ce)
	return ce.ID, err
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
