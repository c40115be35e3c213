package spec_test

import (
	"strings"
	"testing"

	"github.com/eddyhq/eddy/core/spec"
)

// What a keyless message is partitioned by follows from input.key alone, at load time.
func TestPartitioning(t *testing.T) {
	for _, tt := range []struct {
		key        string
		byEventKey bool
		says       string
	}{
		{"", false, "no key:"},
		{"$key", false, "key: $key"},
		{"machine", true, `event key ("machine")`},
		{"$attr.device", true, `event key ("$attr.device")`},
	} {
		f := &spec.Function{Input: spec.Input{Key: tt.key}}
		p := f.Partitioning()
		if p.ByEventKey != tt.byEventKey || !strings.Contains(p.String(), tt.says) {
			t.Errorf("key %q: %+v %q; want ByEventKey %v, saying %q", tt.key, p, p, tt.byEventKey, tt.says)
		}
	}
}
