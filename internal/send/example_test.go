package send_test

import (
	"context"
	"fmt"
	"log"

	"github.com/eddyhq/eddy/internal/send"
)

// Publish two events to a Kinesis stream, keyed by their sensor, as `eddy send --to
// kinesis://telemetry` does (region and credentials from the usual AWS configuration).
func Example() {
	ctx := context.Background()
	p, err := send.Open(ctx, "kinesis://telemetry?region=eu-west-1", send.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)
	st, err := p.Publish(ctx, []send.Message{
		{ID: "events.ndjson:1", Key: "sensor-1", Data: []byte(`{"sensor":"sensor-1","temp":21.5}`)},
		{ID: "events.ndjson:2", Key: "sensor-2", Data: []byte(`{"sensor":"sensor-2","temp":19.0}`)},
	})
	fmt.Println(st.Sent, st.Failed, st.Retried, err)
}
