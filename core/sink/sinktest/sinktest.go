// Package sinktest is the conformance suite every sink driver passes, as gocloud.dev's drivertest
// is for its drivers: a driver's test gives Run a Harness that makes fresh destinations on the
// transport's real local stand-in (kinesalite, fauxqs, pstest, the Event Hubs AMQP fake, a RabbitMQ
// server, an httptest server) and reads back what arrived there, as a consumer would.
//
// Run sends outputs and dead letters through the portable *sink.Sink over the driver and checks,
// for each transport, what it declares in Features:
//
//   - ids and metadata on the wire: the contract's metadata in the transport's native place
//     (attributes, properties, headers), the id where the transport keeps a message id, the key
//     where it keeps a partition or ordering key, and in every body the "eddy_id" and "type"
//     members;
//   - the dead-letter envelope: reason, field, record, partition, offset, attributes, and the
//     original bytes through data_base64, non-UTF-8 bytes included;
//   - per-key order, over several sends and over concurrent sends;
//   - retry of partly failed batches: the destination's Reject hook makes the transport (or a
//     wrapper at its API) reject some messages, which the driver must report in a
//     *driver.PartialError so that only those are resent; without the hook, a wrapper around the
//     driver rejects them, which proves the resend path over the real transport;
//   - size limits: a message over Limits().MaxMessageBytes is a *sink.TooLargeError naming its id,
//     and a message of exactly that size is accepted by the transport;
//   - cancellation: a cancelled context returns at once with the context's error.
package sinktest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Features declares what a transport carries, watermill-style: the suite checks each declared
// feature and skips the checks of the others.
type Features struct {
	// Metadata: each message's metadata arrives as the transport's attributes, properties or
	// headers (Received.Metadata). Without it (Kinesis, files) the body is the only carrier.
	Metadata bool
	// MessageID: the transport keeps a message id, and Received.ID is the message's ID.
	MessageID bool
	// Key: the transport keeps a partition, ordering or routing key, and Received.Key is the
	// message's Key for keyed messages.
	Key bool
	// ContentType: the transport carries the body's media type (HTTP, Event Hubs, RabbitMQ), and
	// Received.ContentType is the message's ("application/json" or
	// "application/cloudevents+json").
	ContentType bool
	// Unordered: the transport does not keep one key's messages in order (standard SNS topics and
	// SQS queues, Pub/Sub without ordering keys).
	Unordered bool
}

// Received is one message as it arrived, read by a consumer of the transport.
type Received struct {
	// Body is the payload as the consumer gets it.
	Body []byte
	// ID is the transport's message id (with Features.MessageID).
	ID string
	// Key is the transport's partition, ordering or routing key (with Features.Key).
	Key string
	// ContentType is the body's media type (with Features.ContentType).
	ContentType string
	// Metadata holds the transport's attributes, properties or headers (with Features.Metadata);
	// extra entries the transport adds are allowed.
	Metadata map[string]string
}

// Destination is one fresh destination (a stream, topic, queue, hub, server) and a driver that
// sends to it.
type Destination struct {
	// Sink sends to the destination. Run closes it.
	Sink driver.Sink
	// Read returns the first n messages that arrived at the destination, in arrival order (per
	// key, at least), waiting for them until ctx ends; then it returns what arrived with the
	// context's error. It is called with growing n, and once with n one more than was sent, to
	// see that nothing extra arrived.
	Read func(ctx context.Context, n int) ([]Received, error)
	// Reject, if set, makes the transport reject, in the driver's next Send calls, the messages
	// whose key is in keys (as throttling does), until it is called again with no keys. The
	// driver must then report exactly the messages of those keys in a *driver.PartialError.
	Reject func(keys ...string)
}

// Harness makes destinations of one transport.
type Harness struct {
	// Features declares what the transport carries.
	Features Features
	// Open makes a fresh destination; failures call t.Fatal.
	Open func(ctx context.Context, t *testing.T) *Destination
	// Wait bounds how long a read waits for messages that should arrive (default 30 s), and
	// Quiet how long it waits to see that no extra message arrives (default 300 ms). A too short
	// Quiet can miss a duplicate; it never fails a good driver.
	Wait, Quiet time.Duration
	// StandInMaxBytes is the stand-in's own limit on a message, when it is below the real
	// transport's (pstest takes gRPC messages of 4 MiB, Pub/Sub 10 MB); the suite then does not
	// send a message of the driver's declared limit.
	StandInMaxBytes int
}

