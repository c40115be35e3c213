package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// ingestFixture serves the ingest over a real broker on loopback, bodies limited to maxBody.
func ingestFixture(t *testing.T, maxBody int64) *httptest.Server {
	t.Helper()
	f, err := spec.Parse("i.yaml", []byte("name: i\ninput: {key: key, time: ts, time_format: unix_ms}\nwindow: {tumbling: 1m}\naggregates: [{name: n, count: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := local.New(local.Config{Runner: runner.Config{Function: "i", Store: memstate.New(nil), Logger: logger,
		New: func(string) (runner.Processor, error) { return c.NewPipeline() }}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	srv := httptest.NewServer(ingestHandler(b, logger, ingestOptions{loopback: true, maxBody: maxBody}))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, srv *httptest.Server, body []byte, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "POST", srv.URL+"/events", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const ndjson = "application/x-ndjson"

// TestIngestLimitsDecompressedBytes: a small gzip body that expands past the limit is refused with
// 413 once the limit is read, not held whole (the limit used to count compressed bytes).
func TestIngestLimitsDecompressedBytes(t *testing.T) {
	srv := ingestFixture(t, 1<<20)
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	line := []byte(`{"key":"k","ts":1700000000000,"value":1}` + "\n")
	for range (8 << 20) / len(line) {
		w.Write(line)
	}
	w.Close()
	if z.Len() > 1<<20 {
		t.Fatalf("the gzip body is %d bytes: not a bomb", z.Len())
	}
	code, msg := post(t, srv, z.Bytes(), map[string]string{"Content-Type": ndjson})
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "more than 1048576 bytes (decompressed)") {
		t.Fatalf("a %d-byte gzip of 8 MiB: %d %s", z.Len(), code, msg)
	}
	// Within the limit, every line is accepted, published in chunks as read.
	body := bytes.Repeat(line, 5000)
	if code, msg := post(t, srv, body, map[string]string{"Content-Type": ndjson}); code != http.StatusAccepted || !strings.Contains(msg, `"accepted":5000`) {
		t.Fatalf("5000 lines: %d %s", code, msg)
	}
}

// TestIngestRefusesWebPages: text/plain (what a page can POST anywhere without a preflight), a
// foreign Origin and a non-loopback Host (DNS rebinding) are refused; eddy send's requests pass.
func TestIngestRefusesWebPages(t *testing.T) {
	srv := ingestFixture(t, 0)
	ev := []byte(`{"key":"k","ts":1700000000000}` + "\n")
	for _, tc := range []struct {
		name   string
		header map[string]string
		code   int
	}{
		{"text/plain", map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"form", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"foreign origin", map[string]string{"Content-Type": ndjson, "Origin": "https://evil.example"}, http.StatusForbidden},
		{"rebinding host", map[string]string{"Content-Type": ndjson, "Host": "evil.example:8787"}, http.StatusForbidden},
		{"eddy send", map[string]string{"Content-Type": ndjson}, http.StatusAccepted},
		{"json with charset", map[string]string{"Content-Type": "application/json; charset=utf-8"}, http.StatusAccepted},
		{"same origin", map[string]string{"Content-Type": ndjson, "Origin": strings.Replace(srv.URL, "127.0.0.1", "127.0.0.1", 1)}, http.StatusAccepted},
		{"localhost", map[string]string{"Content-Type": ndjson, "Host": "localhost:8787"}, http.StatusAccepted},
	} {
		if code, msg := post(t, srv, ev, tc.header); code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, code, msg, tc.code)
		}
	}
	s := newIngestServer(nil)
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.IdleTimeout == 0 {
		t.Fatalf("ingest server timeouts %+v: a slow body would be held forever", s)
	}
}
