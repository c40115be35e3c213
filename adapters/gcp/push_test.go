package gcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/examples/bench"
)

// pushEnv is a function registered with the framework: state on fake-gcs-server, outputs and
// dead letters on pstest topics.
type pushEnv struct {
	ps    *psEnv
	store *state.Store
	run   *runner.Runner
	fn    *gcp.Function // the registered Function, once the first request opened it
	url   string
}

// newPushEnv registers name through gcp.Register, exactly as a deployed module's root package
// does in its init, and serves it with the real framework.
func newPushEnv(t *testing.T, name string) *pushEnv {
	t.Helper()
	e := &pushEnv{ps: newPubSub(t), store: gcsStore(t)}
	out := e.ps.sink(t, "decisions", true)
	dead := e.ps.sink(t, "dead", false)
	byKey, err := gcp.ByEventKey(bench.Input)
	if err != nil {
		t.Fatal(err)
	}
	gcp.Register(name, func(ctx context.Context) (*gcp.Function, error) {
		r, err := runner.New(runner.Config{Function: "w1", Store: e.store, New: newW1, Sink: out, DeadLetter: dead})
		if err != nil {
			return nil, err
		}
		e.run = r
		e.fn, err = gcp.New(gcp.Config{Runner: r, DeadLetter: dead, Partition: gcp.FirstOf(gcp.ByOrderingKey, byKey)})
		return e.fn, err
	})
	e.url = serve(t, name)
	return e
}

// The standard events, pushed to the running framework over HTTP in all three forms (binary and
// structured CloudEvents and the raw push body), each key's in order as Pub/Sub does for an ordering
// key, keys interleaved, with redeliveries: the window results and decisions on the output topic are
// exactly the naive reference's. One request at a time, as the scaffold deploys the function
// (concurrency 1): the framework's CloudEvent receiver can leave a request hanging forever when
// requests overlap (cloudevents/sdk-go#1224).
func TestPushThroughFramework(t *testing.T) {
	e := newPushEnv(t, "PushW1")
	evs := sensorEvents(1, 6, 40)
	for i := 0; ; i++ {
		more := false
		for _, ks := range evs {
			if i >= len(ks) {
				continue
			}
			more = true
			ev := ks[i]
			if code := deliver(t, e.url, ev, i%3); code != http.StatusOK {
				t.Errorf("deliver %s mode %d: status %d", ev.ID, i%3, code)
			}
			if i%7 == 3 { // at-least-once: Pub/Sub delivers some messages again
				if code := deliver(t, e.url, ks[i-1], (i+1)%3); code != http.StatusOK {
					t.Errorf("redeliver %s: status %d", ks[i-1].ID, code)
				}
			}
		}
		if !more {
			break
		}
	}
	wantW, wantD := expected(evs)
	msgs := e.ps.drain(t, "decisions", len(wantW)+len(wantD), 60*time.Second)
	gotW, gotD := outputLines(t, msgs)
	sameLines(t, "window results", gotW, wantW)
	sameLines(t, "decisions", gotD, wantD)
	if len(wantD) == 0 {
		t.Fatal("the workload makes no decisions; the test proves nothing about them")
	}
	// Partitions are the sensor keys, from the ordering key or (raw push) the event key.
	for _, ks := range evs {
		if ent, err := e.store.Get(context.Background(), e.run.Key(ks[0].Key)); err != nil || !ent.Found {
			t.Errorf("no state for partition %s: %v", ks[0].Key, err)
		}
	}
}

// Eight deliveries on one ordering key at once (as Pub/Sub push does when ordering is off, to as
// many instances): each invocation loads and commits the partition's state on GCS with a generation
// precondition, the losers reload and retry, and no update is lost. Duplicates among them count
// once. The first delivery goes through the framework and opens the Function; the concurrent ones
// call it directly, as separate instances would be called, since one framework process must not get
// overlapping requests (cloudevents/sdk-go#1224, see TestPushThroughFramework).
func TestPushConcurrentOneKey(t *testing.T) {
	e := newPushEnv(t, "PushConcurrent")
	const n = 8
	var evs []sensorEvent
	sum := 0.0
	for i := range n {
		ev := sensorEvent{Key: "sensor-0042", TS: bench.Start + int64(i)*10, Value: float64(i) + 0.25, ID: "9" + strings.Repeat("0", i)}
		evs = append(evs, ev)
		sum += ev.Value
	}
	if code := deliver(t, e.url, evs[0], binaryMode); code != http.StatusOK {
		t.Fatalf("deliver %s: status %d", evs[0].ID, code)
	}
	var wg sync.WaitGroup
	for range 2 { // every message twice, concurrently: 16 invocations on one partition
		for _, ev := range evs {
			wg.Go(func() {
				m, err := gcp.ParsePush(pushBody(ev, ev.Key))
				if err == nil {
					err = e.fn.Handle(context.Background(), &m)
				}
				if err != nil {
					t.Errorf("deliver %s: %v", ev.ID, err)
				}
			})
		}
	}
	wg.Wait()
	closer := sensorEvent{Key: "sensor-0042", TS: bench.Start + 120_000, Value: 1, ID: "closer"}
	if code := deliver(t, e.url, closer, binaryMode); code != http.StatusOK {
		t.Fatalf("deliver closer: status %d", code)
	}
	msgs := e.ps.drain(t, "decisions", 1, 30*time.Second)
	gotW, _ := outputLines(t, msgs)
	start := bench.Start - bench.Start%60000
	want := windowLine("sensor-0042", start, start+60000, n, sum, sum/n, 0.25, 7.25)
	sameLines(t, "window results", gotW, []string{want})
}

