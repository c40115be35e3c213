package filesink_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/eddyhq/eddy/core/sink/filesink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
)

// The file sink passes the suite every sink passes: a file keeps bodies only (no metadata, id or
// key besides what the body says), one JSON line each, in order.
func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			f, err := filesink.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			return &sinktest.Destination{Sink: f, Read: func(ctx context.Context, n int) ([]sinktest.Received, error) {
				data, err := os.ReadFile(path)
				if err != nil {
					return nil, err
				}
				var got []sinktest.Received
				sc := bufio.NewScanner(bytes.NewReader(data))
				sc.Buffer(nil, 64<<20)
				for sc.Scan() {
					got = append(got, sinktest.Received{Body: append([]byte(nil), sc.Bytes()...)})
				}
				var c sinktest.Collector
				c.Add(got...)
				return c.Read(ctx, n)
			}}
		},
	})
}
