package send_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/sink/memsink"
	"github.com/eddyhq/eddy/internal/send"
)

// Any transport of the output registry takes events too: as messages with their id, key and data,
// without eddy's metadata (events are not outputs); resends are counted.
func TestRegistryTransport(t *testing.T) {
	if !send.IsCloudURL("mem://send-events") || send.IsCloudURL("http://127.0.0.1:8080") || send.IsCloudURL("events.ndjson") {
		t.Fatal("IsCloudURL: mem:// is a transport, http:// is eddy dev, a path is neither")
	}
	topic := memsink.Named("send-events")
	first := true
	topic.Reject = func(m *driver.Message) error {
		if first && m.Key == "b" {
			first = false
			return errors.New("busy")
		}
		return nil
	}
	ctx := context.Background()
	p, err := send.Open(ctx, "mem://send-events", send.Options{Backoff: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	st, err := p.Publish(ctx, []send.Message{{ID: "in:1", Key: "a", Data: []byte(`{"n":1}`)}, {ID: "in:2", Key: "b", Data: []byte(`{"n":2}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if st != (send.Stats{Sent: 2, Retried: 1}) {
		t.Fatalf("stats %+v", st)
	}
	got := topic.Messages()
	if len(got) != 2 || got[0].ID != "in:1" || got[1].Key != "b" || string(got[1].Body) != `{"n":2}` || len(got[0].Metadata) != 0 {
		t.Fatalf("got %+v %+v", got[0], got[1])
	}
}
