package codec

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// internBytes gives back the string it was given, whatever the cache holds: keys of every length,
// keys that share their first and last 8 bytes and differ in between, more keys than the cache
// holds, each seen many times.
func TestInternBytesEqual(t *testing.T) {
	var s scanState
	var keys []string
	for n := range 41 {
		keys = append(keys, strings.Repeat("k", n))
	}
	for i := range 20 {
		keys = append(keys, fmt.Sprintf("prefix-8%04dsuffix-8", i)) // 17+ bytes, same ends
		keys = append(keys, fmt.Sprintf("sensor-%04d", i))
		keys = append(keys, fmt.Sprintf("%d", i))
	}
	for i := range 3 * internCacheSize {
		keys = append(keys, fmt.Sprintf("key-%d", i))
	}
	for round := range 3 {
		for _, k := range keys {
			got := s.internBytes([]byte(k))
			if got != k {
				t.Fatalf("round %d: internBytes(%q) = %q", round, k, got)
			}
		}
	}
	// A repeated key comes back as the same string, not a new copy.
	a := s.internBytes([]byte("sensor-0001"))
	b := s.internBytes([]byte("sensor-0001"))
	if a != "sensor-0001" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("internBytes did not reuse its copy of sensor-0001")
	}
}