// Run runs the suite against h.
func Run(t *testing.T, h Harness) {
	if h.Open == nil {
		t.Fatal("sinktest: Harness.Open is nil")
	}
	if h.Wait <= 0 {
		h.Wait = 30 * time.Second
	}
	if h.Quiet <= 0 {
		h.Quiet = 300 * time.Millisecond
	}
	r := &run{h: h}
	t.Run("Contract", r.testContract)
	t.Run("DeadLetterEnvelope", r.testDeadLetters)
	t.Run("OrderPerKey", r.testOrder)
	t.Run("ConcurrentSends", r.testConcurrent)
	t.Run("PartialFailure", r.testPartial)
	t.Run("SizeLimit", r.testSizeLimit)
	t.Run("Cancel", r.testCancel)
	t.Run("CloudEvents", r.testCloudEvents)
}

type run struct{ h Harness }

// open makes a destination and closes its sink when the test ends.
func (r *run) open(t *testing.T) *Destination {
	t.Helper()
	d := r.h.Open(context.Background(), t)
	if d == nil || d.Sink == nil || d.Read == nil {
		t.Fatal("sinktest: Harness.Open returned no destination, sink or reader")
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = d.Sink.Close(context.Background())
		}
	})
	return d
}

// readAll reads the n messages sent and checks that no more arrive.
func (r *run) readAll(t *testing.T, d *Destination, n int) []Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), r.h.Wait)
	got, err := d.Read(ctx, n)
	cancel()
	if err != nil || len(got) < n {
		t.Fatalf("read: %d of %d messages arrived: %v", len(got), n, err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), r.h.Quiet)
	more, _ := d.Read(ctx, n+1)
	cancel()
	if len(more) > n {
		t.Fatalf("read: %d messages arrived, %d were sent; the first extra: %s", len(more), n, clip(more[n].Body))
	}
	return got[:n]
}

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// outputs are a mix of every output type, keys with characters JSON and headers escape, and one
// output with no key.
func outputs(function string, n int, keys []string) []core.Output {
	outs := make([]core.Output, 0, n)
	for i := range n {
		key := keys[i%len(keys)]
		w := core.Span{Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i+1) * time.Second)}
		switch i % 3 {
		case 0:
			outs = append(outs, &core.Decision{ID: core.DecisionID(function, "hot", key, w, string(core.StateFiring), i), Function: function,
				Rule: "hot", Key: key, State: core.StateFiring, Severity: "warning", Time: w.End, Window: w,
				Values: []core.NamedValue{{Name: "avg", Num: 90.5 + float64(i)}, {Name: "note", IsList: true, Items: []core.Item{{Value: `<&"é">`, Count: 2}}}}})
		case 1:
			outs = append(outs, &core.WindowResult{Function: function, Key: key, Start: w.Start, End: w.End, Revision: i,
				Values: []core.NamedValue{{Name: "count", Num: float64(i)}, {Name: "sum", Num: 1.5 * float64(i)}}})
		default:
			outs = append(outs, &core.Late{Function: function, Key: key, Time: w.Start, Watermark: w.End.Add(time.Minute),
				ID: fmt.Sprintf("rec-%d", i), Pos: core.Pos{Partition: "p0", Offset: fmt.Sprint(100 + i)},
				Data: []byte(fmt.Sprintf(`{"key":%q,"n":%d}`, key, i)), Reason: "beyond allowed lateness"})
		}
	}
	return outs
}

var contractKeys = []string{"sensor-0001", "m/7 ü", "sensor-0002"}

func failures(function string) []*core.Failure {
	return []*core.Failure{
		{Record: core.Record{ID: "49590338271490256608559692540925702759324208523137515618", Offset: "4242", Key: "sensor-0001",
			Data: []byte(`{"key":"sensor-0001","ts":"yesterday"}`), Attrs: map[string]string{"origin": "line 7", "ünï": "côdé"}},
			Function: function, Partition: "shardId-000000000001", Field: "ts", Reason: `field "ts": want a number or an RFC 3339 time`},
		{Record: core.Record{ID: "msg-2", Offset: "4243", Data: []byte{0xff, 0xfe, 0x00, 'x', 0x80, '\n', '"'}},
			Function: function, Partition: "shardId-000000000001", Reason: "invalid JSON at byte 0"},
	}
}

