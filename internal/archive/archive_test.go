package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/eddyhq/eddy/core"
)

// memArchive puts files in an in-memory bucket, counting the prefixes listed.
func memArchive(t *testing.T, files map[string][]byte) *blob.Bucket {
	t.Helper()
	b := memblob.OpenBucket(nil)
	for k, v := range files {
		if err := b.WriteAll(context.Background(), k, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func readBucket(t *testing.T, b *blob.Bucket, prefix string, opts Options) ([]core.Record, *Reader, error) {
	t.Helper()
	r, err := OpenBucket(context.Background(), b, prefix, "mem://"+prefix, opts)
	if err != nil {
		return nil, nil, err
	}
	var all []core.Record
	recs := make([]core.Record, 5)
	for {
		n := r.NextBatch(recs)
		if n == 0 {
			if r.NextPartition() {
				continue
			}
			break
		}
		// Data stays valid for retireCalls calls only: keep copies.
		for _, rec := range recs[:n] {
			rec.Data = bytes.Clone(rec.Data)
			all = append(all, rec)
		}
	}
	return all, r, r.Err()
}

// A batch's records keep their bytes until the fourth NextBatch call after, though the buffers
// they point into are read into again later: objects gzip and plain, JSON lines, JSON back to back
// and text, records across buffer boundaries and longer than a buffer.
func TestBatchDataLifetime(t *testing.T) {
	files := map[string][]byte{}
	var want []string
	for o := range 8 {
		var obj bytes.Buffer
		for i := range 3000 {
			var rec string
			switch {
			case o == 5 && i%1000 == 7:
				rec = fmt.Sprintf(`{"o":%d,"i":%d,"pad":"%s"}`, o, i, strings.Repeat("x", bufSize+i))
			case o%4 == 3:
				rec = fmt.Sprintf("text %d %d %s", o, i, strings.Repeat("y", i%97))
			default:
				rec = fmt.Sprintf(`{"o":%d,"i":%d,"pad":"%s"}`, o, i, strings.Repeat("z", i%97))
			}
			want = append(want, rec)
			obj.WriteString(rec)
			if o%4 != 2 { // 2 and 6: Firehose's JSON back to back
				obj.WriteByte('\n')
			}
		}
		data := obj.Bytes()
		if o%2 == 0 {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			data = z.Bytes()
		}
		files[fmt.Sprintf("lt/%02d", o)] = data
	}
	b := memArchive(t, files)
	defer b.Close()
	r, err := OpenBucket(context.Background(), b, "lt/", "mem", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	type held struct {
		recs []core.Record
		at   int // index in want of the first
	}
	var last []held
	got := 0
	for {
		recs := make([]core.Record, 61)
		n := r.NextBatch(recs)
		for _, h := range last {
			for i, rec := range h.recs {
				if string(rec.Data) != want[h.at+i] {
					t.Fatalf("record %d (%s) changed %d calls later: %.40q, want %.40q", h.at+i, rec.ID, len(last), rec.Data, want[h.at+i])
				}
			}
		}
		if n == 0 {
			break
		}
		last = append(last, held{recs[:n], got})
		if len(last) > retireCalls-1 {
			last = last[1:]
		}
		got += n
	}
	if err := r.Err(); err != nil || got != len(want) {
		t.Fatalf("%d records of %d, %v", got, len(want), err)
	}
}

// --from and --to prune the date prefixes of Firehose and Capture and the dated names of Pub/Sub
// objects, with a margin for the objects' buffering.
func TestTimeRange(t *testing.T) {
	files := map[string][]byte{}
	for h := range 6 {
		files[fmt.Sprintf("fh/2025/11/25/%02d/s-1-2025-11-25-%02d-00-00-u", 8+h, 8+h)] = fmt.Appendf(nil, `{"h":%d}`, 8+h)
		files[fmt.Sprintf("eh/ns/hub/0/2025/11/25/%02d/00/00.avro", 8+h)] = nil
		files[fmt.Sprintf("ps/2025-11-25T%02d:00:00Z_u.txt", 8+h)] = fmt.Appendf(nil, "line %d\n", 8+h)
	}
	files["fh/2025/11/24/23/s-1-2025-11-24-23-00-00-u"] = []byte(`{"h":-1}`)
	b := memArchive(t, files)
	defer b.Close()
	from := time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)
	to := time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		prefix string
		margin time.Duration
		want   []string
	}{
		// Objects named in [From-Margin, To+Margin).
		{"fh/", time.Minute, []string{"fh/2025/11/25/10/", "fh/2025/11/25/11/", "fh/2025/11/25/12/"}},
		{"fh/", time.Hour, []string{"fh/2025/11/25/09/", "fh/2025/11/25/10/", "fh/2025/11/25/11/", "fh/2025/11/25/12/"}},
		{"eh/", time.Minute, []string{"eh/ns/hub/0/2025/11/25/10/", "eh/ns/hub/0/2025/11/25/11/", "eh/ns/hub/0/2025/11/25/12/"}},
		{"ps/", time.Minute, []string{"ps/2025-11-25T10", "ps/2025-11-25T11", "ps/2025-11-25T12"}},
	} {
		r, err := OpenBucket(context.Background(), b, c.prefix, "mem", Options{From: from, To: to, Margin: c.margin})
		if err != nil {
			t.Fatal(err)
		}
		objs := r.Objects()
		if len(objs) != len(c.want) {
			t.Fatalf("%s margin %s: %d objects %v, want %v", c.prefix, c.margin, len(objs), objs, c.want)
		}
		for i, o := range objs {
			if !strings.HasPrefix(o.Key, c.want[i]) || o.Time.IsZero() {
				t.Fatalf("%s: object %d %+v, want under %s", c.prefix, i, o, c.want[i])
			}
		}
	}
	// Without a range, everything, in time order.
	recs, _, err := readBucket(t, b, "fh/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 7 || string(recs[0].Data) != `{"h":-1}` || string(recs[6].Data) != `{"h":13}` {
		t.Fatalf("%d records, first %s", len(recs), recs[0].Data)
	}
}

// A corrupt object in the middle of an archive is named: it fails the read, or with Skip it is
// reported and the rest is read.
func TestCorruptObject(t *testing.T) {
	good := gz(t, []byte("{\"a\":1}\n{\"a\":2}\n"))
	broken := bytes.Clone(good)
	broken[len(broken)/2] ^= 0xff // the deflate stream or its checksum breaks
	badAvro := avroFile(t, pubsubSchema, "null", []pubsubRecord{{MessageID: "1", Data: []byte("{}")}, {MessageID: "2", Data: []byte("{}")}})
	badAvro = badAvro[:len(badAvro)-10] // truncated in its last block
	for _, bad := range []struct {
		name string
		data []byte
	}{{"2025/11/25/11/s-1-2025-11-25-11-00-00-u.gz", broken}, {"2025/11/25/11/s-1-2025-11-25-11-00-00-u.avro", badAvro},
		{"2025/11/25/11/s-1-2025-11-25-11-00-00-u.json", []byte(`{"a":1}{"a":`)}} {
		b := memArchive(t, map[string][]byte{
			"2025/11/25/10/s-1-2025-11-25-10-00-00-u.gz": good,
			bad.name: bad.data,
			"2025/11/25/12/s-1-2025-11-25-12-00-00-u.gz": good,
		})
		_, _, err := readBucket(t, b, "", Options{})
		if err == nil || !strings.Contains(err.Error(), bad.name) {
			t.Fatalf("%s: err %v, want one naming the object", bad.name, err)
		}
		var warned []error
		recs, r, err := readBucket(t, b, "", Options{OnCorrupt: Skip, Warn: func(err error) { warned = append(warned, err) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(warned) != 1 || !strings.Contains(warned[0].Error(), bad.name) || len(r.Skipped()) != 1 {
			t.Fatalf("%s: warned %v", bad.name, warned)
		}
		if len(recs) < 4 || string(recs[len(recs)-1].Data) != `{"a":2}` {
			t.Fatalf("%s: %d records read around the corrupt object", bad.name, len(recs))
		}
		b.Close()
	}
}

// An empty prefix, a range with no objects and an unreadable bucket are clear errors.
func TestArchiveErrors(t *testing.T) {
	b := memArchive(t, map[string][]byte{"x/2025/11/25/10/a.json": []byte("{}")})
	defer b.Close()
	if _, err := OpenBucket(context.Background(), b, "y/", "mem://y/", Options{}); err == nil || !strings.Contains(err.Error(), "no objects under the prefix") {
		t.Fatalf("empty prefix: %v", err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := OpenBucket(context.Background(), b, "x/", "mem://x/", Options{From: from}); err == nil || !strings.Contains(err.Error(), "no objects from 2026-01-01T00:00:00Z") {
		t.Fatalf("empty range: %v", err)
	}
	for _, u := range []string{"ftp://b/p", "s3:///p", "file:///nonexistent/dir/eddy"} {
		if _, err := Open(context.Background(), u, Options{}); err == nil {
			t.Fatalf("%s: no error", u)
		} else if !strings.Contains(err.Error(), u) {
			t.Fatalf("%s: error %v does not name it", u, err)
		}
	}
}

// Firehose's JSON back to back, JSON lines with blank lines and CRLF, and text lines split alike.
func TestTextObjects(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{`{"a":"}{"}{"b":[1,{"c":2}]}` + "\n" + `{"d":"\"}"}`, []string{`{"a":"}{"}`, `{"b":[1,{"c":2}]}`, `{"d":"\"}"}`}},
		{"{\"a\":1}\r\n\r\n  {\"a\":2}\n", []string{`{"a":1}`, `{"a":2}`}},
		{"plain text\n\nmore text\r\n", []string{"plain text", "more text"}},
		{"", nil},
	} {
		got := objectRecords(t, []byte(c.in))
		if len(got) != len(c.want) {
			t.Fatalf("%q: %d records, want %d", c.in, len(got), len(c.want))
		}
		for i, r := range got {
			if string(r.Data) != c.want[i] || r.ID != fmt.Sprintf("obj:%s", r.Offset) {
				t.Fatalf("%q: record %d %+v, want %s", c.in, i, r, c.want[i])
			}
		}
	}
	// A record longer than the first buffer.
	long := `{"a":"` + strings.Repeat("x", 200<<10) + `"}`
	if got := objectRecords(t, []byte(long+long)); len(got) != 2 || string(got[1].Data) != long {
		t.Fatalf("long records: %d", len(got))
	}
	_, err := newJSONReader(strings.NewReader(`{"a":1}}`), "o").readAll()
	if err == nil || !errors.Is(err, err) || !strings.Contains(err.Error(), "unexpected") {
		t.Fatalf("stray brace: %v", err)
	}
}

func (j *jsonReader) readAll() (int, error) {
	n := 0
	for {
		var r core.Record
		ok, err := j.read(&r)
		if err != nil || !ok {
			return n, err
		}
		n++
	}
}

// Progress reports every object as it opens and, over the read, exactly the bytes listed.
func TestProgress(t *testing.T) {
	files := map[string][]byte{}
	var size int64
	for o := range 5 {
		var obj bytes.Buffer
		zw := gzip.NewWriter(&obj)
		for i := range 20_000 {
			fmt.Fprintf(zw, `{"o":%d,"i":%d}`+"\n", o, i)
		}
		zw.Close()
		files[fmt.Sprintf("p/%02d.gz", o)] = obj.Bytes()
		size += int64(obj.Len())
	}
	b := memArchive(t, files)
	defer b.Close()
	var opened []int
	var read int64
	recs, _, err := readBucket(t, b, "p/", Options{Progress: func(i int, key string, n int64) {
		if n == 0 {
			if want := fmt.Sprintf("p/%02d.gz", i); key != want {
				t.Errorf("object %d is %s, want %s", i, key, want)
			}
			opened = append(opened, i)
		}
		read += n
	}})
	if err != nil || len(recs) != 100_000 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if len(opened) != 5 || opened[4] != 4 || read != size {
		t.Fatalf("opened %v, %d bytes reported, want 5 objects and %d bytes", opened, read, size)
	}
}
