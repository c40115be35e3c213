package gcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"

	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/state/memstate"
)

func memTopic(t *testing.T) (*pubsub.Topic, *pubsub.Subscription) {
	t.Helper()
	top := mempubsub.NewTopic()
	sub := mempubsub.NewSubscription(top, time.Minute)
	t.Cleanup(func() {
		top.Shutdown(context.Background())
		sub.Shutdown(context.Background())
	})
	return top, sub
}

func receive(t *testing.T, sub *pubsub.Subscription) *pubsub.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Ack()
	return m
}

func TestTopicSinkOutputs(t *testing.T) {
	top, sub := memTopic(t)
	end := time.Date(2024, 1, 1, 0, 1, 0, 0, time.UTC)
	d := &core.Decision{ID: "d1", Function: "f", Rule: "hot", Key: "k1", State: "firing", Time: end}
	w := &core.WindowResult{Function: "f", Key: "k2", Start: end.Add(-time.Minute), End: end, Values: []core.NamedValue{{Name: "count", Num: 3}}}
	if err := gcp.NewTopicSink(top, nil).Emit(context.Background(), []core.Output{d, w}); err != nil {
		t.Fatal(err)
	}
	got := map[string]*pubsub.Message{}
	for range 2 {
		m := receive(t, sub)
		got[m.Metadata[gcp.AttrType]] = m
	}
	if m := got["decision"]; m == nil || m.Metadata[gcp.AttrID] != "d1" || m.Metadata[gcp.AttrKey] != "k1" || string(m.Body) != string(sink.Message(d, nil).Body) {
		t.Errorf("decision message: %+v", m)
	}
	wm := got["window"]
	if wm == nil || wm.Metadata[gcp.AttrKey] != "k2" || string(wm.Body) != string(sink.Message(w, nil).Body) || wm.Metadata[gcp.AttrID] != core.OutputID(w) {
		t.Fatalf("window message: %+v", wm)
	}
	// The same output again carries the same id, so consumers can drop the duplicate.
	if err := gcp.NewTopicSink(top, nil).Emit(context.Background(), []core.Output{w}); err != nil {
		t.Fatal(err)
	}
	if again := receive(t, sub); again.Metadata[gcp.AttrID] != wm.Metadata[gcp.AttrID] {
		t.Errorf("re-emitted window id %q, first %q", again.Metadata[gcp.AttrID], wm.Metadata[gcp.AttrID])
	}
	// CloudEvents format.
	if err := gcp.NewTopicSink(top, &gcp.TopicOptions{CloudEvents: true, Source: "//eddy/f"}).Emit(context.Background(), []core.Output{d}); err != nil {
		t.Fatal(err)
	}
	var ce struct {
		ID, Source, Type, Subject string
		Data                      json.RawMessage
	}
	m := receive(t, sub)
	if err := json.Unmarshal(m.Body, &ce); err != nil || ce.ID != "d1" || ce.Source != "//eddy/f" || ce.Type != "dev.eddy.decision" || ce.Subject != "k1" || string(ce.Data) != string(d.AppendJSON(nil)) {
		t.Errorf("cloudevent %s (%v)", m.Body, err)
	}
}

func TestTopicSinkFailures(t *testing.T) {
	top, sub := memTopic(t)
	pt := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &core.Failure{Record: core.Record{ID: "m1", Key: "ok", Time: pt, Data: []byte{0xff, 0x00, 'x'}, Attrs: map[string]string{"origin": "gw"}},
		Field: "value", Reason: strings.Repeat("é", 600)}
	if err := gcp.NewTopicSink(top, nil).EmitFailures(context.Background(), []*core.Failure{f}); err != nil {
		t.Fatal(err)
	}
	m := receive(t, sub)
	md := m.Metadata
	var env struct {
		Type, Record, Field string
		Attributes          map[string]string
		Data                []byte `json:"data_base64"`
	}
	if err := json.Unmarshal(m.Body, &env); err != nil || env.Type != "deadletter" || env.Record != "m1" || env.Field != "value" ||
		env.Attributes["origin"] != "gw" || string(env.Data) != string(f.Record.Data) {
		t.Errorf("dead letter body %s (%v), want the envelope with the original bytes", m.Body, err)
	}
	if md[gcp.AttrType] != "deadletter" || md[gcp.AttrField] != "value" || md[gcp.AttrMessageID] != "m1" || md[gcp.AttrKey] != "ok" {
		t.Errorf("dead letter attributes %v", md)
	}
	if r := md[gcp.AttrReason]; len(r) > 1024 || !strings.HasSuffix(r, "…") || !strings.HasPrefix(r, "éé") {
		t.Errorf("reason not clipped to 1024 bytes on a rune boundary: %d bytes", len(r))
	}
}

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
	top, sub := memTopic(t)
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
		return gcp.New(gcp.Config{Runner: r, DeadLetter: gcp.NewTopicSink(top, nil)})
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
	if m := receive(t, sub); m.Metadata[gcp.AttrField] != "type" {
		t.Errorf("dead letter %v", m.Metadata)
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
