package local_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/memsink"
)

// Run takes the same function value and EDDY_* configuration as the clouds: keyless, keyed and
// $key specs all run over records without a transport key, and their window results and dead
// letters leave through the configured sinks under the wire contract.
func TestRunSpecs(t *testing.T) {
	ctx := context.Background()
	var in strings.Builder
	for i := range 25 {
		fmt.Fprintf(&in, `{"device":"d%d","ts":%d}`+"\n", i%2, 1767225600000+int64(i)*1000)
	}
	in.WriteString("not json\n")
	for _, tt := range []struct {
		key     string
		windows int
	}{{"", 3}, {"device", 6}, {"$key", 3}} {
		y := "name: counts\ninput:\n  format: json\n"
		if tt.key != "" {
			y += "  key: " + tt.key + "\n"
		}
		y += "  time: ts\n  time_format: unix_ms\nwindow:\n  tumbling: 10s\naggregates:\n  - {name: n, count: true}\n"
		fn, err := env.ParseSpec("eddy.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		// memsink topics live as long as the process: fresh names for every run (-count).
		out, dead := fmt.Sprint("local-out-", tt.key, time.Now().UnixNano()), fmt.Sprint("local-dead-", tt.key, time.Now().UnixNano())
		st, err := local.Run(ctx, env.Config{OutputURL: "mem://" + out, DeadLetterURL: "mem://" + dead}, fn, strings.NewReader(in.String()), "in")
		if err != nil {
			t.Fatal(err)
		}
		ms, ds := memsink.Named(out).Messages(), memsink.Named(dead).Messages()
		if len(ms) != tt.windows || st.Windows != tt.windows || len(ds) != 1 {
			t.Fatalf("key %q: %d outputs (stats %+v), %d dead letters; want %d windows and the bad line", tt.key, len(ms), st, len(ds), tt.windows)
		}
		if ds[0].Metadata[sink.MetaRecord] != "in:26" || ds[0].Metadata[sink.MetaFunction] != "counts" || ms[0].Metadata[sink.MetaType] != "window" {
			t.Errorf("key %q: dead letter %v, output %v", tt.key, ds[0].Metadata, ms[0].Metadata)
		}
	}
}
