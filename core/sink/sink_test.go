package sink_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/sink/memsink"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// A body is the output's own JSON with eddy_id first; equal outputs get equal ids, and a new
// revision a new one.
func TestMessageBody(t *testing.T) {
	w := &core.WindowResult{Function: "f", Key: "k", Start: t0, End: t0.Add(time.Minute), Values: []core.NamedValue{{Name: "n", Num: 2}}}
	m := sink.Message(w, nil)
	want := `{"eddy_id":"` + m.ID + `",` + string(w.AppendJSON(nil))[1:]
	if string(m.Body) != want {
		t.Fatalf("body %s\nwant %s", m.Body, want)
	}
	w2 := *w
	if sink.Message(&w2, nil).ID != m.ID {
		t.Fatal("equal outputs, different ids")
	}
	w2.Revision = 1
	if sink.Message(&w2, nil).ID == m.ID {
		t.Fatal("a new revision kept the id")
	}
	if m.Key != "k" || m.Metadata[sink.MetaKey] != "k" || m.Metadata[sink.MetaTime] != "2026-01-01T00:01:00.000Z" {
		t.Fatalf("message %+v", m)
	}
	keyless := sink.Message(&core.WindowResult{Function: "f", Start: t0, End: t0.Add(time.Minute)}, nil)
	if _, ok := keyless.Metadata[sink.MetaKey]; ok || keyless.Key != "" {
		t.Fatalf("keyless output has a key: %+v", keyless)
	}
}

// FuzzDeadLetter: whatever the record holds, the envelope is JSON and gives the bytes back.
func FuzzDeadLetter(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "reason", "field", "k", "v")
	f.Add([]byte{0xff, 0, '"', '\\'}, "\x00\u2028", "", "\xff", "")
	f.Fuzz(func(t *testing.T, data []byte, reason, field, ak, av string) {
		fl := &core.Failure{Record: core.Record{ID: "r", Offset: "1", Data: data, Attrs: map[string]string{ak: av}}, Reason: reason, Field: field}
		m := sink.DeadLetter(fl)
		var env struct {
			ID         string `json:"eddy_id"`
			DataBase64 string `json:"data_base64"`
		}
		if err := json.Unmarshal(m.Body, &env); err != nil {
			t.Fatalf("envelope is not JSON: %v: %q", err, m.Body)
		}
		raw, err := base64.StdEncoding.DecodeString(env.DataBase64)
		if err != nil || !bytes.Equal(raw, data) || env.ID != m.ID {
			t.Fatalf("envelope %q does not give back %q", m.Body, data)
		}
	})
}

// flaky rejects what its func says, as a transport does.
type flaky struct {
	memsink.Topic
	calls int
}

func (f *flaky) Send(ctx context.Context, msgs []*driver.Message) error {
	f.calls++
	return f.Topic.Send(ctx, msgs)
}

// What the transport keeps rejecting fails after MaxAttempts, naming the message; what it
// rejects once is resent alone.
func TestRetries(t *testing.T) {
	ctx := context.Background()
	d := &flaky{}
	rejected := 0
	d.Reject = func(m *driver.Message) error {
		if m.Key == "always" || (m.Key == "once" && rejected == 0) {
			rejected++
			return errors.New("throttled")
		}
		return nil
	}
	s := sink.New(d, &sink.Options{MaxAttempts: 3, Backoff: time.Millisecond})
	once := &driver.Message{ID: "m-once", Key: "once", Body: []byte(`{}`)}
	if err := s.Send(ctx, []*driver.Message{{ID: "m-ok", Key: "ok", Body: []byte(`{}`)}, once}); err != nil {
		t.Fatal(err)
	}
	if d.calls != 2 || len(d.Messages()) != 2 {
		t.Fatalf("%d calls, %d messages", d.calls, len(d.Messages()))
	}
	err := s.Send(ctx, []*driver.Message{{ID: "m-always", Key: "always", Body: []byte(`{}`)}})
	if err == nil || !strings.Contains(err.Error(), "m-always") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("got %v", err)
	}
}

// The limits split a send into driver calls.
func TestSplitsToLimits(t *testing.T) {
	d := &flaky{}
	d.Lim = driver.Limits{MaxBatchMessages: 3, MaxBatchBytes: 100}
	var msgs []*driver.Message
	for range 7 {
		msgs = append(msgs, &driver.Message{ID: "0123456789", Body: []byte(`{"pad":"0123456789"}`)})
	}
	if err := sink.New(d, nil).Send(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	// 30 bytes each: 3 fit the 100-byte batch, the count limit too.
	if d.calls != 3 || len(d.Messages()) != 7 {
		t.Fatalf("%d calls for 7 messages of 30 bytes (3 a call)", d.calls)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for u, want := range map[string]string{
		"nosuch://x":                 `no driver for scheme "nosuch"`,
		"mem://x?format=xml":         "format",
		"mem://x?max_attempts=0":     "max_attempts",
		"mem://x?max_attempts=lots":  "max_attempts",
		"%zz":                        "invalid URL escape",
		"mem://x?format=cloudevents": "",
	} {
		_, err := sink.Open(ctx, u)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", u, err, want)
		}
	}
}
