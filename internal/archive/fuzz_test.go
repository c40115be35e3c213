package archive

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/eddyhq/eddy/core"
)

// FuzzJSONReader: whatever the bytes, the splitter ends, and every record it returns is a piece of
// the input, non-blank; on valid JSON values back to back it returns each of them.
func FuzzJSONReader(f *testing.F) {
	f.Add([]byte(`{"a":1}{"b":"}{"}` + "\n" + `[1,2]`))
	f.Add([]byte("{\"a\":\"\\\"\"}\r\n\r\n{}"))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`"str" 12 true`))
	f.Fuzz(func(t *testing.T, in []byte) {
		j := newJSONReader(bytes.NewReader(in), "o")
		valid := 0
		for range len(in) + 1 {
			var r core.Record
			ok, err := j.read(&r)
			if err != nil || !ok {
				break
			}
			// Blank as JSON sees it: a form feed is not white space there, but a bad record.
			if len(bytes.Trim(r.Data, " \t\r\n")) == 0 || !bytes.Contains(in, r.Data) {
				t.Fatalf("record %q not a piece of the input", r.Data)
			}
			if json.Valid(r.Data) {
				valid++
			}
		}
		// Concatenated objects that are each valid all come back.
		var vals []json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(in))
		for {
			var v json.RawMessage
			if dec.Decode(&v) != nil {
				break
			}
			vals = append(vals, v)
		}
		if len(vals) > 0 && bytes.Equal(bytes.TrimSpace(in), bytes.TrimSpace(concat(vals))) && allObjects(vals) && valid != len(vals) {
			t.Fatalf("%d valid records, the input holds %d objects", valid, len(vals))
		}
	})
}

func concat(vals []json.RawMessage) []byte {
	var b []byte
	for _, v := range vals {
		b = append(b, v...)
	}
	return b
}

func allObjects(vals []json.RawMessage) bool {
	for _, v := range vals {
		if len(v) == 0 || (v[0] != '{' && v[0] != '[') {
			return false
		}
	}
	return true
}

// FuzzAvroReader: whatever the bytes of an Avro file, reading it ends with records or an error,
// never a panic or a hang.
func FuzzAvroReader(f *testing.F) {
	for _, name := range []string{"capture/eddyns/readings/0/2025/11/25/10/30/00.avro",
		"pubsub/readings/2025-11-25T10_00_00Z_9f8e7d6c-5b4a-4321-8fed-cba987654321.avro"} {
		b := sampleFiles(f)[name]
		if b == nil {
			f.Fatalf("no sample %s", name)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<20 {
			return
		}
		or, err := newObjectReader(bufio.NewReader(bytes.NewReader(in)), "o")
		if err != nil {
			return
		}
		for range 100_000 {
			var r core.Record
			ok, err := or.read(&r)
			if err != nil || !ok {
				return
			}
		}
	})
}
