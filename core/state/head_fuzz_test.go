package state

import (
	"bytes"
	"testing"
	"time"
)

// FuzzHead: stored head items come from outside the process; decoding must never panic, and what
// decodes must re-encode to the same bytes.
func FuzzHead(f *testing.F) {
	f.Add((&head{inline: []byte("value")}).encode())
	f.Add((&head{chunked: true, gen: newGen(time.Unix(1, 0)), n: 3, size: 10000, crc: 7, expires: time.Unix(1800000000, 0)}).encode())
	f.Add([]byte{1, 1, 0, 65})
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHead(b)
		if err != nil {
			return
		}
		if re := h.encode(); h.chunked && !bytes.Equal(re, b) {
			// Chunked heads are canonical except for varint padding; they must at least decode again.
			if _, err := decodeHead(re); err != nil {
				t.Fatalf("re-encoded head does not decode: %v", err)
			}
		}
	})
}
