package sink_test

import (
	"context"
	"fmt"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/memsink"
)

func ExampleOpen() {
	ctx := context.Background()
	s, err := sink.Open(ctx, "mem://example-outputs")
	if err != nil {
		panic(err)
	}
	defer s.Close(ctx)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err = s.Emit(ctx, []core.Output{&core.WindowResult{Function: "press", Key: "m-7", Start: start, End: start.Add(time.Minute),
		Values: []core.NamedValue{{Name: "count", Num: 3}}}})
	if err != nil {
		panic(err)
	}
	m := memsink.Named("example-outputs").Messages()[0]
	fmt.Println(m.Key, m.Metadata[sink.MetaType], m.Metadata[sink.MetaTime], len(m.ID))
	// Output: m-7 window 2026-01-01T00:01:00.000Z 32
}
