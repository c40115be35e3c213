package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core"
)

var update = flag.Bool("update", false, "rewrite the archive samples under testdata")

// captureSchema is Event Hubs Capture's Avro schema as Microsoft documents it
// (event-hubs-capture-overview.md: "Exploring captured files").
const captureSchema = `{"type":"record","name":"EventData","namespace":"Microsoft.ServiceBus.Messaging","fields":[
 {"name":"SequenceNumber","type":"long"},
 {"name":"Offset","type":"string"},
 {"name":"EnqueuedTimeUtc","type":"string"},
 {"name":"SystemProperties","type":{"type":"map","values":["long","double","string","bytes"]}},
 {"name":"Properties","type":{"type":"map","values":["long","double","string","bytes","null"]}},
 {"name":"Body","type":["null","bytes"]}]}`

// pubsubSchema is the Avro schema of a Pub/Sub Cloud Storage subscription with write_metadata
// (subscription_name, message_id, publish_time, attributes, data).
const pubsubSchema = `{"type":"record","name":"PubsubMessage","namespace":"com.google.pubsub.v1","fields":[
 {"name":"subscription_name","type":"string"},
 {"name":"message_id","type":"string"},
 {"name":"publish_time","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"attributes","type":{"type":"map","values":"string"}},
 {"name":"data","type":"bytes"}]}`

// sampleStart is the event time of the samples' first event: 2025-11-25T10:00:00Z.
var sampleStart = time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)

// sampleEvents are the samples' events: 240 readings of 4 sensors, 30 s apart, over two hours.
func sampleEvents() [][]byte {
	var evs [][]byte
	for i := range 240 {
		ts := sampleStart.Add(time.Duration(i) * 30 * time.Second)
		evs = append(evs, fmt.Appendf(nil, `{"key":"sensor-%d","ts":%d,"value":%d}`, i%4, ts.UnixMilli(), (i*37)%100))
	}
	return evs
}

// sampleFiles are the archive samples, by path under testdata: the same events as Firehose
// objects (one hour gzip JSON lines, the next JSON back to back, as Firehose writes without a
// delimiter), Event Hubs Capture files of two partitions, and a Pub/Sub Cloud Storage
// subscription's Avro object.
func sampleFiles(t testing.TB) map[string][]byte {
	evs := sampleEvents()
	files := map[string][]byte{}
	// Firehose: YYYY/MM/dd/HH/<stream>-<version>-YYYY-MM-dd-HH-mm-ss-<uuid>[.gz].
	var lines bytes.Buffer
	for _, e := range evs[:120] {
		lines.Write(e)
		lines.WriteByte('\n')
	}
	files["firehose/2025/11/25/10/eddy-readings-1-2025-11-25-10-00-00-6b1f0c1e-8a52-4f5e-9d1c-2b7e1d1c0a01.gz"] = gz(t, lines.Bytes())
	files["firehose/2025/11/25/11/eddy-readings-1-2025-11-25-11-00-00-0d3c2f4e-1b2a-4c5d-8e9f-3a4b5c6d7e02"] = bytes.Join(evs[120:], nil)
	// Event Hubs Capture: {Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}.avro,
	// a file per partition per 30-minute window.
	for p := range 2 {
		for w := range 4 {
			var recs []captureRecord
			for i := w * 60; i < (w+1)*60; i++ {
				if i%2 != p {
					continue
				}
				enq := sampleStart.Add(time.Duration(i)*30*time.Second + 250*time.Millisecond)
				recs = append(recs, captureRecord{
					SequenceNumber:  int64(i / 2),
					Offset:          fmt.Sprint(i / 2 * 4096),
					EnqueuedTimeUtc: enq.Format("1/2/2006 3:04:05 PM"),
					SystemProperties: map[string]any{"x-opt-sequence-number": int64(i / 2), "x-opt-offset": fmt.Sprint(i / 2 * 4096),
						"x-opt-enqueued-time": enq.UnixMilli(), "x-opt-partition-key": fmt.Sprintf("sensor-%d", i%4)},
					Properties: map[string]any{"site": "plant-1", "seq": int64(i)},
					Body:       evs[i],
				})
			}
			end := sampleStart.Add(time.Duration(w+1) * 30 * time.Minute)
			name := fmt.Sprintf("capture/eddyns/readings/%d/%s.avro", p, end.Format("2006/01/02/15/04/05"))
			files[name] = avroFile(t, captureSchema, ocf.Deflate, recs)
		}
	}
	// Pub/Sub Cloud Storage subscription: <filename_prefix><datetime>_<uuid><filename_suffix>, here
	// with filename_datetime_format YYYY-MM-DDThh_mm_ssZ (the default has colons, which module zips
	// refuse).
	var msgs []pubsubRecord
	for i, e := range evs {
		msgs = append(msgs, pubsubRecord{
			SubscriptionName: "projects/eddy-demo/subscriptions/readings-archive",
			MessageID:        fmt.Sprint(17000000000 + i),
			PublishTime:      sampleStart.Add(time.Duration(i)*30*time.Second + 120*time.Millisecond),
			Attributes:       map[string]string{"site": "plant-1", "ordering_key": fmt.Sprintf("sensor-%d", i%4)},
			Data:             e,
		})
	}
	files["pubsub/readings/2025-11-25T10_00_00Z_9f8e7d6c-5b4a-4321-8fed-cba987654321.avro"] = avroFile(t, pubsubSchema, ocf.Null, msgs)
	return files
}

