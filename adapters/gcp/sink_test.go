package gcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/memsink"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// counter counts records per partition; a minimal Processor.
type counter struct{ n int }

func (c *counter) Restore(b []byte) error {
	c.n = len(b)
	return nil
}
func (c *counter) Process(_ context.Context, b core.Batch) (core.Result, error) {
	c.n += len(b.Records)
	return core.Result{Stats: core.Stats{Events: len(b.Records)}}, nil
}
func (c *counter) Tick(context.Context, time.Time) (core.Result, error) { return core.Result{}, nil }
func (c *counter) Snapshot() ([]byte, error)                            { return make([]byte, c.n), nil }

// Lazy opens the Function on the first event, and again after a failed open.
func TestLazy(t *testing.T) {
	dead := &memsink.Topic{}
	store := memstate.New(nil)
	opens := 0
	fn := gcp.Lazy(func(ctx context.Context) (*gcp.Function, error) {
		opens++
		if opens == 1 {
			return nil, errors.New("credentials not ready")
		}
		r, err := runner.New(runner.Config{Function: "count", Store: store, New: func(string) (runner.Processor, error) { return &counter{}, nil }})
		if err != nil {
			return nil, err
		}
		return gcp.New(gcp.Config{Runner: r, DeadLetter: sink.New(dead, nil)})
	})
	e := event.New()
	e.SetID("1")
	e.SetType(gcp.MessagePublished)
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
	if err := e.SetData("application/json", json.RawMessage(`{"message":{"data":"e30=","messageId":"1","orderingKey":"a"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := fn(context.Background(), e); err == nil || !strings.Contains(err.Error(), "credentials not ready") {
		t.Fatalf("first event: %v, want the open error (so Pub/Sub redelivers)", err)
	}
	for range 3 { // the redelivery and two more duplicates
		if err := fn(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	e.SetType("other")
	if err := fn(context.Background(), e); err != nil {
		t.Fatalf("poison: %v, want nil (acknowledged)", err)
	}
	if ms := dead.Messages(); len(ms) != 1 || ms[0].Metadata[gcp.AttrField] != "type" {
		t.Errorf("dead letters %v, want the poison one naming its field", ms)
	}
	ent, err := store.Get(context.Background(), "count/a")
	if err != nil || !ent.Found || opens != 2 {
		t.Fatalf("state %v %v, opens %d", ent.Found, err, opens)
	}
	var env runner.Envelope
	if err := env.Unmarshal(ent.Value); err != nil || len(env.Snapshot) != 1 {
		t.Errorf("the message counted %d times (%v), want once", len(env.Snapshot), err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	if _, err := gcp.New(gcp.Config{}); err == nil {
		t.Error("no runner accepted")
	}
	r, _ := runner.New(runner.Config{Function: "c", Store: memstate.New(nil), New: func(string) (runner.Processor, error) { return &counter{}, nil }})
	if _, err := gcp.New(gcp.Config{Runner: r}); err == nil || !strings.Contains(err.Error(), "DeadLetter") {
		t.Errorf("no dead letter: %v", err)
	}
}
