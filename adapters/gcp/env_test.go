package gcp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	raw "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/storage"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/gcppubsubv2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/adapters/gcp/pubsubsink"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/blobstate"
	_ "github.com/eddyhq/eddy/core/state/blobstate/gcsstate"
	"github.com/eddyhq/eddy/core/state/driver"
	"github.com/eddyhq/eddy/examples/bench"
	"github.com/eddyhq/eddy/internal/pipeline"
)

const project = "eddy-test"

var bucketSeq atomic.Int64

// gcsStore starts fake-gcs-server in process and returns a state store on a fresh bucket: state
// commits are GCS generation preconditions, as in production.
func gcsStore(t testing.TB) *state.Store {
	t.Helper()
	return state.NewStore(gcsDriver(t), nil)
}

// gcsDriver is gcsStore's driver, for tests that wrap it.
func gcsDriver(t testing.TB) driver.Store {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatalf("start fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	client, err := storage.NewClient(ctx, option.WithEndpoint(srv.URL()+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	name := fmt.Sprintf("eddy-state-%d", bucketSeq.Add(1))
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	b, err := gcsblob.OpenBucket(ctx, nil, name, &gcsblob.Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	d, err := blobstate.New(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// psEnv is an in-process Pub/Sub (pstest) with a client on it.
type psEnv struct {
	srv    *pstest.Server
	conn   *grpc.ClientConn
	client *raw.Client
}

func newPubSub(t testing.TB) *psEnv {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client, err := gcppubsubv2.Client(context.Background(), project, conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &psEnv{srv: srv, conn: conn, client: client}
}

// topic creates a topic with an ordered subscription on it (named topic+"-sub") and returns the
// gocloud topic.
func (e *psEnv) topic(t testing.TB, name string) *pubsub.Topic {
	t.Helper()
	ctx := context.Background()
	if _, err := e.client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + name}); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	if _, err := e.client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:  "projects/" + project + "/subscriptions/" + name + "-sub",
		Topic: "projects/" + project + "/topics/" + name, EnableMessageOrdering: true, AckDeadlineSeconds: 30,
	}); err != nil {
		t.Fatalf("create subscription %s-sub: %v", name, err)
	}
	top := gcppubsubv2.OpenTopic(e.client, name, nil)
	t.Cleanup(func() { top.Shutdown(context.Background()) })
	return top
}

// drain receives from name's subscription until want distinct messages (by eddy_id, or by
// message id) have come, then a quiet 300 ms more to catch extras, or until timeout.
func (e *psEnv) drain(t testing.TB, name string, want int, timeout time.Duration) []*raw.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var (
		mu    sync.Mutex
		msgs  []*raw.Message
		seen  = map[string]bool{}
		quiet *time.Timer
	)
	err := e.client.Subscriber(name+"-sub").Receive(ctx, func(_ context.Context, m *raw.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		id := m.Attributes[gcp.AttrID]
		if id == "" {
			id = m.ID
		}
		if seen[id] {
			return
		}
		seen[id] = true
		msgs = append(msgs, m)
		if len(msgs) >= want && quiet == nil {
			quiet = time.AfterFunc(300*time.Millisecond, cancel)
		}
	})
	if err != nil && ctx.Err() == nil {
		t.Fatalf("receive from %s: %v", name, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(msgs) < want {
		t.Fatalf("%s: got %d distinct messages within %s, want %d", name, len(msgs), timeout, want)
	}
	return msgs
}

// sensorEvent is one standard event.
type sensorEvent struct {
	Key   string
	TS    int64
	Value float64
	ID    string
}

func (e sensorEvent) json() []byte {
	return bench.Event{Key: e.Key, TS: e.TS, Value: e.Value}.AppendJSON(nil)
}

// sensorEvents makes n events per key, in event-time order per key (the order Pub/Sub keeps per
// ordering key), 5 s apart with jitter, and then a sentinel per key 10 minutes later that closes
// every window before it. Values are multiples of 0.25, so sums are exact.
func sensorEvents(seed uint64, keys, n int) (evs [][]sensorEvent) {
	r := rand.New(rand.NewPCG(seed, 7))
	for k := range keys {
		key := fmt.Sprintf("sensor-%04d", k)
		ts := bench.Start + int64(k)*1000
		var ks []sensorEvent
		for i := range n {
			ts += 1000 + r.Int64N(8000)
			ks = append(ks, sensorEvent{Key: key, TS: ts, Value: float64(r.IntN(400)) / 4, ID: fmt.Sprintf("%d%06d", k+1, i)})
		}
		ks = append(ks, sensorEvent{Key: key, TS: ts + 600_000, Value: 0, ID: fmt.Sprintf("%d%06d", k+1, n)})
		evs = append(evs, ks)
	}
	return evs
}

// hotRule fires when a window's max reaches 95 and resolves when it drops below.
var hotRule = rule.Threshold{Name: "hot", Severity: "warning", Condition: "max >= 95.0"}

// newW1 makes W1 (tumbling 60 s count/sum/avg/min/max) with the hot rule: the function under test.
func newW1(string) (runner.Processor, error) { return buildW1(bench.W1) }

// buildW1 makes cfg (W1 or a variant of it) with the hot rule.
func buildW1(cfg pipeline.Config) (runner.Processor, error) {
	set, err := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "count"}, {Name: "sum"}, {Name: "avg"}, {Name: "min"}, {Name: "max"}},
		Thresholds: []rule.Threshold{hotRule},
	})
	if err != nil {
		return nil, err
	}
	b, err := pipeline.New(cfg)
	if err != nil {
		return nil, err
	}
	b.Decide(set.NewEngine())
	return b.Build(func(paths []string) (pipeline.Decoder, error) {
		in := bench.Input
		in.Paths = paths
		return codec.New(in)
	})
}

