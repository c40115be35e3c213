package codec

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/eddyhq/eddy/core"
)

func readAll(t *testing.T, l *Lines) []core.Record {
	t.Helper()
	var out []core.Record
	var rec core.Record
	for l.Next(&rec) {
		out = append(out, rec)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLines(t *testing.T) {
	big := `{"key":"k","pad":"` + strings.Repeat("x", 3<<20) + `"}`
	input := "{\"a\":1}\r\n\n  \n{\"a\":2}\n" + big + "\n{\"a\":3}"
	for _, gz := range []bool{false, true} {
		var r bytes.Buffer
		if gz {
			w := gzip.NewWriter(&r)
			w.Write([]byte(input))
			w.Close()
		} else {
			r.WriteString(input)
		}
		l, err := NewLines(iotest.HalfReader(&r), "events.ndjson")
		if err != nil {
			t.Fatal(err)
		}
		recs := readAll(t, l)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		want := []struct{ id, off, data string }{
			{"events.ndjson:1", "1", `{"a":1}`}, {"events.ndjson:4", "4", `{"a":2}`}, {"events.ndjson:5", "5", big}, {"events.ndjson:6", "6", `{"a":3}`},
		}
		if len(recs) != len(want) {
			t.Fatalf("gzip=%v: %d records", gz, len(recs))
		}
		for i, w := range want {
			if recs[i].ID != w.id || recs[i].Offset != w.off || string(recs[i].Data) != w.data {
				t.Errorf("gzip=%v: record %d = %s %s %.40q", gz, i, recs[i].ID, recs[i].Offset, recs[i].Data)
			}
		}
		// Records stay valid after later reads and decode with the json format.
		d := mustNew(t, Config{Key: "key", ProcessingTime: true})
		var ev core.Event
		if err := d.Decode("p", &recs[2], now, &ev); err != nil || ev.Key != "k" {
			t.Errorf("decode the big line: %v", err)
		}
		if core.CompareOffsets(recs[1].Offset, recs[2].Offset) >= 0 {
			t.Error("offsets do not grow")
		}
	}
}

func TestLinesTooLong(t *testing.T) {
	l, err := NewLines(strings.NewReader("{}\n"+strings.Repeat("x", 200<<10)+"\n{}\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	l.MaxLine = 100 << 10
	var rec core.Record
	if !l.Next(&rec) || rec.ID != "f:1" {
		t.Fatalf("first line: %+v", rec)
	}
	if l.Next(&rec) {
		t.Fatal("read a line longer than MaxLine")
	}
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "f: line 2: longer than 102400 bytes") {
		t.Errorf("Err = %v", err)
	}
}

func TestLinesBadGzip(t *testing.T) {
	if _, err := NewLines(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), "f.gz"); err == nil {
		t.Error("NewLines accepted a bad gzip header")
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(strings.Repeat("{}\n", 1000)))
	w.Close()
	l, err := NewLines(bytes.NewReader(b.Bytes()[:b.Len()/2]), "f.gz")
	if err != nil {
		t.Fatal(err)
	}
	var rec core.Record
	for l.Next(&rec) {
	}
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "f.gz") {
		t.Errorf("truncated gzip: Err = %v", err)
	}
	errRead := errors.New("disk on fire")
	l, _ = NewLines(iotest.ErrReader(errRead), "f")
	if l.Next(&rec) || !errors.Is(l.Err(), errRead) {
		t.Errorf("read error: %v", l.Err())
	}
}
