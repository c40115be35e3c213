package filesink_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	_ "github.com/eddyhq/eddy/core/sink/filesink"
)

// Outputs go to a JSON-lines file opened by URL; opening it again appends.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "filesink")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "out.jsonl")
	for range 2 {
		s, err := sink.Open(ctx, "file://"+path)
		if err != nil {
			fmt.Println(err)
			return
		}
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		_ = s.Emit(ctx, []core.Output{&core.WindowResult{Function: "f", Key: "k", Start: t0, End: t0.Add(time.Minute), Values: []core.NamedValue{{Name: "n", Num: 1}}}})
		_ = s.Close(ctx)
	}
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output:
	// {"eddy_id":"094e3111bd16279629c5f9113753de0c","type":"window","id":"094e3111bd16279629c5f9113753de0c","function":"f","key":"k","start":"2026-01-01T00:00:00.000Z","end":"2026-01-01T00:01:00.000Z","revision":0,"values":{"n":1}}
	// {"eddy_id":"094e3111bd16279629c5f9113753de0c","type":"window","id":"094e3111bd16279629c5f9113753de0c","function":"f","key":"k","start":"2026-01-01T00:00:00.000Z","end":"2026-01-01T00:01:00.000Z","revision":0,"values":{"n":1}}
}