// sent is what was sent, by id.
type sent map[string]*driver.Message

func (s sent) add(msgs ...*driver.Message) {
	for _, m := range msgs {
		s[m.ID] = m
	}
}

// bodyID returns the body's eddy_id and type members, or a CloudEvent's id and type.
func bodyID(b []byte) (id, typ string, err error) {
	var v struct {
		EddyID      string `json:"eddy_id"`
		Type        string `json:"type"`
		SpecVersion string `json:"specversion"`
		ID          string `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", "", fmt.Errorf("body is not a JSON object: %w: %s", err, clip(b))
	}
	if v.SpecVersion != "" {
		return v.ID, strings.TrimPrefix(v.Type, "dev.eddy."), nil
	}
	return v.EddyID, v.Type, nil
}

// match finds the sent message of a received one (by its metadata id, else its body's id).
func (r *run) match(t *testing.T, s sent, m Received) *driver.Message {
	t.Helper()
	id, _, err := bodyID(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	if r.h.Features.Metadata && m.Metadata[sink.MetaID] != "" {
		id = m.Metadata[sink.MetaID]
	}
	want := s[id]
	if want == nil {
		t.Fatalf("received a message that was not sent (id %q): %s", id, clip(m.Body))
	}
	return want
}

// check compares a received message with what was sent.
func (r *run) check(t *testing.T, want *driver.Message, got Received) {
	t.Helper()
	if !bytes.Equal(got.Body, want.Body) {
		t.Errorf("message %s: body\n got %s\nwant %s", want.ID, clip(got.Body), clip(want.Body))
	}
	id, typ, err := bodyID(got.Body)
	if err != nil {
		t.Errorf("message %s: %v", want.ID, err)
	} else if id != want.ID || typ != want.Metadata[sink.MetaType] {
		t.Errorf("message %s: body has eddy_id %q and type %q, want %q and %q", want.ID, id, typ, want.ID, want.Metadata[sink.MetaType])
	}
	if r.h.Features.Metadata {
		for k, v := range want.Metadata {
			if got.Metadata[k] != v {
				t.Errorf("message %s: metadata %s = %q, want %q (all: %v)", want.ID, k, got.Metadata[k], v, got.Metadata)
			}
		}
	}
	if r.h.Features.MessageID && got.ID != want.ID {
		t.Errorf("message %s: the transport's message id is %q", want.ID, got.ID)
	}
	if r.h.Features.ContentType {
		ct := want.ContentType
		if ct == "" {
			ct = sink.ContentTypeJSON
		}
		if got.ContentType != ct {
			t.Errorf("message %s: content type %q, want %q", want.ID, got.ContentType, ct)
		}
	}
	if r.h.Features.Key && want.Key != "" && got.Key != want.Key {
		t.Errorf("message %s: the transport's key is %q, want %q", want.ID, got.Key, want.Key)
	}
}

// testContract: every output type and dead letters arrive once each, with the contract's id,
// metadata and key where the transport carries them, and the body sent.
func (r *run) testContract(t *testing.T) {
	d := r.open(t)
	ctx := context.Background()
	s := sink.New(d.Sink, nil)
	outs := append(outputs("press", 9, contractKeys), &core.WindowResult{Function: "press", Start: t0, End: t0.Add(time.Minute),
		Values: []core.NamedValue{{Name: "count", Num: 7}}})
	fs := failures("press")
	if err := s.Emit(ctx, outs); err != nil {
		t.Fatalf("emit: %v", err)
	}
	if err := s.EmitFailures(ctx, fs); err != nil {
		t.Fatalf("emit failures: %v", err)
	}
	want := sent{}
	for _, o := range outs {
		want.add(sink.Message(o, nil))
	}
	for _, f := range fs {
		want.add(sink.DeadLetter(f))
	}
	if len(want) != len(outs)+len(fs) {
		t.Fatalf("sinktest: %d distinct ids for %d messages", len(want), len(outs)+len(fs))
	}
	seen := map[string]bool{}
	for _, m := range r.readAll(t, d, len(want)) {
		w := r.match(t, want, m)
		if seen[w.ID] {
			t.Fatalf("message %s arrived twice", w.ID)
		}
		seen[w.ID] = true
		r.check(t, w, m)
	}
}

// testDeadLetters: the envelope's members, and the original bytes through data_base64.
func (r *run) testDeadLetters(t *testing.T) {
	d := r.open(t)
	ctx := context.Background()
	s := sink.New(d.Sink, nil)
	fs := failures("press")
	if err := s.EmitFailures(ctx, fs); err != nil {
		t.Fatalf("emit failures: %v", err)
	}
	byID := map[string]*core.Failure{}
	for _, f := range fs {
		byID[sink.DeadLetterID(f)] = f
	}
	for _, m := range r.readAll(t, d, len(fs)) {
		var env struct {
			ID, Type, Function, Record, Partition, Offset, Field, Reason string
			EddyID                                                       string            `json:"eddy_id"`
			Attributes                                                   map[string]string `json:"attributes"`
			DataBase64                                                   *string           `json:"data_base64"`
			Data                                                         *string           `json:"data"`
		}
		if err := json.Unmarshal(m.Body, &env); err != nil {
			t.Fatalf("dead letter is not a JSON object: %v: %s", err, clip(m.Body))
		}
		f := byID[env.EddyID]
		if f == nil {
			t.Fatalf("dead letter with eddy_id %q was not sent: %s", env.EddyID, clip(m.Body))
		}
		delete(byID, env.EddyID)
		if env.Type != sink.TypeDeadLetter || env.Function != f.Function || env.Record != f.Record.ID || env.Partition != f.Partition ||
			env.Offset != f.Record.Offset || env.Field != f.Field || env.Reason != f.Reason {
			t.Errorf("dead letter of %s: envelope %s does not describe the failure %+v", f.Record.ID, clip(m.Body), f)
		}
		if len(env.Attributes) != len(f.Record.Attrs) {
			t.Errorf("dead letter of %s: attributes %v, want %v", f.Record.ID, env.Attributes, f.Record.Attrs)
		}
		for k, v := range f.Record.Attrs {
			if env.Attributes[k] != v {
				t.Errorf("dead letter of %s: attribute %s = %q, want %q", f.Record.ID, k, env.Attributes[k], v)
			}
		}
		if env.DataBase64 == nil {
			t.Fatalf("dead letter of %s: no data_base64: %s", f.Record.ID, clip(m.Body))
		}
		raw, err := base64.StdEncoding.DecodeString(*env.DataBase64)
		if err != nil || !bytes.Equal(raw, f.Record.Data) {
			t.Errorf("dead letter of %s: data_base64 decodes to %q (%v), want the original %q", f.Record.ID, raw, err, f.Record.Data)
		}
		switch {
		case utf8.Valid(f.Record.Data) && (env.Data == nil || *env.Data != string(f.Record.Data)):
			t.Errorf("dead letter of %s: data %v, want the original text %q", f.Record.ID, env.Data, f.Record.Data)
		case !utf8.Valid(f.Record.Data) && env.Data != nil:
			t.Errorf("dead letter of %s: data %q for bytes that are not UTF-8", f.Record.ID, *env.Data)
		}
		if r.h.Features.Metadata {
			for k, v := range map[string]string{sink.MetaType: sink.TypeDeadLetter, sink.MetaReason: f.Reason, sink.MetaRecord: f.Record.ID,
				sink.MetaPartition: f.Partition, sink.MetaOffset: f.Record.Offset, sink.MetaFunction: f.Function} {
				if m.Metadata[k] != v {
					t.Errorf("dead letter of %s: metadata %s = %q, want %q", f.Record.ID, k, m.Metadata[k], v)
				}
			}
		}
	}
}

// orderKeys are the keys of the order tests; the empty key is not ordered by any transport.
var orderKeys = []string{"k-a", "k-b", "k-c", "k-d"}

// checkOrder checks that each key's messages arrived in the order of seq, which lists the ids
// sent, in sending order.
func (r *run) checkOrder(t *testing.T, want sent, seq []string, got []Received) {
	t.Helper()
	rank := make(map[string]int, len(seq))
	for i, id := range seq {
		rank[id] = i
	}
	last := map[string]int{}
	seen := map[string]bool{}
	for _, m := range got {
		w := r.match(t, want, m)
		if seen[w.ID] {
			t.Fatalf("message %s arrived twice", w.ID)
		}
		seen[w.ID] = true
		r.check(t, w, m)
		if r.h.Features.Unordered {
			continue
		}
		if prev, ok := last[w.Key]; ok && rank[w.ID] < prev {
			t.Fatalf("key %s: message %d of the sends arrived after message %d", w.Key, rank[w.ID], prev)
		}
		last[w.Key] = rank[w.ID]
	}
}

// testOrder: several sends, each many messages of interleaved keys; each key's messages arrive in
// order.
func (r *run) testOrder(t *testing.T) {
	d := r.open(t)
	ctx := context.Background()
	s := sink.New(d.Sink, nil)
	want := sent{}
	var seq []string
	for round := range 3 {
		outs := outputs(fmt.Sprintf("order-%d", round), 40, orderKeys)
		msgs := make([]*driver.Message, len(outs))
		for i, o := range outs {
			msgs[i] = sink.Message(o, nil)
			seq = append(seq, msgs[i].ID)
		}
		want.add(msgs...)
		if err := s.Send(ctx, msgs); err != nil {
			t.Fatalf("send %d: %v", round, err)
		}
	}
	r.checkOrder(t, want, seq, r.readAll(t, d, len(seq)))
}

// testConcurrent: sends from several goroutines, each of its own key; drivers are safe for
// concurrent use and keep each key's order.
func (r *run) testConcurrent(t *testing.T) {
	d := r.open(t)
	ctx := context.Background()
	s := sink.New(d.Sink, nil)
	want := sent{}
	var seq []string
	per := make([][][]*driver.Message, len(orderKeys))
	for g, key := range orderKeys {
		for round := range 3 {
			outs := outputs(fmt.Sprintf("conc-%d", round), 8, []string{key})
			msgs := make([]*driver.Message, len(outs))
			for i, o := range outs {
				msgs[i] = sink.Message(o, nil)
				seq = append(seq, msgs[i].ID)
			}
			want.add(msgs...)
			per[g] = append(per[g], msgs)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(orderKeys))
	for g := range orderKeys {
		wg.Go(func() {
			for _, msgs := range per[g] {
				if err := s.Send(ctx, msgs); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	r.checkOrder(t, want, seq, r.readAll(t, d, len(seq)))
}

// recorder keeps the errors of a driver's Send calls.
type recorder struct {
	driver.Sink
	mu   sync.Mutex
	errs []error
	lens []int
}

func (c *recorder) Send(ctx context.Context, msgs []*driver.Message) error {
	err := c.Sink.Send(ctx, msgs)
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.lens = append(c.lens, len(msgs))
	c.mu.Unlock()
	return err
}

// rejecter stands in for a transport that cannot be made to reject: in its first Send it sends
// only the messages of keys other than reject through the driver, and reports the others as
// rejected.
type rejecter struct {
	driver.Sink
	mu     sync.Mutex
	reject map[string]bool
}

func (f *rejecter) Send(ctx context.Context, msgs []*driver.Message) error {
	f.mu.Lock()
	reject := f.reject
	f.reject = nil
	f.mu.Unlock()
	if reject == nil {
		return f.Sink.Send(ctx, msgs)
	}
	var keep []*driver.Message
	pe := &driver.PartialError{Err: errors.New("sinktest: rejected")}
	for i, m := range msgs {
		if reject[m.Key] {
			pe.Failed = append(pe.Failed, i)
		} else {
			keep = append(keep, m)
		}
	}
	if len(keep) > 0 {
		if err := f.Sink.Send(ctx, keep); err != nil {
			return err
		}
	}
	if len(pe.Failed) == 0 {
		return nil
	}
	return pe
}

// testPartial: when the transport rejects some messages of a send, the driver reports exactly
// those, the portable sink resends only those, and every message arrives once, each key in order.
func (r *run) testPartial(t *testing.T) {
	d := r.open(t)
	ctx := context.Background()
	rejected := []string{orderKeys[1], orderKeys[3]}
	rec := &recorder{Sink: d.Sink}
	var drv driver.Sink
	if d.Reject != nil {
		d.Reject(rejected...)
		// The first send meets the rejection; lift it after that, as throttling passes.
		first := true
		drv = sendHook{Sink: rec, after: func() {
			if first {
				first = false
				d.Reject()
			}
		}}
	} else {
		drv = &rejecter{Sink: rec, reject: map[string]bool{rejected[0]: true, rejected[1]: true}}
	}
	s := sink.New(drv, &sink.Options{Backoff: time.Millisecond})
	outs := outputs("partial", 24, orderKeys)
	msgs := make([]*driver.Message, len(outs))
	want := sent{}
	var seq []string
	for i, o := range outs {
		msgs[i] = sink.Message(o, nil)
		seq = append(seq, msgs[i].ID)
	}
	want.add(msgs...)
	if err := s.Send(ctx, msgs); err != nil {
		t.Fatalf("send with rejections: %v", err)
	}
	rec.mu.Lock()
	errs, lens := rec.errs, rec.lens
	rec.mu.Unlock()
	if len(errs) < 2 {
		t.Fatalf("the driver was called %d times: the rejected messages were not resent", len(errs))
	}
	if d.Reject != nil {
		// The driver's own report: exactly the rejected keys' messages of the first call.
		var pe *driver.PartialError
		if !errors.As(errs[0], &pe) {
			t.Fatalf("the transport rejected the messages of %v, but the driver returned %v, not a *driver.PartialError", rejected, errs[0])
		}
		var wantFailed []int
		for i := range lens[0] {
			if k := msgs[i].Key; k == rejected[0] || k == rejected[1] {
				wantFailed = append(wantFailed, i)
			}
		}
		if fmt.Sprint(pe.Failed) != fmt.Sprint(wantFailed) {
			t.Fatalf("PartialError.Failed = %v, want %v (the messages of %v)", pe.Failed, wantFailed, rejected)
		}
		if lens[1] != len(wantFailed) {
			t.Fatalf("the resend had %d messages, want the %d rejected", lens[1], len(wantFailed))
		}
	}
	r.checkOrder(t, want, seq, r.readAll(t, d, len(seq)))
}

// sendHook calls after once each Send returns.
type sendHook struct {
	driver.Sink
	after func()
}

func (h sendHook) Send(ctx context.Context, msgs []*driver.Message) error {
	err := h.Sink.Send(ctx, msgs)
	h.after()
	return err
}

// testSizeLimit: over the limit is a *sink.TooLargeError naming the message, and nothing is sent;
// exactly at the limit is accepted and arrives whole.
func (r *run) testSizeLimit(t *testing.T) {
	d := r.open(t)
	lim := d.Sink.Limits().MaxMessageBytes
	if lim <= 0 {
		t.Skip("the transport declares no message size limit")
	}
	ctx := context.Background()
	s := sink.New(d.Sink, nil)
	big := func(id string, size int) *driver.Message {
		m := sink.Message(&core.WindowResult{Function: "size", Key: "k-big", Start: t0, End: t0.Add(time.Second),
			Values: []core.NamedValue{{Name: "n", Num: 1}}}, nil)
		m.ID, m.Metadata[sink.MetaID] = id, id
		prefix := []byte(`{"eddy_id":"` + id + `","type":"window","pad":"`)
		pad := size - (m.Size() - len(m.Body)) - len(prefix) - len(`"}`)
		if pad < 0 {
			t.Fatalf("sinktest: limit %d is below a message's metadata", size)
		}
		m.Body = append(append(prefix, bytes.Repeat([]byte("x"), pad)...), `"}`...)
		if m.Size() != size {
			t.Fatalf("sinktest: made a message of %d bytes, want %d", m.Size(), size)
		}
		return m
	}
	small := sink.Message(outputs("size", 1, []string{"k-big"})[0], nil)
	over := big("over-the-limit", lim+1)
	err := s.Send(ctx, []*driver.Message{small, over})
	var tl *sink.TooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("a message of %d bytes (limit %d): got %v, want a *sink.TooLargeError", lim+1, lim, err)
	}
	if tl.ID != over.ID || !strings.Contains(err.Error(), over.ID) || tl.Size != lim+1 || tl.Limit != lim {
		t.Fatalf("TooLargeError %+v (%v) does not name message %s of %d bytes", tl, err, over.ID, lim+1)
	}
	if lim > 12<<20 || r.h.StandInMaxBytes > 0 && lim > r.h.StandInMaxBytes {
		t.Logf("limit %d: not sending a message of that size to the stand-in", lim)
		return
	}
	at := big("at-the-limit", lim)
	if err := s.Send(ctx, []*driver.Message{at}); err != nil {
		t.Fatalf("a message of exactly the declared limit (%d bytes) was refused: %v", lim, err)
	}
	got := r.readAll(t, d, 1)
	if !bytes.Equal(got[0].Body, at.Body) {
		t.Fatalf("the message at the limit arrived with %d bytes of body, want %d", len(got[0].Body), len(at.Body))
	}
	r.check(t, at, got[0])
}

