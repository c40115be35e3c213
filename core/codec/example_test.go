package codec_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
)

// The pipeline builds its field table, then one Decoder per goroutine.
func Example() {
	var fields core.FieldTable
	value := fields.Index("value")
	temp := fields.Index(`device["temp.c"]`)

	dec, err := codec.New(codec.Config{Paths: fields.Paths(), Key: "key", Time: "ts", TimeFormat: "unix_ms"})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := core.Record{ID: "49590338", Offset: "12",
		Data: []byte(`{"key":"sensor-0042","ts":1700000000123,"value":42.5,"device":{"temp.c":21}}`)}
	var ev core.Event
	if err := dec.Decode("shard-0", &rec, time.Now(), &ev); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Key, ev.Time.Format(time.RFC3339Nano), ev.Fields[value].Num, ev.Fields[temp].Num)

	// A bad record is a *core.Failure naming the record, the field and the reason.
	rec = core.Record{ID: "49590339", Data: []byte(`{"key":"sensor-0042","ts":"yesterday"}`)}
	fmt.Println(dec.Decode("shard-0", &rec, time.Now(), &ev))
	// Output:
	// sensor-0042 2023-11-14T22:13:20.123Z 42.5 21
	// record "49590339" field "ts": "yesterday" is not a unix time in milliseconds
}

// A binary-mode CloudEvent (as Eventarc delivers Pub/Sub messages over HTTP): the attributes are
// headers, the payload is the event data.
func ExampleDecoder_Decode_cloudEvent() {
	dec, _ := codec.New(codec.Config{Format: codec.FormatCloudEvents, Paths: []string{"$ce.type", "message.attributes.origin"},
		Key: "message.orderingKey", Time: "$ce.time"})
	rec := core.Record{ID: "2070443601311540",
		Attrs: map[string]string{"ce-id": "2070443601311540", "ce-specversion": "1.0", "ce-time": "2025-11-25T16:00:01.987Z",
			"ce-type": "google.cloud.pubsub.topic.v1.messagePublished", "ce-source": "//pubsub.googleapis.com/projects/p/topics/t",
			"Content-Type": "application/json"},
		Data: []byte(`{"message":{"data":"e30=","attributes":{"origin":"sensor-gw"},"orderingKey":"sensor-0001"}}`)}
	var ev core.Event
	if err := dec.Decode("", &rec, time.Now(), &ev); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Key, ev.Time.Format(time.RFC3339Nano), ev.Fields[0].Str, ev.Fields[1].Str)
	// Output: sensor-0001 2025-11-25T16:00:01.987Z google.cloud.pubsub.topic.v1.messagePublished sensor-gw
}

// Replaying newline-delimited JSON (gzip is detected).
func ExampleLines() {
	lines, err := codec.NewLines(strings.NewReader("{\"key\":\"a\",\"ts\":1}\n\n{\"key\":\"b\",\"ts\":2}\n"), "events.ndjson")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lines.Close()
	var rec core.Record
	for lines.Next(&rec) {
		fmt.Println(rec.ID, rec.Offset, string(rec.Data))
	}
	if err := lines.Err(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// events.ndjson:1 1 {"key":"a","ts":1}
	// events.ndjson:3 3 {"key":"b","ts":2}
}

// Replaying in batches without copying: each batch is decoded (here just printed) before the third
// NextBatch call after it reuses its buffer.
func ExampleLines_NextBatch() {
	input := "{\"key\":\"a\",\"ts\":1}\r\n{\"key\":\"b\",\"ts\":2}\n\n{\"key\":\"c\",\"ts\":3}"
	lines, err := codec.NewLines(strings.NewReader(input), "events.ndjson")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lines.Close()
	recs := make([]core.Record, 2)
	for n := lines.NextBatch(recs); n > 0; n = lines.NextBatch(recs) {
		for _, rec := range recs[:n] {
			fmt.Println(rec.ID, string(rec.Data))
		}
		fmt.Println("--")
	}
	if err := lines.Err(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// events.ndjson:1 {"key":"a","ts":1}
	// events.ndjson:2 {"key":"b","ts":2}
	// --
	// events.ndjson:4 {"key":"c","ts":3}
	// --
}

func ExampleAppendCloudEvent() {
	res := &core.WindowResult{Function: "w1", Key: "sensor-0042", Start: time.Unix(1700000040, 0), End: time.Unix(1700000100, 0),
		Values: []core.NamedValue{{Name: "count", Num: 3}}}
	os.Stdout.Write(codec.AppendCloudEvent(nil, res, "//eddy/w1"))
	fmt.Println()
	// Output: {"specversion":"1.0","id":"10970226054c611ae5a238b0971f7e93","source":"//eddy/w1","type":"dev.eddy.window","subject":"sensor-0042","time":"2023-11-14T22:15:00.000Z","datacontenttype":"application/json","data":{"type":"window","id":"10970226054c611ae5a238b0971f7e93","function":"w1","key":"sensor-0042","start":"2023-11-14T22:14:00.000Z","end":"2023-11-14T22:15:00.000Z","revision":0,"values":{"count":3}}}
}

func ExampleParsePath() {
	for _, s := range []string{"items.0.price", `a["x.y"].b`, "$attr.origin", "$ce.type"} {
		p, _ := codec.ParsePath(s)
		fmt.Printf("%s: source %d, segments %q, name %q\n", p, p.Source, p.Segments, p.Name)
	}
	// Output:
	// items.0.price: source 0, segments ["items" "0" "price"], name ""
	// a["x.y"].b: source 0, segments ["a" "x.y" "b"], name ""
	// $attr.origin: source 4, segments [], name "origin"
	// $ce.type: source 5, segments [], name "type"
}
