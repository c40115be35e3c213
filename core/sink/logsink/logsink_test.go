package logsink_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/sink/logsink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

// parse reads log lines back as a log collector would.
func parse(t *testing.T, out []byte) []sinktest.Received {
	var got []sinktest.Received
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var l struct {
			ID       string            `json:"eddy_id"`
			Key      string            `json:"key"`
			Metadata map[string]string `json:"metadata"`
			Body     json.RawMessage   `json:"body"`
			Body64   []byte            `json:"body_base64"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("line %q is not JSON: %v", sc.Text(), err)
			continue
		}
		body := []byte(l.Body)
		if l.Body64 != nil {
			body = l.Body64
		}
		got = append(got, sinktest.Received{Body: body, ID: l.ID, Key: l.Key, Metadata: l.Metadata})
	}
	return got
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Features: sinktest.Features{Metadata: true, MessageID: true, Key: true},
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			w := &lockedBuffer{}
			return &sinktest.Destination{Sink: logsink.New(w), Read: func(ctx context.Context, n int) ([]sinktest.Received, error) {
				var c sinktest.Collector
				c.Add(parse(t, w.bytes())...)
				return c.Read(ctx, n)
			}}
		},
	})
}

// A body that is not one line of JSON goes out base64-encoded, and the line stays one line.
func TestBodyNotJSON(t *testing.T) {
	w := &lockedBuffer{}
	s := logsink.New(w)
	raw := []byte("{\n \"a\": 1\n}")
	if err := s.Send(context.Background(), []*driver.Message{{ID: "x", Body: raw}, {ID: "y", Body: []byte{0xff}}}); err != nil {
		t.Fatal(err)
	}
	out := w.bytes()
	if n := bytes.Count(out, []byte("\n")); n != 2 {
		t.Fatalf("%d lines for 2 messages: %s", n, out)
	}
	got := parse(t, out)
	if len(got) != 2 || !bytes.Equal(got[0].Body, raw) || !bytes.Equal(got[1].Body, []byte{0xff}) {
		t.Fatalf("got %+v", got)
	}
	if !bytes.Contains(out, []byte(base64.StdEncoding.EncodeToString(raw))) {
		t.Fatalf("no body_base64: %s", out)
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"log:", "log:stdout", "log:stderr", "log://stderr", "log:?format=cloudevents"} {
		s, err := sink.Open(ctx, u)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		if _, ok := s.Driver().(*logsink.Sink); !ok {
			t.Errorf("%s: driver %T", u, s.Driver())
		}
	}
	for _, u := range []string{"log:/tmp/x", "log:?level=info"} {
		if _, err := sink.Open(ctx, u); err == nil {
			t.Errorf("%s: opened", u)
		}
	}
}
