package urlmux

import (
	"slices"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	var r Registry[int]
	if _, ok := r.Lookup("mem"); ok {
		t.Fatal("found a scheme in an empty registry")
	}
	r.Register("test", "mem", 1)
	r.Register("test", "file", 2)
	if o, ok := r.Lookup("file"); !ok || o != 2 {
		t.Errorf("file: %d %v", o, ok)
	}
	if got := r.Schemes(); !slices.Equal(got, []string{"file", "mem"}) {
		t.Errorf("schemes %q", got)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), `test: scheme "mem" registered twice`) {
			t.Errorf("second registration: panic %v", p)
		}
	}()
	r.Register("test", "mem", 3)
}
