package codec

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

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

// TestLinesTooLong: a line longer than MaxLine is one failed record (its start kept, the reason in
// AttrReadError, which Decoder turns into a failure) and the input goes on, whether the line ends
// inside the buffer or far past it.
func TestLinesTooLong(t *testing.T) {
	for _, tc := range []struct {
		name    string
		long    int
		maxLine int
	}{{"past the buffer", 200 << 10, 100 << 10}, {"in the buffer", 1500, 1000}} {
		t.Run(tc.name, func(t *testing.T) {
			input := "{}\n" + strings.Repeat("x", tc.long) + "\n{\"a\":1}\n"
			for _, batch := range []bool{false, true} {
				l, err := NewLines(strings.NewReader(input), "f")
				if err != nil {
					t.Fatal(err)
				}
				l.MaxLine = tc.maxLine
				var got []core.Record
				if batch {
					recs := make([]core.Record, 10)
					for n := l.NextBatch(recs); n > 0; n = l.NextBatch(recs) {
						got = append(got, recs[:n]...)
					}
				} else {
					var rec core.Record
					for l.Next(&rec) {
						got = append(got, rec)
					}
				}
				if l.Err() != nil || len(got) != 3 {
					t.Fatalf("batch %v: %d records, Err %v; want 3 and no error", batch, len(got), l.Err())
				}
				bad := got[1]
				want := fmt.Sprintf("line 2 is %d bytes, longer than the %d bytes", tc.long, tc.maxLine)
				if bad.ID != "f:2" || !strings.Contains(bad.Attrs[AttrReadError], want) || string(bad.Data) != strings.Repeat("x", OverlongPrefix) {
					t.Fatalf("batch %v: overlong record %s attrs %v data %d bytes; want %q", batch, bad.ID, bad.Attrs, len(bad.Data), want)
				}
				if got[2].ID != "f:3" || string(got[2].Data) != `{"a":1}` || got[2].Attrs != nil {
					t.Fatalf("batch %v: the line after: %+v", batch, got[2])
				}
				// The decoder makes it a failure naming the line.
				dec, err := New(Config{Key: "a", ProcessingTime: true})
				if err != nil {
					t.Fatal(err)
				}
				var ev core.Event
				err = dec.Decode("p", &bad, time.Now(), &ev)
				var f *core.Failure
				if !errors.As(err, &f) || !strings.Contains(f.Reason, want) || f.Record.ID != "f:2" {
					t.Fatalf("decode of the overlong record: %v", err)
				}
			}
		})
	}
}

