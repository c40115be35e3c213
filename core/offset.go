package core

import (
	"encoding/json"
	"unicode/utf8"
)

// CompareOffsets orders two decimal offsets (Kinesis sequence numbers run past 64 bits, so they are
// compared as strings: shorter is smaller, then lexically). The empty offset sorts first.
func CompareOffsets(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }

func validJSON(b []byte) bool { return json.Valid(b) }
