package codec

import (
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

func benchDecode(b *testing.B, cfg Config, rec core.Record) {
	b.Helper()
	d, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var ev core.Event
	now := time.Unix(1700000000, 0)
	if err := d.Decode("p0", &rec, now, &ev); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(rec.Data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := d.Decode("p0", &rec, now, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFlat decodes the standard event with key and time from fields.
func BenchmarkDecodeFlat(b *testing.B) {
	benchDecode(b, Config{Paths: []string{"key", "ts", "value"}, Key: "key", Time: "ts", TimeFormat: "unix_ms"},
		core.Record{ID: "1", Offset: "1", Data: []byte(`{"key":"sensor-0042","ts":1700000000123,"value":42.5}`)})
}

// BenchmarkDecodeFlatAuto is the standard event with the time unit picked by magnitude.
func BenchmarkDecodeFlatAuto(b *testing.B) {
	benchDecode(b, Config{Paths: []string{"key", "ts", "value"}, Key: "key", Time: "ts"},
		core.Record{ID: "1", Offset: "1", Data: []byte(`{"key":"sensor-0042","ts":1700000000123,"value":42.5}`)})
}

// BenchmarkDecodeNested reads fields two levels down and skips a sibling subtree and an array.
func BenchmarkDecodeNested(b *testing.B) {
	benchDecode(b, Config{Paths: []string{"device.id", "reading.temp", "reading.items.1.v"}, Key: "device.id", Time: "ts"},
		core.Record{ID: "1", Offset: "1", Data: []byte(`{"device":{"id":"sensor-0042","site":"north","tags":["a","b"]},` +
			`"ts":1700000000123,"reading":{"temp":21.25,"unit":"C","items":[{"v":1},{"v":2.5}]},"note":"esc \"q\" \u00e9"}`)})
}

// BenchmarkDecodeRFC3339 is the standard event with an RFC 3339 time with an offset; the time is not
// also a field, so its string is never copied.
func BenchmarkDecodeRFC3339(b *testing.B) {
	benchDecode(b, Config{Paths: []string{"key", "value"}, Key: "key", Time: "ts"},
		core.Record{ID: "1", Offset: "1", Data: []byte(`{"key":"sensor-0042","ts":"2023-11-14T22:13:20.123+01:00","value":42.5}`)})
}

// BenchmarkDecodeRFC3339Field is BenchmarkDecodeRFC3339 with the time also a field (its string is
// copied into Fields: one allocation).
func BenchmarkDecodeRFC3339Field(b *testing.B) {
	benchDecode(b, Config{Paths: []string{"key", "ts", "value"}, Key: "key", Time: "ts"},
		core.Record{ID: "1", Offset: "1", Data: []byte(`{"key":"sensor-0042","ts":"2023-11-14T22:13:20.123+01:00","value":42.5}`)})
}

// BenchmarkDecodeCloudEventStructured is the standard event in a structured-mode CloudEvent.
func BenchmarkDecodeCloudEventStructured(b *testing.B) {
	benchDecode(b, Config{Format: FormatCloudEvents, Paths: []string{"key", "ts", "value", "$ce.type"}, Key: "key", Time: "ts"},
		core.Record{ID: "1", Offset: "1", Data: []byte(`{"specversion":"1.0","id":"e-1","source":"/sensors","type":"dev.example.reading",` +
			`"time":"2023-11-14T22:13:20.123Z","datacontenttype":"application/json","data":{"key":"sensor-0042","ts":1700000000123,"value":42.5}}`)})
}

// BenchmarkDecodeCloudEventBinary is the standard event in a binary-mode CloudEvent with time from ce-time.
func BenchmarkDecodeCloudEventBinary(b *testing.B) {
	benchDecode(b, Config{Format: FormatCloudEvents, Paths: []string{"key", "value"}, Key: "key", Time: "$ce.time"},
		core.Record{ID: "1", Offset: "1", Data: []byte(`{"key":"sensor-0042","ts":1700000000123,"value":42.5}`),
			Attrs: map[string]string{"ce-specversion": "1.0", "ce-id": "e-1", "ce-source": "/sensors",
				"ce-type": "dev.example.reading", "ce-time": "2023-11-14T22:13:20.123Z", "content-type": "application/json"}})
}

// BenchmarkDecodeW1 is the W1 line (examples/bench/gen) as `eddy replay --spec examples/bench/w1.yaml`
// decodes it: one visible field (value), key and time in hidden slots.
func BenchmarkDecodeW1(b *testing.B) {
	benchDecode(b, Config{Paths: []string{"value"}, Key: "key", Time: "ts", TimeFormat: "unix_ms"},
		core.Record{ID: "1", Offset: "1", Data: []byte(`{"key":"sensor-0259","ts":1699999999427,"value":76.75}`)})
}

// BenchmarkDecodeW1Batch decodes W1 lines into a batch of 4,096 events, as eddy replay does: each
// event's memory was last touched a batch earlier, so its writes and reads miss the nearest caches.
func BenchmarkDecodeW1Batch(b *testing.B) {
	d, err := New(Config{Paths: []string{"value"}, Key: "key", Time: "ts", TimeFormat: "unix_ms"})
	if err != nil {
		b.Fatal(err)
	}
	const n = 4096
	recs := make([]core.Record, n)
	for i := range recs {
		recs[i] = core.Record{ID: "1", Offset: "1", Data: []byte(`{"key":"sensor-` + string(rune('0'+i%10)) + `259","ts":1699999999427,"value":76.75}`)}
	}
	evs := make([]core.Event, n)
	now := time.Unix(1700000000, 0)
	for i := range evs {
		if err := d.Decode("p0", &recs[i], now, &evs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := d.Decode("p0", &recs[i%n], now, &evs[i%n]); err != nil {
			b.Fatal(err)
		}
	}
}
