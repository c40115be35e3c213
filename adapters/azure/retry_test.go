package azure_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
)

type recordingDeadLetter struct{ got []*core.Failure }

func (d *recordingDeadLetter) EmitFailures(_ context.Context, fs []*core.Failure) error {
	d.got = append(d.got, fs...)
	return nil
}

// A batch that cannot be processed is retried by the host while retries remain (500, nothing
// dead-lettered); on the last attempt every record is dead-lettered before the reply.
func TestHandlerDeadLettersOnLastAttempt(t *testing.T) {
	r, err := runner.New(runner.Config{Function: "f", Store: memstate.New(nil),
		New: func(string) (runner.Processor, error) { return nil, errors.New("processor unavailable") }})
	if err != nil {
		t.Fatal(err)
	}
	dlq := &recordingDeadLetter{}
	h, err := azure.NewHandler(azure.HandlerConfig{Runner: r, DeadLetter: dlq, DeadLetterBinding: "dlq"})
	if err != nil {
		t.Fatal(err)
	}
	recs := []core.Record{{ID: "5", Offset: "5", Data: []byte(`{"a":1}`), Time: time.Unix(1, 0)}, {ID: "6", Offset: "6", Data: []byte(`x`), Time: time.Unix(2, 0)}}
	status, rep := h.Invoke(context.Background(), "f", "inv-1", hostBody(t, "1", recs, &azure.RetryContext{RetryCount: 1, MaxRetryCount: 3}))
	if status != 500 || len(dlq.got) != 0 || !strings.Contains(rep.Logs[0], "attempt 2 of 4 failed, the host will retry") {
		t.Fatalf("non-final attempt: %d %+v, dead-lettered %d", status, rep, len(dlq.got))
	}
	status, rep = h.Invoke(context.Background(), "f", "inv-1", hostBody(t, "1", recs, &azure.RetryContext{RetryCount: 3, MaxRetryCount: 3}))
	if status != 500 || len(dlq.got) != 2 || dlq.got[1].Record.Offset != "6" || string(dlq.got[1].Record.Data) != "x" {
		t.Fatalf("final attempt: %d %+v, dead-lettered %+v", status, rep, dlq.got)
	}
	if got := rep.Outputs["dlq"].([]string); len(got) != 2 || !strings.Contains(got[0], "processor unavailable") {
		t.Fatalf("reply dead-letter binding %v", got)
	}
	// Without a retry policy the first attempt is the last.
	dlq.got = nil
	if status, _ := h.Invoke(context.Background(), "f", "inv-2", hostBody(t, "1", recs, nil)); status != 500 || len(dlq.got) != 2 {
		t.Fatalf("no retry policy: %d, dead-lettered %d", status, len(dlq.got))
	}
	if _, err := azure.NewHandler(azure.HandlerConfig{Runner: r}); err == nil {
		t.Fatal("a handler without a dead-letter output was accepted")
	}
}

func TestFunctionJSON(t *testing.T) {
	b, err := azure.FunctionJSON(azure.FunctionSpec{EventHub: "telemetry", Connection: "EventHubConnection", Outputs: "decisions"})
	if err != nil {
		t.Fatal(err)
	}
	var fn struct {
		Bindings []map[string]any
		Retry    map[string]any
	}
	if err := json.Unmarshal(b, &fn); err != nil {
		t.Fatal(err)
	}
	in := fn.Bindings[0]
	if in["type"] != "eventHubTrigger" || in["cardinality"] != "many" || in["dataType"] != "string" || in["consumerGroup"] != "$Default" || in["name"] != "events" {
		t.Fatalf("trigger %v", in)
	}
	if fn.Bindings[1]["eventHubName"] != "decisions" || fn.Bindings[1]["direction"] != "out" {
		t.Fatalf("output %v", fn.Bindings[1])
	}
	if fn.Retry["strategy"] != "exponentialBackoff" || fn.Retry["maxRetryCount"] != 5.0 || fn.Retry["minimumInterval"] != "00:00:05" || fn.Retry["maximumInterval"] != "00:05:00" {
		t.Fatalf("retry %v", fn.Retry)
	}
	if _, err := azure.FunctionJSON(azure.FunctionSpec{EventHub: "h"}); err == nil {
		t.Fatal("missing connection accepted")
	}
	h, err := azure.HostJSON("handler", 0)
	if err != nil || !strings.Contains(string(h), `"defaultExecutablePath": "handler"`) || !strings.Contains(string(h), `"maxEventBatchSize": 100`) {
		t.Fatalf("host.json %s %v", h, err)
	}
}
