package gcp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/memsink"
)

// keySpec is a 10 s tumbling count whose input.key is key ("" for none).
func keySpec(t *testing.T, key string) env.Function {
	t.Helper()
	y := "name: keys\ninput:\n  format: json\n"
	if key != "" {
		y += "  key: " + key + "\n"
	}
	y += "  time: ts\n  time_format: unix_ms\nwindow:\n  tumbling: 10s\naggregates:\n  - {name: n, count: true}\n"
	fn, err := env.ParseSpec("eddy.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

// A spec without key:, with key: FIELD and with key: $key all run on a subscription without
// ordering keys: every message is processed (none is a dead letter, none answers an error), and
// the window results carry the key the spec defines. Before, the keyless spec failed to open
// ("partition by event key: the input config has no Key": every push answered 500), and $key
// dead-lettered every message.
func TestSpecsWithoutTransportKeys(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct{ key, wantKey string }{{"", ""}, {"device", "d1"}, {"$key", ""}} {
		t.Run("key="+tt.key, func(t *testing.T) {
			// memsink topics live as long as the process: fresh names for every run (-count).
			out, dead := fmt.Sprint("gcp-keys-out-", tt.key, time.Now().UnixNano()), fmt.Sprint("gcp-keys-dead-", tt.key, time.Now().UnixNano())
			f, closeFn, err := gcp.Open(ctx, env.Config{StateURL: "mem://", OutputURL: "mem://" + out, DeadLetterURL: "mem://" + dead}, keySpec(t, tt.key))
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range 25 {
				m := &gcp.Message{ID: fmt.Sprint("m-", i), PublishTime: t0, Data: fmt.Appendf(nil, `{"device":"d1","ts":%d}`, t0.Add(time.Duration(i)*time.Second).UnixMilli())}
				if err := f.Handle(ctx, m); err != nil {
					t.Fatalf("message %s: %v", m.ID, err)
				}
			}
			if ds := memsink.Named(dead).Messages(); len(ds) != 0 {
				t.Fatalf("%d dead letters, first %s", len(ds), ds[0].Body)
			}
			ms := memsink.Named(out).Messages()
			if len(ms) != 2 {
				t.Fatalf("%d outputs, want the windows [0,10) and [10,20)", len(ms))
			}
			for _, m := range ms {
				if m.Metadata[sink.MetaType] != "window" || m.Key != tt.wantKey || m.Metadata[sink.MetaFunction] != "keys" || m.ID != m.Metadata[sink.MetaID] {
					t.Errorf("output %s %v: want a window of key %q", m.Body, m.Metadata, tt.wantKey)
				}
			}
		})
	}
}

// Start's listener is on the loopback interface unless the platform runs it (K_SERVICE).
func TestListenHost(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if h := gcp.ListenHost(getenv); h != "127.0.0.1" {
		t.Errorf("local: listen on %q, want 127.0.0.1", h)
	}
	env["K_SERVICE"] = "press-monitor"
	if h := gcp.ListenHost(getenv); h != "" {
		t.Errorf("deployed: listen on %q, want every interface", h)
	}
}

// The registered entry points open the function from the EDDY_* variables on first use; a tick
// on a keyless function answers 200.
func TestOpenerReadsEnv(t *testing.T) {
	t.Setenv("EDDY_STATE_URL", "mem://")
	t.Setenv("EDDY_OUTPUT_URL", "mem://gcp-opener-out")
	t.Setenv("EDDY_DEADLETTER_URL", "mem://gcp-opener-dead")
	fn := keySpec(t, "")
	open := gcp.Opener(func() (env.Function, error) { return fn, nil })
	rec := httptest.NewRecorder()
	gcp.TickHandler(open)(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("tick: %d %s", rec.Code, rec.Body)
	}
	t.Setenv("EDDY_IDLE_TTL", "soon")
	_, err := gcp.Opener(func() (env.Function, error) { return fn, nil })(context.Background())
	if err == nil {
		t.Fatal("EDDY_IDLE_TTL=soon opened")
	}
}

// Start opens the outputs GCP users name: its own transport and the portable ones.
func TestStartRegistersOutputs(t *testing.T) {
	for _, s := range []string{"log", "mem", "gcppubsub", "https"} {
		if !slices.Contains(sink.DefaultURLMux().Schemes(), s) {
			t.Errorf("scheme %s: not registered (have %v)", s, sink.DefaultURLMux().Schemes())
		}
	}
}

// EDDY_OUTPUT_URL as deployments set it before the one registry (gocloud's gcppubsubv2://PROJECT/
// TOPIC) still opens: the gcppubsub:// sink of the topic, with ordering keys.
func TestGCPPubSubV2URL(t *testing.T) {
	ps := newPubSub(t)
	ps.topic(t, "v2-outputs")
	t.Setenv("PUBSUB_EMULATOR_HOST", ps.srv.Addr)
	ctx := context.Background()
	s, err := sink.Open(ctx, "gcppubsubv2://"+project+"/v2-outputs")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &core.WindowResult{Function: "f", Key: "k", Start: start, End: start.Add(time.Minute)}
	if err := s.Emit(ctx, []core.Output{w}); err != nil {
		t.Fatal(err)
	}
	got := ps.drain(t, "v2-outputs", 1, 30*time.Second)
	if len(got) != 1 || got[0].Attributes[sink.MetaID] != core.OutputID(w) || got[0].OrderingKey != "k" {
		t.Fatalf("got %d messages, first %+v", len(got), got)
	}
	if _, err := sink.Open(ctx, "gcppubsubv2://"+project); err == nil {
		t.Error("a URL without a topic opened")
	}
}