// TestLinesBlankRunsInConstantMemory: a long run of blank lines costs no more memory than a short
// one, through Next and NextBatch, plain and gzip.
func TestLinesBlankRunsInConstantMemory(t *testing.T) {
	const blanks = 64 << 20
	for _, gz := range []bool{false, true} {
		for _, batch := range []bool{false, true} {
			var src io.Reader = io.MultiReader(strings.NewReader("{}\n"), newlineReaderOf(blanks), strings.NewReader("{\"a\":2}\n"))
			if gz {
				var b bytes.Buffer
				w := gzip.NewWriter(&b)
				if _, err := io.Copy(w, src); err != nil {
					t.Fatal(err)
				}
				w.Close()
				src = &b
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			l, err := NewLines(src, "f")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if batch {
				recs := make([]core.Record, 4)
				for n := l.NextBatch(recs); n > 0; n = l.NextBatch(recs) {
					for _, r := range recs[:n] {
						got = append(got, r.ID)
					}
				}
			} else {
				var rec core.Record
				for l.Next(&rec) {
					got = append(got, rec.ID)
				}
			}
			runtime.ReadMemStats(&after)
			if l.Err() != nil || len(got) != 2 || got[1] != fmt.Sprintf("f:%d", blanks+2) {
				t.Fatalf("gzip %v batch %v: records %v, Err %v", gz, batch, got, l.Err())
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("gzip %v batch %v: %d MiB allocated to skip %d MiB of blank lines, want a few buffers' worth", gz, batch, alloc>>20, blanks>>20)
			}
		}
	}
}

// newlineReader yields n newlines.
type newlineReader int

func (r *newlineReader) Read(p []byte) (int, error) {
	if *r == 0 {
		return 0, io.EOF
	}
	n := min(len(p), int(*r))
	for i := range p[:n] {
		p[i] = '\n'
	}
	*r -= newlineReader(n)
	return n, nil
}

func newlineReaderOf(n int) io.Reader { r := newlineReader(n); return &r }

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

// refLines is what Lines must return, worked out the plain way.
func refLines(input, name string) []core.Record {
	var out []core.Record
	pieces := strings.Split(input, "\n")
	if strings.HasSuffix(input, "\n") || input == "" {
		pieces = pieces[:len(pieces)-1]
	}
	for i, p := range pieces {
		p = strings.TrimRight(p, "\r\n")
		if strings.TrimSpace(p) == "" {
			continue
		}
		off := strconv.Itoa(i + 1)
		out = append(out, core.Record{ID: name + ":" + off, Offset: off, Data: []byte(p)})
	}
	return out
}

// readBatches reads l with NextBatch in batches of size n, checking on the way that each batch's
// records are still intact after the next two calls, and copying them out.
func readBatches(t testing.TB, l *Lines, n int) []core.Record {
	var out []core.Record
	var bufs [3][]core.Record
	for i := range bufs {
		bufs[i] = make([]core.Record, n)
	}
	// prev[0] is the batch before the last, prev[1] the last; data their records' bytes when read.
	var prev [2][]core.Record
	var data [2][]string
	for k := 0; ; k++ {
		recs := bufs[k%3]
		got := l.NextBatch(recs)
		for j := range prev {
			for i, r := range prev[j] {
				if string(r.Data) != data[j][i] {
					t.Fatalf("batch %d record %d changed after the call for batch %d: %q, was %q", k-2+j, i, k, r.Data, data[j][i])
				}
			}
		}
		if got == 0 {
			return out
		}
		prev[0], data[0] = prev[1], data[1]
		prev[1], data[1] = recs[:got], nil
		for _, r := range prev[1] {
			data[1] = append(data[1], string(r.Data))
			out = append(out, core.Record{ID: r.ID, Offset: r.Offset, Data: []byte(string(r.Data))})
		}
	}
}

func sameRecords(t testing.TB, what string, got, want []core.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Offset != want[i].Offset || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("%s: record %d = %s %s %.60q, want %s %s %.60q", what, i, got[i].ID, got[i].Offset, got[i].Data,
				want[i].ID, want[i].Offset, want[i].Data)
		}
	}
}

func TestLinesBatches(t *testing.T) {
	var b strings.Builder
	for i := range 50_000 {
		switch {
		case i%997 == 0:
			b.WriteString("\r\n")
		case i%1009 == 0:
			b.WriteString(" \t\u00a0\n")
		case i%4999 == 0:
			fmt.Fprintf(&b, "{\"i\":%d,\"pad\":%q}\r\n", i, strings.Repeat("y", 150<<10))
		default:
			fmt.Fprintf(&b, "{\"key\":\"k%d\",\"ts\":%d}\n", i%37, i)
		}
	}
	b.WriteString("{\"last\":true}")
	input := b.String()
	want := refLines(input, "h.ndjson")
	for _, gz := range []bool{false, true} {
		for _, size := range []int{1, 7, 8192} {
			var r bytes.Buffer
			if gz {
				w := gzip.NewWriter(&r)
				w.Write([]byte(input))
				w.Close()
			} else {
				r.WriteString(input)
			}
			l, err := NewLines(iotest.HalfReader(&r), "h.ndjson")
			if err != nil {
				t.Fatal(err)
			}
			sameRecords(t, fmt.Sprintf("gzip=%v batch=%d", gz, size), readBatches(t, l, size), want)
			if err := l.Err(); err != nil {
				t.Fatal(err)
			}
			if l.Line() != 50_001 {
				t.Errorf("Line() = %d", l.Line())
			}
		}
	}
}