// testCancel: a cancelled or expired context ends a send with the context's error, in the driver
// and in the portable sink (which does not retry then).
func (r *run) testCancel(t *testing.T) {
	d := r.open(t)
	msgs := []*driver.Message{sink.Message(outputs("cancel", 1, orderKeys)[0], nil)}
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"expired", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, context.DeadlineExceeded},
	} {
		ctx, cancel := c.ctx()
		err := d.Sink.Send(ctx, msgs)
		if !errors.Is(err, c.want) {
			t.Errorf("driver Send with a %s context: %v, want an error wrapping %v", c.name, err, c.want)
		}
		rec := &recorder{Sink: d.Sink}
		err = sink.New(rec, &sink.Options{Backoff: time.Hour}).Send(ctx, msgs)
		cancel()
		if !errors.Is(err, c.want) {
			t.Errorf("sink Send with a %s context: %v, want an error wrapping %v", c.name, err, c.want)
		}
		if len(rec.errs) > 1 {
			t.Errorf("sink Send with a %s context called the driver %d times", c.name, len(rec.errs))
		}
	}
}

// testCloudEvents: in CloudEvents mode the body is a structured CloudEvent with the contract's id,
// and the metadata is the same.
func (r *run) testCloudEvents(t *testing.T) {
	d := r.open(t)
	ctx := context.Background()
	opts := &sink.Options{Format: sink.CloudEvents, Source: "//eddy/test"}
	s := sink.New(d.Sink, opts)
	outs := outputs("ce", 3, contractKeys)
	if err := s.Emit(ctx, outs); err != nil {
		t.Fatalf("emit: %v", err)
	}
	want := map[string]*driver.Message{}
	for _, o := range outs {
		m := sink.Message(o, opts)
		want[m.ID] = m
	}
	for _, m := range r.readAll(t, d, len(outs)) {
		var ce struct {
			SpecVersion, ID, Source, Type string
			Data                          json.RawMessage
		}
		if err := json.Unmarshal(m.Body, &ce); err != nil {
			t.Fatalf("body is not a CloudEvent: %v: %s", err, clip(m.Body))
		}
		w := want[ce.ID]
		if w == nil {
			t.Fatalf("CloudEvent id %q was not sent: %s", ce.ID, clip(m.Body))
		}
		if ce.SpecVersion != "1.0" || ce.Source != opts.Source || ce.Type != "dev.eddy."+w.Metadata[sink.MetaType] || len(ce.Data) == 0 {
			t.Errorf("CloudEvent %s: %s", ce.ID, clip(m.Body))
		}
		r.check(t, w, m)
		if r.h.Features.Metadata && m.Metadata[sink.MetaID] != w.ID {
			t.Errorf("CloudEvent %s: metadata %s = %q", ce.ID, sink.MetaID, m.Metadata[sink.MetaID])
		}
	}
}

func clip(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%q… (%d bytes)", b[:300], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// Collector gathers the messages a consumer receives in the background (an HTTP handler, a
// subscription's receive loop), in arrival order; its Read is a Destination.Read.
type Collector struct {
	mu      sync.Mutex
	got     []Received
	changed chan struct{}
}

// Add records a received message.
func (c *Collector) Add(ms ...Received) {
	c.mu.Lock()
	c.got = append(c.got, ms...)
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
	c.mu.Unlock()
}

// Read returns the first n messages, waiting for them until ctx ends.
func (c *Collector) Read(ctx context.Context, n int) ([]Received, error) {
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			got := append([]Received(nil), c.got[:n]...)
			c.mu.Unlock()
			return got, nil
		}
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			c.mu.Lock()
			got := append([]Received(nil), c.got...)
			c.mu.Unlock()
			return got, ctx.Err()
		}
	}
}
