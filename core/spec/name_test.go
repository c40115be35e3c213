package spec

import (
	"strings"
	"testing"
)

// A function name of 128 characters is the longest accepted (the 129-character one is rejected in
// TestParseErrors); a trailing newline is not part of a name.
func TestFunctionNameLength(t *testing.T) {
	long := "m" + strings.Repeat("a._-", 31) + "xyz"
	if len(long) != 128 {
		t.Fatalf("test name is %d characters", len(long))
	}
	f, err := Parse("eddy.yaml", []byte(strings.Replace(base, "machine-alarms", long, 1)))
	if err != nil || f.Name != long {
		t.Fatalf("128-character name: %v", err)
	}
	if _, err := Parse("eddy.yaml", []byte(strings.Replace(base, "machine-alarms", `"machine\n"`, 1))); err == nil || !strings.Contains(err.Error(), "is not a function name") {
		t.Errorf("name with a newline: %v", err)
	}
}
