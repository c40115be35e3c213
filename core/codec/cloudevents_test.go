package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

const samples = "../../../shared/samples/"

// readSample reads a sample HTTP request (request line, headers, blank line, body) into a record the
// way an HTTP adapter would: headers become attributes, named as sent.
func readSample(t *testing.T, name string) core.Record {
	t.Helper()
	raw, err := os.ReadFile(samples + name)
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		t.Fatalf("%s: no blank line", name)
	}
	attrs := map[string]string{}
	for _, line := range strings.Split(string(head), "\n")[1:] {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s: bad header %q", name, line)
		}
		attrs[k] = strings.TrimSpace(v)
	}
	return core.Record{ID: attrs["ce-id"], Data: bytes.TrimSpace(body), Attrs: attrs}
}

func TestCloudEventBinaryPubSubSample(t *testing.T) {
	rec := readSample(t, "gcp-pubsub-cloudevent.http")
	cfg := Config{Format: FormatCloudEvents, Paths: []string{"message.attributes.origin", "message.messageId", "$ce.type",
		"$ce.source", "$ce.id", "$ce.specversion", "$ce.datacontenttype", "subscription", "message.data"},
		Key: "message.orderingKey", Time: "$ce.time"}
	ev, err := decode(t, cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	want := []core.Value{str("sensor-gw"), str("2070443601311540"), str("google.cloud.pubsub.topic.v1.messagePublished"),
		str("//pubsub.googleapis.com/projects/my-project/topics/telemetry"), str("2070443601311540"), str("1.0"),
		str("application/json"), str("projects/my-project/subscriptions/eventarc-us-central1-sub"),
		str("eyJrZXkiOiJzZW5zb3ItMDAwMSIsInRzIjoxNzY0MDg2NDAwMDAwLCJ2YWx1ZSI6ODEuNX0=")}
	for i := range want {
		if !sameValue(ev.Fields[i], want[i]) {
			t.Errorf("%s = %+v, want %+v", cfg.Paths[i], ev.Fields[i], want[i])
		}
	}
	if ev.Key != "sensor-0001" || !ev.Time.Equal(time.Date(2025, 11, 25, 16, 0, 1, 987e6, time.UTC)) {
		t.Errorf("key %q time %v", ev.Key, ev.Time)
	}
	// The Pub/Sub message's data is the standard event, base64-encoded: decoding it with the json
	// format gives the event (what the GCP adapter does).
	inner, err := base64.StdEncoding.DecodeString(ev.Fields[8].Str)
	if err != nil {
		t.Fatal(err)
	}
	ev, err = decode(t, Config{Paths: []string{"value"}, Key: "key", Time: "ts"}, core.Record{ID: rec.ID, Data: inner})
	if err != nil || ev.Key != "sensor-0001" || ev.Time.UnixMilli() != 1764086400000 || ev.Fields[0].Num != 81.5 {
		t.Errorf("inner event = %+v, %v", ev, err)
	}
}

// TestEventHubsSample decodes the events of the Event Hubs custom handler sample (a JSON string
// holding a JSON array of JSON strings) with the json format.
func TestEventHubsSample(t *testing.T) {
	raw, err := os.ReadFile(samples + "azure-eventhubs-customhandler.json")
	if err != nil {
		t.Fatal(err)
	}
	var req struct{ Data struct{ Events string } }
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	var events []string
	if err := json.Unmarshal([]byte(req.Data.Events), &events); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, Config{Paths: []string{"value"}, Key: "key", Time: "ts", TimeFormat: "unix_ms"})
	want := []struct {
		key string
		ms  int64
		v   float64
	}{{"sensor-0001", 1764086400000, 81.5}, {"sensor-0002", 1764086400350, 12}, {"sensor-0001", 1764086401200, 84.25}}
	if len(events) != len(want) {
		t.Fatalf("%d events", len(events))
	}
	for i, e := range events {
		var ev core.Event
		if err := d.Decode("2", &core.Record{ID: "59", Data: []byte(e)}, now, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Key != want[i].key || ev.Time.UnixMilli() != want[i].ms || ev.Fields[0].Num != want[i].v {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
}

const structured = `{"specversion":"1.0","id":"e-1","source":"/sensors","type":"dev.example.reading","subject":"s1",` +
	`"time":"2023-11-14T22:13:20.123Z","datacontenttype":"application/json","seq":7,"flag":true,` +
	`"data":{"key":"sensor-0042","ts":1700000000123,"value":42.5,"nested":{"a":[1,2]}}}`

func TestCloudEventStructured(t *testing.T) {
	cfg := Config{Format: FormatCloudEvents, Paths: []string{"value", "nested.a.1", "$ce.id", "$ce.type", "$ce.source",
		"$ce.subject", "$ce.seq", "$ce.flag", "$ce.missing", "$ce.time", "specversion"}, Key: "key", Time: "ts"}
	ev, err := decode(t, cfg, core.Record{ID: "r", Data: []byte(structured)})
	if err != nil {
		t.Fatal(err)
	}
	want := []core.Value{num(42.5), num(2), str("e-1"), str("dev.example.reading"), str("/sensors"), str("s1"), num(7), boolean(true),
		missing, str("2023-11-14T22:13:20.123Z"), missing}
	for i := range want {
		if !sameValue(ev.Fields[i], want[i]) {
			t.Errorf("%s = %+v, want %+v", cfg.Paths[i], ev.Fields[i], want[i])
		}
	}
	if ev.Key != "sensor-0042" || ev.Time.UnixMilli() != 1700000000123 || string(ev.Data) != structured {
		t.Errorf("event = %+v", ev)
	}
	// The CloudEvent's own time can be the event time, and its id the key.
	ev, err = decode(t, Config{Format: FormatCloudEvents, Key: "$ce.id", Time: "$ce.time"}, core.Record{ID: "r", Data: []byte(structured)})
	if err != nil || ev.Key != "e-1" || ev.Time.UnixMilli() != 1700000000123 {
		t.Errorf("event = %+v, %v", ev, err)
	}
}

func TestCloudEventStructuredBase64(t *testing.T) {
	data := base64.StdEncoding.EncodeToString([]byte(`{"key":"k/1","ts":1700000000123,"o":{"p":true}}`))
	escaped := strings.ReplaceAll(data, "/", `\/`)
	for _, tt := range []struct {
		name, envelope string
		want           []core.Value
	}{
		{"json", `{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"` + data + `"}`,
			[]core.Value{str("k/1"), object(`{"p":true}`)}},
		{"escaped slash", `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/cloudevents+json","data_base64":"` + escaped + `"}`,
			[]core.Value{str("k/1"), object(`{"p":true}`)}},
		{"unpadded", `{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"` + strings.TrimRight(data, "=") + `"}`,
			[]core.Value{str("k/1"), object(`{"p":true}`)}},
		{"binary content", `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC"}`,
			[]core.Value{missing, missing}},
		{"no data", `{"specversion":"1.0","id":"1","source":"s","type":"t"}`, []core.Value{missing, missing}},
		{"string data", `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"text/plain","data":"hi"}`,
			[]core.Value{missing, missing}},
		{"array data", `{"specversion":"1.0","id":"1","source":"s","type":"t","data":[{"key":"x"}]}`, []core.Value{missing, missing}},
	} {
		ev, err := decode(t, Config{Format: FormatCloudEvents, Paths: []string{"key", "o"}, ProcessingTime: true},
			core.Record{ID: "r", Data: []byte(tt.envelope)})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		for i := range tt.want {
			if !sameValue(ev.Fields[i], tt.want[i]) {
				t.Errorf("%s: field %d = %+v, want %+v", tt.name, i, ev.Fields[i], tt.want[i])
			}
		}
	}
}

func TestCloudEventBinaryAttributeForms(t *testing.T) {
	data := []byte(`{"key":"sensor-1","ts":1700000000123}`)
	for _, attrs := range []map[string]string{
		{"ce-specversion": "1.0", "ce-id": "i", "ce-source": "s", "ce-type": "t", "ce-time": "2023-11-14T22:13:20Z"},
		{"Ce-Specversion": "1.0", "Ce-Id": "i", "Ce-Source": "s", "Ce-Type": "t", "Ce-Time": "2023-11-14T22:13:20Z"},
		{"ce_specversion": "1.0", "ce_id": "i", "ce_source": "s", "ce_type": "t", "ce_time": "2023-11-14T22:13:20Z"},
		{"cloudEvents:specversion": "1.0", "cloudEvents:id": "i", "cloudEvents:source": "s", "cloudEvents:type": "t", "cloudEvents:time": "2023-11-14T22:13:20Z"},
		{"specversion": "1.0", "id": "i", "source": "s", "type": "t", "time": "2023-11-14T22:13:20Z"},
		// A prefixed attribute beats a bare one of the same name.
		{"ce-specversion": "1.0", "ce-id": "i", "id": "other", "ce-source": "s", "ce-type": "t", "CE-TIME": "2023-11-14T22:13:20Z", "time": "x"},
	} {
		ev, err := decode(t, Config{Format: FormatCloudEvents, Paths: []string{"$ce.id", "$ce.type", "key"}, Time: "$ce.time"},
			core.Record{ID: "r", Data: data, Attrs: attrs})
		if err != nil {
			t.Errorf("%v: %v", attrs, err)
			continue
		}
		if ev.Fields[0].Str != "i" || ev.Fields[1].Str != "t" || ev.Fields[2].Str != "sensor-1" || ev.Time.Unix() != 1700000000 {
			t.Errorf("%v: event = %+v", attrs, ev)
		}
	}
}

func TestCloudEventBinaryContentType(t *testing.T) {
	base := map[string]string{"ce-specversion": "1.0", "ce-id": "i", "ce-source": "s", "ce-type": "t"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range base {
			m[a] = b
		}
		return m
	}
	cfg := Config{Format: FormatCloudEvents, Paths: []string{"a", "$ce.datacontenttype"}, ProcessingTime: true}
	ev, err := decode(t, cfg, core.Record{Data: []byte("a,b,c"), Attrs: with("content-type", "text/csv")})
	if err != nil || ev.Fields[0].Kind != core.Missing || ev.Fields[1].Str != "text/csv" {
		t.Errorf("csv data: %+v, %v", ev.Fields, err)
	}
	ev, err = decode(t, cfg, core.Record{Data: []byte(`{"a":1}`), Attrs: with("Content-Type", "application/json; charset=utf-8")})
	if err != nil || ev.Fields[0].Num != 1 {
		t.Errorf("json data: %+v, %v", ev.Fields, err)
	}
	ev, err = decode(t, cfg, core.Record{Data: nil, Attrs: base})
	if err != nil || ev.Fields[0].Kind != core.Missing {
		t.Errorf("no data: %+v, %v", ev.Fields, err)
	}
	_, err = decode(t, cfg, core.Record{ID: "r", Data: []byte(`{"a":1`), Attrs: with("ce-datacontenttype", "application/vnd.x+json")})
	if err == nil || !strings.Contains(err.Error(), "payload: invalid JSON at byte 6: unexpected end of input") {
		t.Errorf("bad json data: %v", err)
	}
}

func TestCloudEventFailures(t *testing.T) {
	cfg := Config{Format: FormatCloudEvents, Paths: []string{"a"}, ProcessingTime: true}
	tests := []struct {
		name, data    string
		attrs         map[string]string
		field, reason string
		is            error
	}{
		{"not an object", `[1]`, nil, "", "payload: not a CloudEvent", ErrSyntax},
		{"empty", ``, nil, "", "payload: empty", ErrSyntax},
		{"no specversion", `{"id":"1","source":"s","type":"t","data":{}}`, nil, "", `payload: not a CloudEvent (no "specversion")`, ErrSyntax},
		{"no id", `{"specversion":"1.0","source":"s","type":"t"}`, nil, "$ce.id", "missing CloudEvents attribute", ErrMissing},
		{"no type", `{"specversion":"1.0","id":"1","source":"s"}`, nil, "$ce.type", "missing CloudEvents attribute", ErrMissing},
		{"both data", `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{},"data_base64":"e30="}`, nil, "",
			`both "data" and "data_base64"`, ErrSyntax},
		{"bad base64", `{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"!!"}`, nil, "data_base64", "invalid base64", ErrType},
		{"base64 not string", `{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":1}`, nil, "data_base64", "not a string", ErrType},
		{"base64 bad json", `{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"e30x"}`, nil, "",
			"data_base64: invalid JSON at byte 2: unexpected '1'", ErrSyntax},
		{"bad envelope json", `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"a":}}`, nil, "",
			"payload: invalid JSON at byte 66: unexpected '}'", ErrSyntax},
		{"bad skipped attr", `{"specversion":"1.0","id":"1","source":"s","type":"t","x":[1,}`, nil, "", "unexpected '}'", ErrSyntax},
		{"trailing", `{"specversion":"1.0","id":"1","source":"s","type":"t"} 1`, nil, "", "unexpected '1'", ErrSyntax},
		{"binary no source", `{}`, map[string]string{"ce-specversion": "1.0", "ce-id": "i", "ce-type": "t"}, "$ce.source",
			"missing CloudEvents attribute", ErrMissing},
		{"binary empty id", `{}`, map[string]string{"ce-specversion": "1.0", "ce-id": "", "ce-source": "s", "ce-type": "t"}, "$ce.id",
			"missing CloudEvents attribute", ErrMissing},
	}
	for _, tt := range tests {
		_, err := decode(t, cfg, core.Record{ID: "r", Data: []byte(tt.data), Attrs: tt.attrs})
		var f *core.Failure
		if !errors.As(err, &f) || f.Field != tt.field || !strings.Contains(f.Reason, tt.reason) || !errors.Is(err, tt.is) {
			t.Errorf("%s: error = %v (%#v), want field %q reason containing %q", tt.name, err, f, tt.field, tt.reason)
		}
	}
}

// FuzzDecodeCloudEvent checks that CloudEvent decoding never panics, accepts only valid JSON in
// structured mode, and finds in "data" what encoding/json finds.
func FuzzDecodeCloudEvent(f *testing.F) {
	f.Add([]byte(structured), false)
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"eyJrZXkiOiJ4In0="}`), false)
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"a":{"b":1}},"data":{"key":2}}`), false)
	f.Add([]byte(`{"key":"k","a":{"b":[1]}}`), true)
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","data":[1,2]`), false)
	binAttrs := map[string]string{"ce-specversion": "1.0", "ce-id": "i", "ce-source": "s", "ce-type": "t", "content-type": "application/json"}
	d := mustNew(f, Config{Format: FormatCloudEvents, Paths: []string{"key", "a.b", "a.b.0", "$ce.id", "$ce.time", "$ce.data"}, ProcessingTime: true})
	f.Fuzz(func(t *testing.T, data []byte, binary bool) {
		rec := core.Record{ID: "r", Data: data}
		if binary {
			rec.Attrs = binAttrs
		}
		var ev core.Event
		err := d.Decode("p", &rec, now, &ev)
		if err != nil {
			var fl *core.Failure
			if !errors.As(err, &fl) {
				t.Fatalf("error %v is not a *core.Failure", err)
			}
			return
		}
		if binary {
			if len(bytes.TrimSpace(data)) > 0 && !json.Valid(data) {
				t.Fatalf("binary mode decoded invalid JSON data %q", data)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("structured mode decoded invalid JSON %q", data)
		}
		var env map[string]any
		if json.Unmarshal(data, &env) != nil {
			return
		}
		for _, a := range []string{"specversion", "id", "source", "type"} {
			if _, ok := env[a]; !ok {
				t.Fatalf("decoded a CloudEvent without %s: %q", a, data)
			}
		}
		if _, ok := env["data_base64"]; ok {
			return
		}
		for i, segs := range [][]string{{"key"}, {"a", "b"}, {"a", "b", "0"}} {
			want, ok := lookup(env["data"], segs)
			if _, has := env["data"]; !has || !ok {
				if ev.Fields[i].Kind != core.Missing {
					t.Fatalf("%q: field %d = %+v, want missing", data, i, ev.Fields[i])
				}
				continue
			}
			if err := sameAsStdlib(ev.Fields[i], want); err != nil {
				t.Fatalf("%q: field %d: %v", data, i, err)
			}
		}
		if id, ok := env["id"]; ok {
			if err := sameAsStdlib(ev.Fields[3], id); err != nil {
				t.Fatalf("%q: $ce.id: %v", data, err)
			}
		}
	})
}