func gz(t testing.TB, b []byte) []byte {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

func avroFile[T any](t testing.TB, schema string, codec ocf.CodecName, recs []T) []byte {
	var b bytes.Buffer
	// A fixed sync marker keeps the samples the same from one run of the generator to the next.
	enc, err := ocf.NewEncoder(schema, &b, ocf.WithCodec(codec), ocf.WithSyncBlock([16]byte{'e', 'd', 'd', 'y'}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The committed samples are what the generator makes (go test ./internal/archive -run
// TestSamples -update rewrites them).
func TestSamples(t *testing.T) {
	for name, want := range sampleFiles(t) {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./internal/archive -run TestSamples -update writes the samples)", err)
		}
		if filepath.Ext(path) == ".avro" {
			// Avro maps are written in Go's map order: compare what the files hold.
			g, w := objectRecords(t, got), objectRecords(t, want)
			if len(g) != len(w) {
				t.Fatalf("%s: %d records, the generator makes %d", path, len(g), len(w))
			}
			for i := range g {
				if !sameRecord(g[i], w[i]) {
					t.Fatalf("%s: record %d %+v, the generator makes %+v", path, i, g[i], w[i])
				}
			}
		} else if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator makes", path)
		}
	}
}

// objectRecords reads the records of one object.
func objectRecords(t testing.TB, b []byte) []core.Record {
	t.Helper()
	or, err := newObjectReader(bufio.NewReader(bytes.NewReader(b)), "obj")
	if err != nil {
		t.Fatal(err)
	}
	var recs []core.Record
	for {
		var r core.Record
		ok, err := or.read(&r)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return recs
		}
		r.Data = bytes.Clone(r.Data)
		recs = append(recs, r)
	}
}

// readAll reads every record of an archive.
func readAll(t testing.TB, url string, opts Options) ([]core.Record, *Reader) {
	t.Helper()
	r, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var all []core.Record
	recs := make([]core.Record, 7)
	for {
		n := r.NextBatch(recs)
		if n == 0 {
			if r.NextPartition() {
				continue
			}
			break
		}
		for _, rec := range recs[:n] {
			rec.Data = bytes.Clone(rec.Data) // valid for a few calls only
			all = append(all, rec)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return all, r
}

func testdataURL(t testing.TB, dir string) string {
	abs, err := filepath.Abs(filepath.Join("testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + abs
}

// Each sample reads back as the events it was made of, in order, with what the live adapters
// would give the same events: ids, keys, times and attributes.
func TestSamplesRead(t *testing.T) {
	evs := sampleEvents()
	fh, _ := readAll(t, testdataURL(t, "firehose"), Options{})
	if len(fh) != len(evs) {
		t.Fatalf("firehose: %d records, want %d", len(fh), len(evs))
	}
	for i, r := range fh {
		if !bytes.Equal(r.Data, evs[i]) {
			t.Fatalf("firehose record %d %s: %s, want %s", i, r.ID, r.Data, evs[i])
		}
	}
	if fh[0].ID != "2025/11/25/10/eddy-readings-1-2025-11-25-10-00-00-6b1f0c1e-8a52-4f5e-9d1c-2b7e1d1c0a01.gz:1" {
		t.Fatalf("firehose id %q", fh[0].ID)
	}

	ps, _ := readAll(t, testdataURL(t, "pubsub"), Options{})
	if len(ps) != len(evs) {
		t.Fatalf("pubsub: %d records", len(ps))
	}
	for i, r := range ps {
		want := core.Record{ID: fmt.Sprint(17000000000 + i), Key: fmt.Sprintf("sensor-%d", i%4),
			Time: sampleStart.Add(time.Duration(i)*30*time.Second + 120*time.Millisecond), Data: evs[i],
			Attrs: map[string]string{"site": "plant-1"}}
		if !sameRecord(r, want) {
			t.Fatalf("pubsub record %d: %+v, want %+v", i, r, want)
		}
	}

	cp, rd := readAll(t, testdataURL(t, "capture"), Options{})
	if len(cp) != len(evs) || len(rd.Objects()) != 8 {
		t.Fatalf("capture: %d records from %d objects", len(cp), len(rd.Objects()))
	}
	// Partition by partition, each in time order.
	if p := rd.Partitions(); len(p) != 2 || p[0] != "0" || p[1] != "1" {
		t.Fatalf("partitions %q", p)
	}
	seen := map[string]int{}
	for _, r := range cp {
		var i int
		fmt.Sscanf(string(r.Data[bytes.LastIndex(r.Data, []byte(`"value":`)):]), `"value":%d`, &i)
		seen[string(r.Data)]++
		if r.ID != r.Offset || r.Key == "" || r.Attrs["site"] != "plant-1" || r.Time.IsZero() {
			t.Fatalf("capture record %+v", r)
		}
	}
	for i, e := range evs {
		if seen[string(e)] != 1 {
			t.Fatalf("capture: event %d read %d times", i, seen[string(e)])
		}
	}
	// Within a partition's file, what the live adapter makes of the same event.
	first := cp[0]
	if first.ID != "0" || first.Key != "sensor-0" || !first.Time.Equal(sampleStart) || first.Attrs["seq"] != "0" {
		t.Fatalf("capture record 0: %+v", first)
	}
}

func sameRecord(a, b core.Record) bool {
	if a.ID != b.ID || a.Key != b.Key || !a.Time.Equal(b.Time) || !bytes.Equal(a.Data, b.Data) || len(a.Attrs) != len(b.Attrs) {
		return false
	}
	for k, v := range b.Attrs {
		if a.Attrs[k] != v {
			return false
		}
	}
	return true
}

// Capture and Pub/Sub records become what the live adapters make of the same events:
// adapters/azure.Record of the received event, adapters/gcp's Message.Record of the message.
func TestArchiveRecordsAsLive(t *testing.T) {
	for name, b := range sampleFiles(t) {
		if filepath.Ext(name) != ".avro" {
			continue
		}
		a, err := newAvroReader(bufio.NewReader(bytes.NewReader(b)), name)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			var got core.Record
			ok, err := a.read(&got)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			n++
			var want core.Record
			if a.capture {
				c := a.cr
				e := &azeventhubs.ReceivedEventData{EventData: azeventhubs.EventData{Body: c.Body, Properties: c.Properties},
					SequenceNumber: c.SequenceNumber, Offset: c.Offset, SystemProperties: c.SystemProperties}
				enq, _ := parseEnqueued(c.EnqueuedTimeUtc)
				e.EnqueuedTime = &enq
				pk := c.SystemProperties["x-opt-partition-key"].(string)
				e.PartitionKey = &pk
				want = azure.Record(e)
			} else {
				p := a.pr
				attrs := maps.Clone(p.Attributes)
				delete(attrs, "ordering_key")
				m := gcp.Message{ID: p.MessageID, Data: p.Data, Attributes: attrs, OrderingKey: p.Attributes["ordering_key"], PublishTime: p.PublishTime.UTC()}
				want = m.Record()
			}
			if !sameRecord(got, want) || got.Offset != want.Offset {
				t.Fatalf("%s record %d: %+v, the live adapter makes %+v", name, n, got, want)
			}
		}
		if n == 0 {
			t.Fatalf("%s: no records", name)
		}
	}
}
