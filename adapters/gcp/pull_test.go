package gcp_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	raw "cloud.google.com/go/pubsub/v2"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/gcppubsubv2"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/examples/bench"
)

// openSub opens a subscription with the short gcppubsubv2 URL form, on the test's pstest
// connection (the default URL mux would dial PUBSUB_EMULATOR_HOST once per process).
func (e *psEnv) openSub(t testing.TB, name string) *pubsub.Subscription {
	t.Helper()
	mux := new(pubsub.URLMux)
	mux.RegisterSubscription(gcppubsubv2.Scheme, &gcppubsubv2.URLOpener{Conn: e.conn})
	sub, err := mux.OpenSubscription(context.Background(), gcppubsubv2.Scheme+"://"+project+"/"+url.PathEscape(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Shutdown(context.Background()) })
	return sub
}

// publish publishes evs to topic in order, each with its key as ordering key when ordered.
func (e *psEnv) publish(t testing.TB, topic string, evs []sensorEvent, ordered bool) {
	t.Helper()
	p := e.client.Publisher(topic)
	p.EnableMessageOrdering = ordered
	defer p.Stop()
	var rs []*raw.PublishResult
	for _, ev := range evs {
		m := &raw.Message{Data: ev.json(), Attributes: map[string]string{"shard": ev.Key[len(ev.Key)-1:]}}
		if ordered {
			m.OrderingKey = ev.Key
		}
		rs = append(rs, p.Publish(context.Background(), m))
	}
	for _, r := range rs {
		if _, err := r.Get(context.Background()); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

// The standard events published with ordering keys, processed in pull mode through a gcppubsubv2
// subscription: batches per ordering key, state on fake-gcs-server, outputs on a topic. A sink
// that fails twice makes two batches nack and come back; the results are still exactly the naive
// reference's. A message with neither ordering key nor event key is dead-lettered and acked.
func TestPull(t *testing.T) {
	ps := newPubSub(t)
	store := gcsStore(t)
	ps.topic(t, "telemetry")
	out := ps.sink(t, "decisions", true)
	dead := ps.sink(t, "dead", false)
	r, err := runner.New(runner.Config{Function: "w1", Store: store, New: newW1, Sink: &flakySink{next: out, fails: 2}, DeadLetter: dead})
	if err != nil {
		t.Fatal(err)
	}
	byKey, err := gcp.ByEventKey(bench.Input)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gcp.New(gcp.Config{Runner: r, DeadLetter: dead, Partition: gcp.FirstOf(gcp.ByOrderingKey, byKey)})
	if err != nil {
		t.Fatal(err)
	}
	evs := sensorEvents(2, 5, 30)
	var all []sensorEvent
	for i := range evs[0] { // interleave the keys, as a live stream would
		for _, ks := range evs {
			all = append(all, ks[i])
		}
	}
	ps.publish(t, "telemetry", all, true)
	if _, err := ps.client.Publisher("telemetry").Publish(context.Background(), &raw.Message{Data: []byte(`{"ts":5}`)}).Get(context.Background()); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var st gcp.PullStats
	var perr error
	go func() {
		defer close(done)
		st, perr = f.Pull(ctx, ps.openSub(t, "telemetry-sub"), gcp.PullOptions{MaxWait: 20 * time.Millisecond})
	}()
	wantW, wantD := expected(evs)
	msgs := ps.drain(t, "decisions", len(wantW)+len(wantD), 60*time.Second)
	deadMsgs := ps.drain(t, "dead", 1, 30*time.Second)
	cancel()
	<-done
	if perr != nil {
		t.Fatalf("pull: %v", perr)
	}
	gotW, gotD := outputLines(t, msgs)
	sameLines(t, "window results", gotW, wantW)
	sameLines(t, "decisions", gotD, wantD)
	if d, err := adaptertest.DeadLetterOf(deadMsgs[0].Data); err != nil || deadMsgs[0].Attributes[gcp.AttrField] != "key" || string(d.Data) != `{"ts":5}` {
		t.Errorf("dead letter: %v %s", deadMsgs[0].Attributes, deadMsgs[0].Data)
	}
	if st.Nacked < 1 || st.Acked != len(all)+1 || st.Messages != st.Acked+st.Nacked {
		t.Errorf("stats %+v: want some nacks, and %d messages acked in the end", st, len(all)+1)
	}
	t.Logf("pull stats: %+v", st)
}
