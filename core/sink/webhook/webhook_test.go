package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
	"github.com/eddyhq/eddy/core/sink/webhook"
)

const secret = "s3cret"

// receiver is a webhook endpoint as a user writes one: it checks the signature, then reads the
// message (or the batch's lines) and its metadata.
func receiver(t *testing.T, c *sinktest.Collector, status func() int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		if err := webhook.Verify([]byte(secret), r.Header, body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("request signature: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if code := status(); code != http.StatusOK {
			http.Error(w, "try later", code)
			return
		}
		switch ct := r.Header.Get("Content-Type"); ct {
		case "application/json", "application/cloudevents+json":
			md := map[string]string{}
			for h, v := range r.Header {
				if k := webhook.MetadataKey(h); k != "" {
					dv, err := url.PathUnescape(v[0])
					if err != nil {
						t.Errorf("header %s: %q: %v", h, v[0], err)
					}
					md[k] = dv
				}
			}
			c.Add(sinktest.Received{Body: body, ID: md[sink.MetaID], Key: md[sink.MetaKey], ContentType: ct, Metadata: md})
		case "application/x-ndjson":
			sc := bufio.NewScanner(bytes.NewReader(body))
			sc.Buffer(nil, 16<<20)
			n := 0
			for sc.Scan() {
				var l struct {
					ID       string            `json:"eddy_id"`
					Key      string            `json:"key"`
					Metadata map[string]string `json:"metadata"`
					Body     json.RawMessage   `json:"body"`
				}
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Errorf("line %q: %v", sc.Text(), err)
				}
				c.Add(sinktest.Received{Body: l.Body, ID: l.ID, Key: l.Key, Metadata: l.Metadata})
				n++
			}
			if got := r.Header.Get(webhook.HeaderCount); got != strconv.Itoa(n) {
				t.Errorf("%s = %s for %d lines", webhook.HeaderCount, got, n)
			}
		default:
			t.Errorf("Content-Type %q", ct)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func ok() int { return http.StatusOK }

func harness(batch int) sinktest.Harness {
	return sinktest.Harness{
		// A batch's lines share the request's content type.
		Features: sinktest.Features{Metadata: true, MessageID: true, Key: true, ContentType: batch == 1},
		Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
			c := &sinktest.Collector{}
			srv := receiver(t, c, ok)
			s, err := webhook.New(srv.URL+"/hook", webhook.Options{Secret: []byte(secret), Batch: batch, MaxBytes: 256 << 10})
			if err != nil {
				t.Fatal(err)
			}
			return &sinktest.Destination{Sink: s, Read: c.Read}
		},
	}
}

func TestConformance(t *testing.T) { sinktest.Run(t, harness(1)) }

func TestConformanceBatches(t *testing.T) { sinktest.Run(t, harness(5)) }

func window(key string) []core.Output {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return []core.Output{&core.WindowResult{Function: "f", Key: key, Start: t0, End: t0.Add(time.Minute)}}
}

// 5xx, 408 and 429 answers are resent; the message arrives once the receiver takes it.
func TestRetryOnTemporaryAnswers(t *testing.T) {
	for _, code := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError} {
		var mu sync.Mutex
		calls := 0
		c := &sinktest.Collector{}
		srv := receiver(t, c, func() int {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls < 3 {
				return code
			}
			return http.StatusOK
		})
		t.Setenv("HOOK_SECRET", secret)
		s, err := sink.Open(context.Background(), srv.URL+"/hook?secret_env=HOOK_SECRET&max_attempts=5")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Emit(context.Background(), window("k")); err != nil {
			t.Fatalf("%d: %v", code, err)
		}
		got, _ := c.Read(context.Background(), 1)
		if calls != 3 || len(got) != 1 || got[0].Metadata[sink.MetaKey] != "k" {
			t.Fatalf("%d: %d calls, got %+v", code, calls, got)
		}
	}
}

// A 4xx answer is an error that says what the receiver answered.
func TestClientError(t *testing.T) {
	c := &sinktest.Collector{}
	var calls atomic.Int32
	srv := receiver(t, c, func() int { calls.Add(1); return http.StatusBadRequest })
	s, err := webhook.New(srv.URL, webhook.Options{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	err = sink.New(s, &sink.Options{MaxAttempts: 5}).Emit(context.Background(), window("k"))
	var se *webhook.StatusError
	if !errors.As(err, &se) || se.Code != 400 || se.Temporary() || !strings.Contains(err.Error(), "try later") {
		t.Fatalf("got %v", err)
	}
	// Given up at once: the receiver saw one request.
	if calls := calls.Load(); calls != 1 {
		t.Fatalf("%d requests for a 400", calls)
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	t.Setenv(webhook.EnvSecret, "")
	if _, err := sink.Open(ctx, "https://hooks.example.com/x"); err == nil || !strings.Contains(err.Error(), webhook.EnvSecret) {
		t.Fatalf("no secret: %v", err)
	}
	t.Setenv(webhook.EnvSecret, secret)
	for _, u := range []string{"https://hooks.example.com/x?batch=10", "http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x?timeout=5s"} {
		if _, err := sink.Open(ctx, u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://hooks.example.com/x", "https://h/x?batch=0", "https://h/x?color=red", "https:///x", "https://h/x?timeout=-1s"} {
		if _, err := sink.Open(ctx, u); err == nil {
			t.Errorf("%s: opened", u)
		}
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"a":1}`)
	h := http.Header{}
	h.Set(webhook.HeaderTimestamp, "1800000000")
	h.Set(webhook.HeaderSignature, "v1="+webhook.Sign([]byte(secret), "1800000000", body))
	if err := webhook.Verify([]byte(secret), h, body, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := webhook.Verify([]byte(secret), h, []byte(`{"a":2}`), now, time.Minute); err == nil {
		t.Fatal("a changed body verified")
	}
	if err := webhook.Verify([]byte("other"), h, body, now, time.Minute); err == nil {
		t.Fatal("another secret verified")
	}
	if err := webhook.Verify([]byte(secret), h, body, now.Add(2*time.Minute), time.Minute); err == nil {
		t.Fatal("an old request verified")
	}
}

func TestHeaderNames(t *testing.T) {
	for k, h := range map[string]string{sink.MetaID: "Eddy-Id", sink.MetaFunction: "Eddy-Function", sink.MetaPartition: "Eddy-Partition"} {
		if got := webhook.HeaderName(k); got != h || webhook.MetadataKey(got) != k {
			t.Errorf("%s → %s → %s", k, got, webhook.MetadataKey(got))
		}
	}
	if v := webhook.EncodeValue("m/7 ü%\n"); v != "m/7 %C3%BC%25%0A" {
		t.Errorf("EncodeValue: %q", v)
	}
}

// FuzzVerify: a signature made by Sign verifies, for any body and timestamp; a header that is
// not one never panics.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"a":1}`), int64(1_800_000_000), "v1=00")
	f.Add([]byte{}, int64(-1), "v1=,v0=zz,,")
	f.Fuzz(func(t *testing.T, body []byte, ts int64, junk string) {
		now := time.Unix(ts, 0)
		h := http.Header{}
		h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(webhook.HeaderSignature, "v1="+webhook.Sign([]byte(secret), strconv.FormatInt(ts, 10), body))
		if err := webhook.Verify([]byte(secret), h, body, now, time.Minute); err != nil {
			t.Fatalf("a good signature: %v", err)
		}
		h.Set(webhook.HeaderSignature, junk)
		h.Set(webhook.HeaderTimestamp, junk)
		_ = webhook.Verify([]byte(secret), h, body, now, time.Minute)
	})
}