// The sample trigger payload (a binary-mode messagePublished CloudEvent captured in the real
// format) through the real framework: acknowledged, partitioned by its ordering key, deduped on
// redelivery, and counted in its window once a later event closes it.
func TestSampleCloudEvent(t *testing.T) {
	e := newPushEnv(t, "PushSample")
	h, body := readHTTPSample(t, "testdata/gcp-pubsub-cloudevent.http")
	post := func() int {
		req, _ := http.NewRequest("POST", e.url, strings.NewReader(string(body)))
		req.Header = h.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 2 {
		if code := post(); code != http.StatusOK {
			t.Fatalf("sample: status %d", code)
		}
	}
	ent, err := e.store.Get(context.Background(), e.run.Key("sensor-0001"))
	if err != nil || !ent.Found {
		t.Fatalf("no state for the sample's ordering key sensor-0001: %v", err)
	}
	closer := sensorEvent{Key: "sensor-0001", TS: 1764086400000 + 65_000, Value: 3, ID: "closer"}
	if code := deliver(t, e.url, closer, binaryMode); code != http.StatusOK {
		t.Fatalf("closer: status %d", code)
	}
	msgs := e.ps.drain(t, "decisions", 1, 30*time.Second)
	gotW, _ := outputLines(t, msgs)
	sameLines(t, "window results", gotW, []string{windowLine("sensor-0001", 1764086400000, 1764086460000, 1, 81.5, 81.5, 81.5, 81.5)})
}

// Poison messages are acknowledged (HTTP 200, no redelivery), and published to the dead-letter
// topic with their reason: a CloudEvent of another type, a payload with no event key, and an
// undecodable record (dead-lettered by the Runner).
func TestPushPoison(t *testing.T) {
	e := newPushEnv(t, "PushPoison")
	post := func(body string, hdr map[string]string) int {
		req, _ := http.NewRequest("POST", e.url, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ce := func(typ, id string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-type": typ,
			"ce-source": "//storage.googleapis.com/projects/_/buckets/b", "ce-id": id}
	}
	if code := post(`{"bucket":"b","name":"o"}`, ce("google.cloud.storage.object.v1.finalized", "p1")); code != 200 {
		t.Errorf("wrong event type: status %d, want 200 (acknowledged)", code)
	}
	// No ordering key and no "key" member: no partition.
	if code := post(`{"message":{"data":"eyJ0cyI6MX0=","messageId":"p2"}}`, ce(gcp.MessagePublished, "p2")); code != 200 {
		t.Errorf("no key: status %d", code)
	}
	// Ordering key given, payload not JSON: the Runner's decoder fails the record.
	if code := post(`{"message":{"data":"bm90IGpzb24=","messageId":"p3","orderingKey":"k"}}`, ce(gcp.MessagePublished, "p3")); code != 200 {
		t.Errorf("undecodable: status %d", code)
	}
	msgs := e.ps.drain(t, "dead", 3, 30*time.Second)
	got := map[string]string{}
	for _, m := range msgs {
		d, err := adaptertest.DeadLetterOf(m.Data)
		if err != nil || m.Attributes[gcp.AttrType] != "deadletter" || m.Attributes[gcp.AttrReason] == "" {
			t.Errorf("dead letter without type or reason: %v (%v)", m.Attributes, err)
		}
		got[d.ID] = d.Field + ": " + d.Reason + " | " + string(d.Data)
	}
	for id, want := range map[string]string{
		"p1": "type: ", "p2": "key: partition: missing | {\"ts\":1}", "p3": "not json",
	} {
		if !strings.Contains(got[id], want) {
			t.Errorf("dead letter %s = %q, want it to contain %q", id, got[id], want)
		}
	}
}

// A failing sink makes the invocation fail (HTTP 500, so Pub/Sub redelivers) and commits nothing;
// the redelivery then succeeds and counts the message once.
func TestPushRedeliveryAfterError(t *testing.T) {
	ps := newPubSub(t)
	store := gcsStore(t)
	out := ps.sink(t, "decisions", false)
	flaky := &flakySink{next: out, fails: 1}
	dead := ps.sink(t, "dead", false)
	gcp.Register("PushFlaky", func(ctx context.Context) (*gcp.Function, error) {
		r, err := runner.New(runner.Config{Function: "w1", Store: store, New: newW1, Sink: flaky, DeadLetter: dead})
		if err != nil {
			return nil, err
		}
		return gcp.New(gcp.Config{Runner: r, DeadLetter: dead})
	})
	url := serve(t, "PushFlaky")
	a := sensorEvent{Key: "k", TS: bench.Start, Value: 2, ID: "a"}
	b := sensorEvent{Key: "k", TS: bench.Start + 70_000, Value: 3, ID: "b"}
	if code := deliver(t, url, a, binaryMode); code != 200 {
		t.Fatalf("a: %d", code)
	}
	if code := deliver(t, url, b, binaryMode); code < 500 {
		t.Fatalf("b with a failing sink: status %d, want a 5xx so that Pub/Sub redelivers", code)
	}
	if code := deliver(t, url, b, structuredMode); code != 200 {
		t.Fatalf("b redelivered: %d", code)
	}
	msgs := ps.drain(t, "decisions", 1, 30*time.Second)
	var o struct{ Values map[string]float64 }
	if err := json.Unmarshal(msgs[0].Data, &o); err != nil || o.Values["count"] != 1 || o.Values["sum"] != 2 {
		t.Fatalf("window after redelivery: %s (%v)", msgs[0].Data, err)
	}
}

type flakySink struct {
	mu    sync.Mutex
	next  runner.Sink
	fails int
}

func (s *flakySink) Emit(ctx context.Context, outs []core.Output) error {
	s.mu.Lock()
	fail := s.fails > 0
	s.fails--
	s.mu.Unlock()
	if fail {
		return context.DeadlineExceeded
	}
	return s.next.Emit(ctx, outs)
}