// expected computes the window results and decisions of W1 + hot naively, as canonical lines.
func expected(evs [][]sensorEvent) (windows, decisions []string) {
	for _, ks := range evs {
		type agg struct {
			start         int64
			count         int
			sum, min, max float64
		}
		var ws []*agg
		for _, e := range ks[:len(ks)-1] { // the sentinel's window stays open
			start := e.TS - e.TS%60000
			if len(ws) == 0 || ws[len(ws)-1].start != start {
				ws = append(ws, &agg{start: start, min: e.Value, max: e.Value})
			}
			w := ws[len(ws)-1]
			w.count++
			w.sum += e.Value
			w.min = min(w.min, e.Value)
			w.max = max(w.max, e.Value)
		}
		firing := false
		for _, w := range ws {
			windows = append(windows, windowLine(ks[0].Key, w.start, w.start+60000, float64(w.count), w.sum, w.sum/float64(w.count), w.min, w.max))
			hot := w.max >= 95
			switch {
			case hot && !firing:
				decisions = append(decisions, decisionLine(ks[0].Key, "firing", w.start, w.start+60000))
			case !hot && firing:
				decisions = append(decisions, decisionLine(ks[0].Key, "resolved", w.start, w.start+60000))
			}
			firing = hot
		}
	}
	sort.Strings(windows)
	sort.Strings(decisions)
	return windows, decisions
}

func ms(t int64) string { return time.UnixMilli(t).UTC().Format(core.TimeLayout) }

func windowLine(key string, start, end int64, count, sum, avg, mn, mx float64) string {
	return fmt.Sprintf("%s [%s,%s) count=%v sum=%v avg=%v min=%v max=%v", key, ms(start), ms(end), count, sum, avg, mn, mx)
}

func decisionLine(key, st string, start, end int64) string {
	return fmt.Sprintf("%s hot %s [%s,%s)", key, st, ms(start), ms(end))
}

// outputLines parses output messages into canonical lines, checking each message's attributes.
func outputLines(t testing.TB, msgs []*raw.Message) (windows, decisions []string) {
	t.Helper()
	for _, m := range msgs {
		var o struct {
			Type, ID, Key, Rule, State string
			Start, End                 time.Time
			Revision                   int
			Window                     struct{ Start, End time.Time }
			Values                     map[string]float64
		}
		data, err := adaptertest.OutputJSON(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &o); err != nil {
			t.Fatalf("output %s: %v: %s", m.ID, err, m.Data)
		}
		if m.Attributes[gcp.AttrType] != o.Type || m.Attributes[gcp.AttrKey] != o.Key || m.OrderingKey != o.Key {
			t.Errorf("output attributes %v, ordering key %q, for %s", m.Attributes, m.OrderingKey, m.Data)
		}
		switch o.Type {
		case "window":
			if o.Revision != 0 {
				t.Errorf("revision %d: %s", o.Revision, m.Data)
			}
			v := o.Values
			windows = append(windows, windowLine(o.Key, o.Start.UnixMilli(), o.End.UnixMilli(), v["count"], v["sum"], v["avg"], v["min"], v["max"]))
		case "decision":
			if m.Attributes[gcp.AttrID] != o.ID {
				t.Errorf("decision id %q, attribute %q", o.ID, m.Attributes[gcp.AttrID])
			}
			decisions = append(decisions, decisionLine(o.Key, o.State, o.Window.Start.UnixMilli(), o.Window.End.UnixMilli()))
		default:
			t.Errorf("unexpected output: %s", m.Data)
		}
	}
	sort.Strings(windows)
	sort.Strings(decisions)
	return windows, decisions
}

func sameLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s differ:\ngot  %d:\n%s\nwant %d:\n%s", what, len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
}

// pushBody is the JSON a push subscription posts for e.
func pushBody(e sensorEvent, orderingKey string) []byte {
	b, _ := json.Marshal(map[string]any{
		"message": map[string]any{
			"data": base64.StdEncoding.EncodeToString(e.json()), "attributes": map[string]string{"origin": "test"},
			"messageId": e.ID, "publishTime": ms(e.TS), "orderingKey": orderingKey,
		},
		"subscription": "projects/" + project + "/subscriptions/eventarc-sub",
	})
	return b
}

// Delivery modes of a push.
const (
	binaryMode = iota
	structuredMode
	rawPush
)

// binaryRequest is e as a binary-mode messagePublished CloudEvent POSTed to endpoint, with e's
// key as the ordering key.
func binaryRequest(endpoint string, e sensorEvent) *http.Request {
	req, _ := http.NewRequest("POST", endpoint, bytes.NewReader(pushBody(e, e.Key)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-type", gcp.MessagePublished)
	req.Header.Set("ce-source", "//pubsub.googleapis.com/projects/"+project+"/topics/telemetry")
	req.Header.Set("ce-id", e.ID)
	req.Header.Set("ce-time", ms(e.TS))
	return req
}

// deliver POSTs e to the function served at url in the given mode and returns the status code.
func deliver(t testing.TB, url string, e sensorEvent, mode int) int {
	t.Helper()
	var req *http.Request
	switch mode {
	case binaryMode:
		req = binaryRequest(url+"/", e)
	case structuredMode:
		body, _ := json.Marshal(map[string]any{
			"specversion": "1.0", "type": gcp.MessagePublished, "id": e.ID, "time": ms(e.TS),
			"source": "//pubsub.googleapis.com/projects/" + project + "/topics/telemetry", "datacontenttype": "application/json",
			"data": json.RawMessage(pushBody(e, e.Key)),
		})
		req, _ = http.NewRequest("POST", url+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/cloudevents+json")
	case rawPush:
		// The push endpoint's path names the topic, as the framework's legacy conversion expects;
		// the conversion keeps no ordering key.
		req, _ = http.NewRequest("POST", url+"/projects/"+project+"/topics/telemetry", bytes.NewReader(pushBody(e, "")))
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("deliver %s: %v", e.ID, err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// serve starts the real functions-framework HTTP server on a free loopback port with
// FUNCTION_TARGET=target, as Cloud Run functions run it: the target function answers on every
// path. With target "" every registered function answers at "/"+its name, in one process. It
// returns the base URL. The framework has no way to stop its server; it lives as long
// as the test binary.
func serve(t testing.TB, target string) string {
	t.Helper()
	// The framework reads FUNCTION_TARGET when it builds its handler, before serve returns.
	t.Setenv("FUNCTION_TARGET", target)
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		errc := make(chan error, 1)
		go func() { errc <- funcframework.StartHostPort("127.0.0.1", port) }()
		url := "http://127.0.0.1:" + port
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			select {
			case err := <-errc:
				t.Logf("framework on port %s: %v; trying another port", port, err)
				goto next
			default:
			}
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
				c.Close()
				return url
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("functions framework did not start on port %s", port)
	next:
	}
	t.Fatal("functions framework could not bind a port")
	return ""
}

// readHTTPSample parses a .http file: request line, headers, blank line, body.
func readHTTPSample(t testing.TB, path string) (http.Header, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(bytes.NewReader(b))
	if _, err := r.ReadString('\n'); err != nil { // POST / HTTP/1.1
		t.Fatal(err)
	}
	h := http.Header{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: headers: %v", path, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s: bad header %q", path, line)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	body, _ := io.ReadAll(r)
	return h, bytes.TrimSpace(body)
}

// sink creates a topic with an ordered subscription on it, as topic does, and returns the
// gcppubsub:// sink publishing to it (with ordering keys if ordering), as Start opens it.
func (e *psEnv) sink(t testing.TB, name string, ordering bool) *sink.Sink {
	t.Helper()
	e.topic(t, name)
	s := sink.New(pubsubsink.New(e.client.Publisher(name), ordering), nil)
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}
