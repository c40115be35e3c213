package aws_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/adapters/aws/internal/testfn/fn"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// capture is an output that keeps what it gets, as JSON lines.
type capture struct {
	mu       sync.Mutex
	outs     []string
	failures []*core.Failure
	err      error
}

func (c *capture) Emit(_ context.Context, outs []core.Output) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	for _, o := range outs {
		c.outs = append(c.outs, string(o.AppendJSON(nil)))
	}
	return nil
}

func (c *capture) EmitFailures(_ context.Context, fs []*core.Failure) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, fs...)
	return nil
}

var fixedNow = time.Date(2025, 11, 25, 16, 0, 30, 0, time.UTC)

func newHandler(t testing.TB, windowState bool) (*aws.Handler, *capture) {
	t.Helper()
	newProc, err := fn.New()
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{}
	cfg := runner.Config{Function: fn.Name, New: newProc, Sink: c, DeadLetter: c}
	var r *runner.Runner
	if windowState {
		r, err = aws.NewWindowRunner(cfg)
	} else {
		cfg.Store = memstate.New(nil)
		r, err = runner.New(cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	h, err := aws.NewHandler(r, &aws.Options{LambdaWindowState: windowState, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return h, c
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The sample batch's last record is not JSON: it is reported by its sequence number and written to
// the dead-letter output with the reason; a retry from that record applies nothing twice.
func TestSampleKinesisEvent(t *testing.T) {
	h, c := newHandler(t, false)
	payload := readFile(t, "testdata/aws-kinesis-event.json")
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692538361571095921575989136589999"}]}`
	if string(out) != want {
		t.Fatalf("response\n got %s\nwant %s", out, want)
	}
	if len(c.failures) != 1 || c.failures[0].Record.ID != "49590338271490256608559692538361571095921575989136589999" || c.failures[0].Reason == "" {
		t.Fatalf("dead letters: %+v", c.failures)
	}
	// Lambda retries from the reported record: the runner has applied it, so the retry succeeds
	// and writes no second dead letter.
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	ev.Records = ev.Records[3:]
	resp, err := h.HandleKinesis(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %+v %v", resp, err)
	}
	if len(c.failures) != 1 {
		t.Fatalf("retry wrote %d dead letters, want none", len(c.failures)-1)
	}
}

// In the store mode a window event is processed like any batch and its state comes back as it came.
func TestSampleTimeWindowEventStore(t *testing.T) {
	h, _ := newHandler(t, false)
	out, err := h.Invoke(context.Background(), readFile(t, "testdata/aws-kinesis-time-window-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"state":{},"batchItemFailures":null}`; string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
}

// In the Lambda window-state mode, the state travels in the response and the final invocation of
// the window closes every window.
func TestSampleTimeWindowEventLambdaState(t *testing.T) {
	h, c := newHandler(t, true)
	out, err := h.Invoke(context.Background(), readFile(t, "testdata/aws-kinesis-time-window-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var resp events.KinesisTimeWindowEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 0 || len(resp.State) != 1 {
		t.Fatalf("response %s: want one state key and no failures", out)
	}
	for k, v := range resp.State {
		if k != "eddy:"+fn.Name+"/shardId-000000000006" {
			t.Fatalf("state key %q", k)
		}
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			t.Fatalf("state value: %v", err)
		}
	}
	if len(c.outs) != 0 {
		t.Fatalf("outputs before the window closed: %v", c.outs)
	}
	final := fmt.Sprintf(`{"Records":[],"window":{"start":"2025-11-25T16:00:00Z","end":"2025-11-25T16:01:00Z"},
		"state":%s,"shardId":"shardId-000000000006","isFinalInvokeForWindow":true,"isWindowTerminatedEarly":false}`, mustJSON(t, resp.State))
	out, err = h.Invoke(context.Background(), []byte(final))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"state":{},"batchItemFailures":null}`; string(out) != want {
		t.Fatalf("final response %s, want %s", out, want)
	}
	want := []string{ // sorted
		`{"type":"window","id":"0c454fc520c3bb0a8403acc68f249730","function":"hot-sensors","key":"sensor-0001","start":"2025-11-25T16:00:01.000Z","end":"2025-11-25T16:00:02.000Z","revision":0,"values":{"count":1,"avg":84.25,"max":84.25}}`,
		`{"type":"window","id":"155b51c0efc46b460ad107b60d5d1695","function":"hot-sensors","key":"sensor-0002","start":"2025-11-25T16:00:00.000Z","end":"2025-11-25T16:00:01.000Z","revision":0,"values":{"count":1,"avg":12,"max":12}}`,
		`{"type":"window","id":"413fb3f5c81edc2672053807e5658000","function":"hot-sensors","key":"sensor-0001","start":"2025-11-25T16:00:00.000Z","end":"2025-11-25T16:00:01.000Z","revision":0,"values":{"count":1,"avg":81.5,"max":81.5}}`,
	}
	got := slices.Sorted(slices.Values(c.outs))
	if !slices.Equal(got, want) {
		t.Fatalf("outputs:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// An output that fails is an infrastructure error: the invocation fails so Lambda retries the
// batch, and the state is not committed, so the retry produces the outputs again.
func TestInfrastructureErrorFailsBatch(t *testing.T) {
	h, c := newHandler(t, false)
	payload := readFile(t, "testdata/aws-kinesis-event.json")
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	// Push the watermark past the first windows so the batch emits.
	ev.Records = append(ev.Records, ev.Records[0])
	last := &ev.Records[len(ev.Records)-1]
	last.Kinesis.SequenceNumber = "49590338271490256608559692538361571095921575989136590000"
	last.EventID = "shardId-000000000006:" + last.Kinesis.SequenceNumber
	last.Kinesis.Data = []byte(`{"key":"sensor-0001","ts":1764086410000,"value":1}`)
	c.err = errors.New("output unavailable")
	if _, err := h.HandleKinesis(context.Background(), ev); err == nil || !strings.Contains(err.Error(), "output unavailable") {
		t.Fatalf("err = %v, want the output's error", err)
	}
	c.err = nil
	resp, err := h.HandleKinesis(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("retry: %+v %v", resp, err)
	}
	if len(c.outs) != 3 {
		t.Fatalf("retry emitted %d outputs, want the 3 closed windows: %v", len(c.outs), c.outs)
	}
}

func TestInvokeTick(t *testing.T) {
	h, _ := newHandler(t, false)
	out, err := h.Invoke(context.Background(), []byte(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","time":"2025-11-25T16:05:00Z","detail":{}}`))
	if err != nil || string(out) != `{"outputs":0,"failed":0}` {
		t.Fatalf("tick: %s %v", out, err)
	}
	if _, err := h.Invoke(context.Background(), []byte(`{"hello":1}`)); err == nil {
		t.Fatal("an unknown payload was accepted")
	}
	if _, err := h.Invoke(context.Background(), []byte(`{"Records":`)); err == nil {
		t.Fatal("a truncated payload was accepted")
	}
}

func TestWindowStateNeedsWindowEvent(t *testing.T) {
	h, _ := newHandler(t, true)
	_, err := h.Invoke(context.Background(), readFile(t, "testdata/aws-kinesis-event.json"))
	if err == nil || !strings.Contains(err.Error(), "TumblingWindowInSeconds") {
		t.Fatalf("err = %v", err)
	}
}

// A KPL aggregate that cannot be split goes on as one record, with a warning naming it and the
// reason: a raw-format function used to count it as one event without a word.
func TestUnsplittableAggregateWarns(t *testing.T) {
	newProc, err := fn.New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{Function: fn.Name, New: newProc, Store: memstate.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	h, err := aws.NewHandler(r, &aws.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte{0x00} // a protobuf tag 0: malformed
	sum := md5.Sum(body)
	var ev events.KinesisEvent
	rec := events.KinesisEventRecord{EventID: "shardId-000000000000:1"}
	rec.Kinesis.SequenceNumber = "1"
	rec.Kinesis.PartitionKey = "k"
	rec.Kinesis.Data = append(append(append([]byte{}, aws.KPLMagic...), body...), sum[:]...)
	ev.Records = append(ev.Records, rec)
	if _, err := h.HandleKinesis(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "KPL aggregate not split") || !strings.Contains(logs.String(), "record=1") {
		t.Fatalf("logs %q: want a warning naming the record", logs.String())
	}
}
