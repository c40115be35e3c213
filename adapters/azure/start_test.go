package azure_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	_ "gocloud.dev/pubsub/mempubsub"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/memsink"
)

func countSpec(t *testing.T, key string) env.Function {
	t.Helper()
	y := "name: counts\ninput:\n  format: json\n"
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

// The handler Open builds sends results to EDDY_OUTPUT_URL, not in the reply: no function.json
// declares an "outputs" binding, and the host drops undeclared ones (every result was lost when
// EDDY_OUTPUT_EVENTHUB_NAMESPACE was unset). With key: $key, events without a partition key are
// processed under the key "", not dead-lettered.
func TestOpenSendsResultsToTheOutput(t *testing.T) {
	ctx := context.Background()
	for _, key := range []string{"device", "$key", ""} {
		// memsink topics live as long as the process: fresh names for every run (-count).
		out, dead := fmt.Sprint("azure-out-", key, time.Now().UnixNano()), fmt.Sprint("azure-dead-", key, time.Now().UnixNano())
		h, closeFn, err := azure.Open(ctx, env.Config{StateURL: "mem://", OutputURL: "mem://" + out, DeadLetterURL: "mem://" + dead}, countSpec(t, key))
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var recs []core.Record
		for i := range 25 {
			recs = append(recs, core.Record{ID: fmt.Sprint(i + 1), Offset: fmt.Sprint(i + 1), Time: t0,
				Data: fmt.Appendf(nil, `{"device":"d1","ts":%d}`, t0.Add(time.Duration(i)*time.Second).UnixMilli())})
		}
		status, rep := h.Invoke(ctx, "OnEvents", "inv-1", hostBody(t, "3", recs, nil))
		if status != 200 || len(rep.Outputs) != 0 {
			t.Fatalf("key %q: %d, reply outputs %v: want 200 and no undeclared binding", key, status, rep.Outputs)
		}
		if ds := memsink.Named(dead).Messages(); len(ds) != 0 {
			t.Fatalf("key %q: dead letters %s", key, ds[0].Body)
		}
		ms := memsink.Named(out).Messages()
		if len(ms) != 2 || ms[0].Metadata[sink.MetaType] != "window" || ms[0].Metadata[sink.MetaFunction] != "counts" {
			t.Fatalf("key %q: %d outputs, want two windows", key, len(ms))
		}
	}
}

// An invocation body that does not decode is dead-lettered once and acknowledged, however often
// the host would retry it: before, every retry (up to the retry policy's 5, so 6 attempts) wrote
// another copy.
func TestMalformedBodyDeadLetteredOnce(t *testing.T) {
	ctx := context.Background()
	dead := fmt.Sprint("azure-bad-dead-", time.Now().UnixNano())
	h, closeFn, err := azure.Open(ctx, env.Config{StateURL: "mem://", OutputURL: "log:", DeadLetterURL: "mem://" + dead}, countSpec(t, "device"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	body := []byte(`{"Data":{"events":"[\"x\"]"},"Metadata":{"PartitionContext":{"PartitionId":"0"}}}`)
	attempts := 0
	for attempts < 6 { // the host: one attempt, then retries while it gets a failure
		attempts++
		status, _ := h.Invoke(ctx, "OnEvents", fmt.Sprint("inv-", attempts), body)
		if status < 500 {
			break
		}
	}
	ds := memsink.Named(dead).Messages()
	if attempts != 1 || len(ds) != 1 {
		t.Fatalf("%d attempts, %d dead letters; want one of each", attempts, len(ds))
	}
	var env struct {
		Type, Function, Record, Reason string
		DataBase64                     string `json:"data_base64"`
	}
	if err := json.Unmarshal(ds[0].Body, &env); err != nil || env.Type != "deadletter" || env.Function != "counts" ||
		!strings.HasPrefix(env.Record, "invocation-") || env.Reason == "" || env.DataBase64 == "" {
		t.Fatalf("dead letter %s: %v", ds[0].Body, err)
	}
}

// Start opens the outputs Azure users name: its own transport and the portable ones.
func TestStartRegistersOutputs(t *testing.T) {
	for _, s := range []string{"log", "mem", "eventhubs", "https"} {
		if !slices.Contains(sink.DefaultURLMux().Schemes(), s) {
			t.Errorf("scheme %s: not registered (have %v)", s, sink.DefaultURLMux().Schemes())
		}
	}
}
