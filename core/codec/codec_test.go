package codec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

var now = time.Date(2025, 11, 25, 16, 0, 5, 0, time.UTC)

func mustNew(t testing.TB, cfg Config) *Decoder {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func decode(t testing.TB, cfg Config, rec core.Record) (core.Event, error) {
	t.Helper()
	var ev core.Event
	err := mustNew(t, cfg).Decode("p1", &rec, now, &ev)
	return ev, err
}

func num(f float64) core.Value     { return core.Value{Kind: core.Number, Num: f} }
func str(s string) core.Value      { return core.Value{Kind: core.String, Str: s} }
func boolean(b bool) core.Value    { return core.Value{Kind: core.Bool, Bool: b} }
func object(raw string) core.Value { return core.Value{Kind: core.Object, Raw: []byte(raw)} }

var null = core.Value{Kind: core.Null}
var missing = core.Value{}

func sameValue(a, b core.Value) bool {
	return a.Kind == b.Kind && (a.Kind != core.Number || a.Num == b.Num) && (a.Kind != core.String || a.Str == b.Str) &&
		(a.Kind != core.Bool || a.Bool == b.Bool) && (a.Kind != core.Object || string(a.Raw) == string(b.Raw))
}

func TestDecodeStandardEvent(t *testing.T) {
	rec := core.Record{ID: "4959", Offset: "17", Key: "pk", Time: now.Add(-time.Second),
		Data: []byte(`{"key":"sensor-0042","ts":1700000000123,"value":42.5}`), Attrs: map[string]string{"a": "b"}}
	ev, err := decode(t, Config{Paths: []string{"key", "ts", "value"}, Key: "key", Time: "ts", TimeFormat: "unix_ms"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "4959" || ev.Key != "sensor-0042" || !ev.Time.Equal(time.UnixMilli(1700000000123)) ||
		string(ev.Data) != string(rec.Data) || ev.Attrs["a"] != "b" || ev.Pos != (core.Pos{Partition: "p1", Offset: "17"}) {
		t.Errorf("event = %+v", ev)
	}
	want := []core.Value{str("sensor-0042"), num(1700000000123), num(42.5)}
	if len(ev.Fields) != len(want) {
		t.Fatalf("fields = %+v", ev.Fields)
	}
	for i := range want {
		if !sameValue(ev.Fields[i], want[i]) {
			t.Errorf("field %d = %+v, want %+v", i, ev.Fields[i], want[i])
		}
	}
}

func TestDecodePaths(t *testing.T) {
	payload := `{"a":{"b":{"c":1}},"items":[{"price":1.5},{"price":2.5,"tags":["x","y"]}],"x.y":"dotted",` +
		`"a.b":{"c":"quoted"},"$key":"dollar","esc\u0041":"\u00e9\ud83d\ude00\n","t":true,"f":false,"n":null,` +
		`"0":"zero key","arr":[[1,2],[3,[4,5]]],"obj":{"k":[1, {"z":null}]},"big":1e300,"neg":-0.5e-3,"":"empty"}`
	tests := []struct {
		path string
		want core.Value
	}{
		{"a.b.c", num(1)},
		{"a.b", object(`{"c":1}`)},
		{"a", object(`{"b":{"c":1}}`)},
		{"items.0.price", num(1.5)},
		{"items.1.price", num(2.5)},
		{"items.1.tags.1", str("y")},
		{"items.2.price", missing},
		{"items.01", missing},
		{"items.x", missing},
		{`["x.y"]`, str("dotted")},
		{`x.y`, missing},
		{`["a.b"].c`, str("quoted")},
		{`["$key"]`, str("dollar")},
		{"escA", str("é😀\n")},
		{"t", boolean(true)},
		{"f", boolean(false)},
		{"n", null},
		{"n.x", missing},
		{"t.x", missing},
		{"0", str("zero key")},
		{"arr.1.1.0", num(4)},
		{"arr.0", object(`[1,2]`)},
		{"obj.k.1.z", null},
		{"obj.k.1", object(`{"z":null}`)},
		{"big", num(1e300)},
		{"neg", num(-0.0005)},
		{`[""]`, str("empty")},
		{"nope", missing},
		{"a.b.c.d", missing},
	}
	paths := make([]string, len(tests))
	for i, tt := range tests {
		paths[i] = tt.path
	}
	ev, err := decode(t, Config{Paths: paths, ProcessingTime: true}, core.Record{ID: "r", Data: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		if !sameValue(ev.Fields[i], tt.want) {
			t.Errorf("path %s = %+v, want %+v", tt.path, ev.Fields[i], tt.want)
		}
	}
	if !ev.Time.Equal(now) {
		t.Errorf("processing time = %v, want %v", ev.Time, now)
	}
}

func TestDecodeDuplicateMembersLastWins(t *testing.T) {
	ev, err := decode(t, Config{Paths: []string{"a.b", "a.c", "x"}, ProcessingTime: true},
		core.Record{Data: []byte(`{"a":{"b":1,"c":2},"x":1,"a":{"c":3},"x":"two"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !sameValue(ev.Fields[0], missing) || !sameValue(ev.Fields[1], num(3)) || !sameValue(ev.Fields[2], str("two")) {
		t.Errorf("fields = %+v", ev.Fields)
	}
}

func TestDecodeSpecialPaths(t *testing.T) {
	rec := core.Record{ID: "id-1", Key: "pk-7", Time: time.UnixMilli(1700000000123), Data: []byte("not json at all"),
		Attrs: map[string]string{"Origin": "gw", "x.y": "dotted"}}
	cfg := Config{Format: FormatRaw, Paths: []string{"$key", "$time", "$id", "$attr.Origin", "$attr.origin", "$attr.x.y", "$attr.none"},
		Key: "$key", Time: "$time"}
	ev, err := decode(t, cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	want := []core.Value{str("pk-7"), num(1700000000123), str("id-1"), str("gw"), str("gw"), str("dotted"), missing}
	for i := range want {
		if !sameValue(ev.Fields[i], want[i]) {
			t.Errorf("%s = %+v, want %+v", cfg.Paths[i], ev.Fields[i], want[i])
		}
	}
	if ev.Key != "pk-7" || !ev.Time.Equal(rec.Time) || string(ev.Data) != "not json at all" {
		t.Errorf("event = %+v", ev)
	}
}

// key: $key on a message without a transport key (Pub/Sub without an ordering key, Event Hubs
// with a null partition key) gives the key of keyless events, "", rather than failing the record;
// a payload field that is missing still fails it.
func TestDecodeTransportKeyAbsent(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatRaw} {
		ev, err := decode(t, Config{Format: format, Key: "$key", ProcessingTime: true}, core.Record{ID: "m-1", Data: []byte(`{"v":1}`)})
		if err != nil || ev.Key != "" {
			t.Errorf("%s, $key, no transport key: key %q, %v; want \"\" and no failure", format, ev.Key, err)
		}
	}
	if _, err := decode(t, Config{Key: "device", ProcessingTime: true}, core.Record{ID: "m-2", Key: "pk", Data: []byte(`{"v":1}`)}); err == nil {
		t.Error("a missing key field decoded")
	}
}

func TestDecodeKeyForms(t *testing.T) {
	tests := []struct {
		payload, want string
	}{
		{`{"k":"s"}`, "s"},
		{`{"k":42}`, "42"},
		{`{"k":42.0}`, "42"},
		{`{"k":-7}`, "-7"},
		{`{"k":4.25}`, "4.25"},
		{`{"k":1e21}`, "1e+21"},
		{`{"k":true}`, "true"},
		{`{"k":false}`, "false"},
		{`{"k":"\u00e9"}`, "é"},
	}
	for _, tt := range tests {
		ev, err := decode(t, Config{Key: "k", ProcessingTime: true}, core.Record{Data: []byte(tt.payload)})
		if err != nil || ev.Key != tt.want {
			t.Errorf("%s: key = %q, %v; want %q", tt.payload, ev.Key, err, tt.want)
		}
		if len(ev.Fields) != 0 {
			t.Errorf("%s: hidden key slot leaked into Fields: %+v", tt.payload, ev.Fields)
		}
	}
	ev, err := decode(t, Config{ProcessingTime: true}, core.Record{Data: []byte(`{}`)})
	if err != nil || ev.Key != "" {
		t.Errorf("no key: %q, %v", ev.Key, err)
	}
}

func TestDecodeTimeForms(t *testing.T) {
	ms := time.UnixMilli(1700000000123)
	tests := []struct {
		payload, format string
		want            time.Time
	}{
		{`{"t":1700000000123}`, "", ms},
		{`{"t":1700000000123}`, "unix_ms", ms},
		{`{"t":"1700000000123"}`, "unix_ms", ms},
		{`{"t":1700000000.123}`, "unix", ms},
		{`{"t":1.700000000123e9}`, "auto", ms},
		{`{"t":1700000000123456}`, "unix_us", ms.Add(456 * time.Microsecond)},
		{`{"t":1700000000123456789}`, "unix_ns", time.Unix(1700000000, 123456789)},
		{`{"t":1700000000123456789}`, "auto", time.Unix(1700000000, 123456789)},
		{`{"t":"2023-11-14T22:13:20.123Z"}`, "", ms},
		{`{"t":"2023-11-14T23:13:20.123+01:00"}`, "rfc3339", ms},
		{`{"t":"2023-11-14T22:13:20Z"}`, "", time.Unix(1700000000, 0)},
		{`{"t":"2023-11-14T22:13:20\u002e123Z"}`, "", ms},
	}
	for _, tt := range tests {
		for _, visible := range []bool{false, true} {
			cfg := Config{Time: "t", TimeFormat: tt.format}
			if visible {
				cfg.Paths = []string{"t"}
			}
			ev, err := decode(t, cfg, core.Record{Data: []byte(tt.payload)})
			if err != nil || !ev.Time.Equal(tt.want) {
				t.Errorf("%s (%s): time = %v, %v; want %v", tt.payload, tt.format, ev.Time, err, tt.want)
			}
		}
	}
}

func TestKeyAndTimeFuncs(t *testing.T) {
	cfg := Config{
		Paths: []string{"a", "b"},
		KeyFunc: func(ev *core.Event) (string, error) {
			return ev.Fields[0].Text() + "/" + ev.Fields[1].Text(), nil
		},
		TimeFunc: func(ev *core.Event) (time.Time, error) {
			f, _ := ev.Fields[1].Float()
			return time.Unix(int64(f), 0), nil
		},
	}
	ev, err := decode(t, cfg, core.Record{Data: []byte(`{"a":"x","b":12}`)})
	if err != nil || ev.Key != "x/12" || !ev.Time.Equal(time.Unix(12, 0)) {
		t.Errorf("event = %+v, %v", ev, err)
	}
	boom := errors.New("boom")
	cfg.KeyFunc = func(*core.Event) (string, error) { return "", boom }
	_, err = decode(t, cfg, core.Record{ID: "r9", Data: []byte(`{}`)})
	var f *core.Failure
	if !errors.As(err, &f) || !errors.Is(err, boom) || !errors.Is(err, ErrFunc) || f.Error() != `record "r9": key function: boom` {
		t.Errorf("key func error = %v", err)
	}
	cfg.KeyFunc = nil
	cfg.TimeFunc = func(*core.Event) (time.Time, error) { return time.Time{}, boom }
	_, err = decode(t, cfg, core.Record{ID: "r9", Data: []byte(`{}`)})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "time function: boom") {
		t.Errorf("time func error = %v", err)
	}
}

func TestDecodeFailures(t *testing.T) {
	std := Config{Paths: []string{"key", "ts", "value"}, Key: "key", Time: "ts"}
	tests := []struct {
		name    string
		cfg     Config
		payload string
		field   string
		reason  string
		is      error
	}{
		{"missing time", std, `{"key":"k","value":1}`, "ts", "missing", ErrMissing},
		{"null time", std, `{"key":"k","ts":null}`, "ts", "null", ErrMissing},
		{"bad time string", std, `{"key":"k","ts":"abc"}`, "ts", `"abc" is not a unix time or RFC 3339 timestamp`, ErrType},
		{"bool time", std, `{"key":"k","ts":true}`, "ts", "a bool, not a unix time or RFC 3339 timestamp", ErrType},
		{"object time", std, `{"key":"k","ts":{}}`, "ts", "an object or array, not a unix time or RFC 3339 timestamp", ErrType},
		{"time out of range", std, `{"key":"k","ts":1e30}`, "ts", "1e30 is not a unix time or RFC 3339 timestamp", ErrType},
		{"number time rfc3339", Config{Time: "ts", TimeFormat: "rfc3339"}, `{"ts":1700000000}`, "ts", "1700000000 is not an RFC 3339 timestamp", ErrType},
		{"missing key", std, `{"ts":1,"value":1}`, "key", "missing", ErrMissing},
		{"null key", std, `{"key":null,"ts":1}`, "key", "null", ErrMissing},
		{"object key", std, `{"key":[1],"ts":1}`, "key", "an object or array, not a key (want a string or number)", ErrType},
		{"number out of range", std, `{"key":"k","ts":1,"value":-1e400}`, "value", "number -1e400 is out of range", ErrType},
		{"empty", std, ``, "", "payload: empty", ErrSyntax},
		{"blank", std, " \n\t", "", "payload: empty", ErrSyntax},
		{"array", std, `[1,2]`, "", "payload: an array, not a JSON object", ErrSyntax},
		{"null", std, `null`, "", "payload: null, not a JSON object", ErrSyntax},
		{"string", std, ` "s" `, "", "payload: a string, not a JSON object", ErrSyntax},
		{"number", std, `12`, "", "payload: a number, not a JSON object", ErrSyntax},
		{"bad brace", std, `{"key":"k","ts":1,}`, "", "payload: invalid JSON at byte 18: unexpected '}'", ErrSyntax},
		{"brief example", std, `{"key":"k","ts":1}}`, "", "payload: invalid JSON at byte 18: unexpected '}'", ErrSyntax},
		{"truncated", std, `{"key":"k","ts":`, "", "payload: invalid JSON at byte 16: unexpected end of input", ErrSyntax},
		{"trailing", std, `{"key":"k","ts":1} x`, "", "payload: invalid JSON at byte 19: unexpected 'x'", ErrSyntax},
		{"two objects", std, `{"key":"k","ts":1}{}`, "", "unexpected '{'", ErrSyntax},
		{"bad escape", std, `{"key":"\x"}`, "", `payload: invalid JSON at byte 9: invalid escape '\x'`, ErrSyntax},
		{"bad unicode escape", std, `{"key":"\u12G4"}`, "", `invalid \u escape`, ErrSyntax},
		{"control char", std, "{\"key\":\"a\nb\"}", "", "control character 0xa in string", ErrSyntax},
		{"bad skipped number", std, `{"key":"k","ts":1,"other":01}`, "", "unexpected '1'", ErrSyntax},
		{"bad skipped literal", std, `{"key":"k","ts":1,"other":nul}`, "", "unexpected '}'", ErrSyntax},
		{"bad nested skipped", std, `{"key":"k","ts":1,"o":{"a":[1,2,]}}`, "", "unexpected ']'", ErrSyntax},
		{"missing colon", std, `{"key" "k"}`, "", `unexpected '"'`, ErrSyntax},
		{"single quotes", std, `{'key':1}`, "", `unexpected '''`, ErrSyntax},
		{"bom", std, "\xef\xbb\xbf{}", "", "unexpected byte 0xef", ErrSyntax},
		{"deep", std, `{"o":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, "", "nesting deeper than 10000", ErrSyntax},
	}
	for _, tt := range tests {
		rec := core.Record{ID: "4959618", Offset: "3", Data: []byte(tt.payload)}
		_, err := decode(t, tt.cfg, rec)
		var f *core.Failure
		if !errors.As(err, &f) {
			t.Errorf("%s: error = %v, want a *core.Failure", tt.name, err)
			continue
		}
		if f.Field != tt.field || !strings.Contains(f.Reason, tt.reason) || !errors.Is(err, tt.is) || f.Record.ID != rec.ID ||
			string(f.Record.Data) != tt.payload {
			t.Errorf("%s: failure field %q reason %q (err %v), want field %q reason containing %q (%v)",
				tt.name, f.Field, f.Reason, f.Err, tt.field, tt.reason, tt.is)
		}
	}
}

func TestFailureMessage(t *testing.T) {
	_, err := decode(t, Config{Time: "ts"}, core.Record{ID: "4959618", Data: []byte(`{"x":1}`)})
	if got, want := err.Error(), `record "4959618" field "ts": missing`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	_, err = decode(t, Config{Time: "ts"}, core.Record{ID: "4959618", Data: []byte(`{"ts":"abc"}`)})
	if got, want := err.Error(), `record "4959618" field "ts": "abc" is not a unix time or RFC 3339 timestamp`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	kf := func(*core.Event) (string, error) { return "", nil }
	tf := func(*core.Event) (time.Time, error) { return time.Time{}, nil }
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Format: "xml", ProcessingTime: true}, `unknown format "xml"`},
		{Config{TimeFormat: "iso", Time: "t"}, `unknown time format "iso"`},
		{Config{}, "no event time"},
		{Config{Time: "t", ProcessingTime: true}, "only one of"},
		{Config{TimeFunc: tf, Time: "t"}, "only one of"},
		{Config{Key: "k", KeyFunc: kf, ProcessingTime: true}, "both Key and KeyFunc"},
		{Config{Paths: []string{"a..b"}, ProcessingTime: true}, "empty segment"},
		{Config{Key: "$nope", ProcessingTime: true}, "unknown source"},
		{Config{Time: "a.", ProcessingTime: false}, "trailing"},
		{Config{Paths: []string{"$ce.id"}, ProcessingTime: true}, "needs format cloudevents"},
		{Config{Format: "raw", Paths: []string{"value"}, ProcessingTime: true}, "format raw has no payload fields"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestDecodeReusesFields(t *testing.T) {
	d := mustNew(t, Config{Paths: []string{"a", "b"}, ProcessingTime: true})
	var ev core.Event
	if err := d.Decode("p", &core.Record{Data: []byte(`{"a":1,"b":"x"}`)}, now, &ev); err != nil {
		t.Fatal(err)
	}
	first := &ev.Fields[0]
	if err := d.Decode("p", &core.Record{Data: []byte(`{"a":2}`)}, now, &ev); err != nil {
		t.Fatal(err)
	}
	if &ev.Fields[0] != first {
		t.Error("Decode did not reuse ev.Fields")
	}
	if !sameValue(ev.Fields[0], num(2)) || !sameValue(ev.Fields[1], missing) {
		t.Errorf("stale fields: %+v", ev.Fields)
	}
	if d.Len() != 2 {
		t.Errorf("Len = %d", d.Len())
	}
}

func TestDecodeAllocs(t *testing.T) {
	d := mustNew(t, Config{Paths: []string{"key", "ts", "value"}, Key: "key", Time: "ts"})
	rec := core.Record{ID: "1", Data: []byte(`{"key":"sensor-0042","ts":1700000000123,"value":42.5}`)}
	var ev core.Event
	allocs := testing.AllocsPerRun(100, func() {
		if err := d.Decode("p", &rec, now, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v times per event, want 0", allocs)
	}
	// An RFC 3339 time that is not also a field, a nested key, a structured CloudEvent.
	for _, tc := range []struct {
		cfg  Config
		data string
	}{
		{Config{Paths: []string{"value"}, Key: "key", Time: "ts"}, `{"key":"sensor-0042","ts":"2023-11-14T22:13:20.1\u0032+01:00","value":42.5}`},
		{Config{Paths: []string{"d.v"}, Key: "d.k", Time: "t"}, `{"d":{"k":"sensor-1","v":[1,2]},"t":1700000000,"x":[{"y":"z\n"}]}`},
		{Config{Format: FormatCloudEvents, Paths: []string{"value"}, Key: "key", Time: "$ce.time"},
			`{"specversion":"1.0","id":"1","source":"s","type":"t","time":"2023-11-14T22:13:20Z","data":{"key":"k","value":1}}`},
	} {
		d := mustNew(t, tc.cfg)
		rec := core.Record{ID: "1", Data: []byte(tc.data)}
		allocs := testing.AllocsPerRun(100, func() {
			if err := d.Decode("p", &rec, now, &ev); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Decode allocates %v times per event, want 0", tc.data, allocs)
		}
	}
}

func TestInternBounded(t *testing.T) {
	d := mustNew(t, Config{Key: "k", ProcessingTime: true})
	var ev core.Event
	for i := range internLimit + 10 {
		rec := core.Record{Data: []byte(`{"k":"key-` + itoa(i) + `"}`)}
		if err := d.Decode("p", &rec, now, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Key != "key-"+itoa(i) {
			t.Fatalf("key %d = %q", i, ev.Key)
		}
	}
	if len(d.intern) > internLimit {
		t.Errorf("intern table has %d entries, limit %d", len(d.intern), internLimit)
	}
}

func itoa(i int) string { return string(core.AppendNumber(nil, float64(i))) }

func TestClone(t *testing.T) {
	d := mustNew(t, Config{Paths: []string{"v"}, Key: "k", ProcessingTime: true})
	c := d.Clone()
	done := make(chan error, 2)
	for _, dec := range []*Decoder{d, c} {
		go func() {
			var ev core.Event
			for i := range 1000 {
				rec := core.Record{Data: []byte(`{"k":"key-` + itoa(i%10) + `","v":` + itoa(i) + `}`)}
				if err := dec.Decode("p", &rec, now, &ev); err != nil {
					done <- err
					return
				}
				if ev.Key != "key-"+itoa(i%10) || ev.Fields[0].Num != float64(i) {
					done <- errors.New("wrong event " + ev.Key)
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// The transport may reuse its buffers: nothing an event keeps may point into the payload except
// Data and Object values.
func TestDecodeDoesNotAliasStrings(t *testing.T) {
	d := mustNew(t, Config{Paths: []string{"key", "name", "esc"}, Key: "key", Time: "ts"})
	data := []byte(`{"key":"sensor-0042","name":"plain","esc":"a\nb","ts":"2023-11-14T22:13:20Z"}`)
	var ev core.Event
	if err := d.Decode("p", &core.Record{Data: data}, now, &ev); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		if data[i] >= 'a' && data[i] <= 'z' {
			data[i] = 'X'
		}
	}
	if ev.Key != "sensor-0042" || ev.Fields[0].Str != "sensor-0042" || ev.Fields[1].Str != "plain" || ev.Fields[2].Str != "a\nb" {
		t.Errorf("strings changed with the payload: key %q fields %+v", ev.Key, ev.Fields)
	}
}

func TestDecodeWideObjectAndDuplicatePaths(t *testing.T) {
	var paths []string
	var doc strings.Builder
	doc.WriteString(`{"skip":[1,{"x":"y"}]`)
	for i := range 12 {
		name := "f" + itoa(i)
		if i%2 == 0 {
			name = "a_rather_long_member_name_" + itoa(i)
		}
		paths = append(paths, name)
		doc.WriteString(`,"` + name + `":` + itoa(i))
	}
	doc.WriteString(`,"f\u0031":"escaped name wins (last)"}`)
	paths = append(paths, "f1", "nope", "a_rather_long_member_name_nope")
	ev, err := decode(t, Config{Paths: paths, ProcessingTime: true}, core.Record{Data: []byte(doc.String())})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		want := num(float64(i))
		if i == 1 {
			want = str("escaped name wins (last)")
		}
		if !sameValue(ev.Fields[i], want) {
			t.Errorf("%s = %+v, want %+v", paths[i], ev.Fields[i], want)
		}
	}
	if !sameValue(ev.Fields[12], str("escaped name wins (last)")) || ev.Fields[13].Kind != core.Missing || ev.Fields[14].Kind != core.Missing {
		t.Errorf("tail fields = %+v", ev.Fields[12:])
	}
}
