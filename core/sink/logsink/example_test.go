package logsink_test

import (
	"context"
	"os"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/logsink"
)

func ExampleNew() {
	s := sink.New(logsink.New(os.Stdout), nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = s.Emit(context.Background(), []core.Output{&core.Decision{ID: "d-1", Function: "press", Rule: "hot", Key: "m-7",
		State: "firing", Time: t0}})
	// Output:
	// {"eddy_id":"d-1","key":"m-7","metadata":{"eddy_function":"press","eddy_id":"d-1","eddy_key":"m-7","eddy_time":"2026-01-01T00:00:00.000Z","eddy_type":"decision"},"body":{"eddy_id":"d-1","type":"decision","id":"d-1","function":"press","rule":"hot","key":"m-7","state":"firing","time":"2026-01-01T00:00:00.000Z","window":{"start":"0001-01-01T00:00:00.000Z","end":"0001-01-01T00:00:00.000Z"},"values":{}}}
}