// Next and NextBatch can be mixed: the lines come out once each, in order.
func TestLinesMixed(t *testing.T) {
	input := strings.Repeat("{\"a\":1}\n\n{\"b\":2}\r\n", 5000)
	want := refLines(input, "m")
	l, err := NewLines(iotest.OneByteReader(strings.NewReader(input)), "m")
	if err != nil {
		t.Fatal(err)
	}
	var got []core.Record
	recs := make([]core.Record, 100)
	for k := 0; ; k++ {
		if k%3 == 0 {
			var rec core.Record
			if !l.Next(&rec) {
				break
			}
			got = append(got, rec)
			continue
		}
		n := l.NextBatch(recs)
		if n == 0 {
			break
		}
		for _, r := range recs[:n] {
			got = append(got, core.Record{ID: r.ID, Offset: r.Offset, Data: bytes.Clone(r.Data)})
		}
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "mixed", got, want)
}

func TestLinesBatchErrors(t *testing.T) {
	errRead := errors.New("disk on fire")
	// Complete lines read before the error come first, then the error.
	r := io.MultiReader(strings.NewReader("{}\n{}\n{\"half"), iotest.ErrReader(errRead))
	l, _ := NewLines(r, "f")
	recs := make([]core.Record, 10)
	if n := l.NextBatch(recs); n != 2 {
		t.Fatalf("first batch: %d records, want the 2 complete lines", n)
	}
	if n := l.NextBatch(recs); n != 0 || !errors.Is(l.Err(), errRead) || !strings.Contains(l.Err().Error(), "f: ") {
		t.Fatalf("after the error: %d records, Err %v", n, l.Err())
	}

	// A line of exactly MaxLine bytes is fine, with or without "\r\n".
	l, _ = NewLines(strings.NewReader(strings.Repeat("x", 1000)+"\r\r\n"+strings.Repeat("y", 1000)), "f")
	l.MaxLine = 1000
	if n := l.NextBatch(recs); n != 2 || len(recs[0].Data) != 1000 || len(recs[1].Data) != 1000 || l.Err() != nil {
		t.Fatalf("%d records, Err %v", n, l.Err())
	}
}

// FuzzLines checks Next and NextBatch against the plain split on any input, read in small pieces.
func FuzzLines(f *testing.F) {
	f.Add("{\"a\":1}\r\n\n  \n{\"a\":2}\n{\"a\":3}", uint8(3))
	f.Add("\r\r\n\u00a0\n\u2028x\r", uint8(1))
	f.Add("", uint8(0))
	f.Add(strings.Repeat("ab\n", 100), uint8(7))
	f.Fuzz(func(t *testing.T, input string, size uint8) {
		want := refLines(input, "z")
		l, err := NewLines(iotest.HalfReader(strings.NewReader(input)), "z")
		if err != nil {
			return // a gzip magic with a bad header
		}
		if l.gz != nil {
			return
		}
		sameRecords(t, "NextBatch", readBatches(t, l, int(size)%9+1), want)
		if l.Err() != nil {
			t.Fatal(l.Err())
		}
		l, _ = NewLines(iotest.OneByteReader(strings.NewReader(input)), "z")
		sameRecords(t, "Next", readAll(t, l), want)
	})
}

// Concatenated gzip members (cat a.gz b.gz) read as one stream, as gunzip reads them.
func TestLinesGzipMembers(t *testing.T) {
	var b bytes.Buffer
	for _, part := range []string{"{\"a\":1}\n{\"a\":2}\n", "{\"a\":3}\n"} {
		w := gzip.NewWriter(&b)
		w.Write([]byte(part))
		w.Close()
	}
	l, err := NewLines(&b, "cat.gz")
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "members", readBatches(t, l, 2), refLines("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", "cat.gz"))
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
}
