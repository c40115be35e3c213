// Package webhook POSTs outputs to an HTTPS endpoint, signed with HMAC-SHA256. It registers the
// schemes "https" and "http" with sink.DefaultURLMux (http only for loopback hosts, for local
// receivers and tests):
//
//	https://hooks.example.com/eddy[?secret_env=NAME&batch=N&timeout=D&max_bytes=N]
//
// # Requests
//
// By default (batch=1) each message is one POST whose body is the message's body as it is (a JSON
// object: the output, the dead-letter envelope, or a CloudEvent) with Content-Type
// application/json (application/cloudevents+json for a CloudEvent: HTTP's structured mode), and
// whose headers carry the contract's metadata: eddy_id as Eddy-Id,
// eddy_type as Eddy-Type, and so on (the key's part after "eddy_", in title case, with "-" for
// "_"). Header values are sent as they are when they are printable ASCII; other bytes, and "%",
// are percent-encoded (UTF-8), so a receiver decodes them with url.PathUnescape.
//
// With batch=N (N > 1) a POST carries up to N messages as newline-delimited JSON
// (Content-Type application/x-ndjson), one line per message in logsink's shape:
// {"eddy_id":…,"key":…,"metadata":{…},"body":{…}}, and the header Eddy-Count.
//
// # Signature
//
// Every request has Eddy-Timestamp (Unix seconds) and
//
//	Eddy-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// with the secret from the environment variable EDDY_WEBHOOK_SECRET, or the one secret_env
// names. Receivers check it with Verify and reject old timestamps to stop replays. Opening a
// webhook without a secret is an error.
//
// # Retries
//
// A 2xx answer accepts the request. 5xx, 408 and 429 answers and transport errors fail the send,
// and the portable sink resends the request whole (a webhook cannot accept part of it). Other 4xx
// answers fail it at once (a *driver.PermanentError), with the answer's first bytes in the error:
// resending will not help them.
// Receivers drop duplicates by Eddy-Id.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/sink/logsink"
)

// EnvSecret is the environment variable holding the signing secret, unless secret_env names
// another.
const EnvSecret = "EDDY_WEBHOOK_SECRET"

// Header names.
const (
	HeaderSignature = "Eddy-Signature"
	HeaderTimestamp = "Eddy-Timestamp"
	HeaderCount     = "Eddy-Count"
)

func init() {
	o := sink.URLOpenerFunc(func(_ context.Context, u *url.URL) (driver.Sink, error) { return OpenURL(u) })
	sink.DefaultURLMux().Register("https", o)
	sink.DefaultURLMux().Register("http", o)
}

// Options configure a Sink.
type Options struct {
	// Secret signs every request; it must not be empty.
	Secret []byte
	// Batch is the most messages per request (default 1: one message per request, metadata in
	// headers; more: newline-delimited JSON).
	Batch int
	// MaxBytes bounds a message's size, and a batch's (default 1 MiB).
	MaxBytes int
	// Client sends the requests (default: a client with a 30 s timeout).
	Client *http.Client
	// Now tells the time for the signature (default time.Now).
	Now func() time.Time
}

// Sink POSTs messages to one endpoint. It is a driver.Sink.
type Sink struct {
	endpoint string
	opts     Options
}

// New posts to endpoint.
func New(endpoint string, opts Options) (*Sink, error) {
	if len(opts.Secret) == 0 {
		return nil, errors.New("webhook: no signing secret: set " + EnvSecret + " (or the variable ?secret_env= names)")
	}
	if opts.Batch <= 0 {
		opts.Batch = 1
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 20
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sink{endpoint: endpoint, opts: opts}, nil
}

// OpenURL opens an https:// (or loopback http://) URL with the parameters the package doc lists.
func OpenURL(u *url.URL) (*Sink, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("webhook: %s has no host", u.Redacted())
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("webhook: %s: plain http only to a loopback host (127.0.0.1, ::1, localhost); use https", u.Redacted())
	}
	q := u.Query()
	opts := Options{}
	env := EnvSecret
	for k, v := range q {
		var err error
		switch k {
		case "secret_env":
			env = v[0]
		case "batch":
			opts.Batch, err = positive(v[0])
		case "max_bytes":
			opts.MaxBytes, err = positive(v[0])
		case "timeout":
			var d time.Duration
			if d, err = time.ParseDuration(v[0]); err == nil && d <= 0 {
				err = errors.New("want a positive duration")
			}
			opts.Client = &http.Client{Timeout: d}
		default:
			return nil, fmt.Errorf("webhook: %s: unknown parameter %q (want secret_env, batch, max_bytes or timeout)", u.Redacted(), k)
		}
		if err != nil {
			return nil, fmt.Errorf("webhook: %s: parameter %s=%q: %w", u.Redacted(), k, v[0], err)
		}
		q.Del(k)
	}
	secret := os.Getenv(env)
	if secret == "" {
		return nil, fmt.Errorf("webhook: %s: no signing secret: the environment variable %s is empty", u.Redacted(), env)
	}
	opts.Secret = []byte(secret)
	e := *u
	e.RawQuery = q.Encode()
	return New(e.String(), opts)
}

func positive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, errors.New("want a whole number ≥ 1")
	}
	return n, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Limits implements driver.Sink.
func (s *Sink) Limits() driver.Limits {
	l := driver.Limits{MaxMessageBytes: s.opts.MaxBytes, MaxBatchMessages: s.opts.Batch}
	if s.opts.Batch > 1 {
		l.MaxBatchBytes = s.opts.MaxBytes
	}
	return l
}

// Close implements driver.Sink.
func (s *Sink) Close(context.Context) error { return nil }

// Send implements driver.Sink: one request per message, or one for the batch.
func (s *Sink) Send(ctx context.Context, msgs []*driver.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opts.Batch == 1 {
		for _, m := range msgs {
			ct := m.ContentType
			if ct == "" {
				ct = sink.ContentTypeJSON
			}
			h := http.Header{"Content-Type": {ct}}
			for k, v := range m.Metadata {
				h[HeaderName(k)] = []string{EncodeValue(v)}
			}
			if err := s.post(ctx, h, m.Body); err != nil {
				return fmt.Errorf("webhook: post %s: %w", m.ID, err)
			}
		}
		return nil
	}
	var b []byte
	var keys []string
	for _, m := range msgs {
		b, keys = logsink.AppendLine(b, m, keys)
	}
	h := http.Header{"Content-Type": {"application/x-ndjson"}, HeaderCount: {strconv.Itoa(len(msgs))}}
	if err := s.post(ctx, h, b); err != nil {
		return fmt.Errorf("webhook: post %d messages (first %s): %w", len(msgs), msgs[0].ID, err)
	}
	return nil
}

func (s *Sink) post(ctx context.Context, h http.Header, body []byte) error {
	ts := strconv.FormatInt(s.opts.Now().Unix(), 10)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, "v1="+Sign(s.opts.Secret, ts, body))
	h.Set("User-Agent", "eddy-webhook/1")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	se := &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(msg))}
	if !se.Temporary() {
		return &driver.PermanentError{Err: se}
	}
	return se
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Code int
	Body string
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("answered %d %s: %q", e.Code, http.StatusText(e.Code), e.Body)
}

// Temporary tells whether resending may succeed: 5xx, 408 and 429.
func (e *StatusError) Temporary() bool {
	return e.Code >= 500 || e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests
}

// Sign returns the hex HMAC-SHA256 of timestamp + "." + body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a request's Eddy-Signature and Eddy-Timestamp headers against its body, and that
// the timestamp is within tolerance of now: what a receiver does before trusting a request.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: %s %q: not Unix seconds", HeaderTimestamp, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: %s %s is %s from now, beyond %s", HeaderTimestamp, ts, d.Round(time.Second), tolerance)
	}
	want := Sign(secret, ts, body)
	for part := range strings.SplitSeq(h.Get(HeaderSignature), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1="); ok && hmac.Equal([]byte(v), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("webhook: %s does not match the body", HeaderSignature)
}

// HeaderName is the header of a metadata key: "eddy_id" → "Eddy-Id", "eddy_function" →
// "Eddy-Function".
func HeaderName(key string) string {
	return http.CanonicalHeaderKey(strings.ReplaceAll(key, "_", "-"))
}

// MetadataKey is the metadata key of an Eddy-* header, or "" for other headers.
func MetadataKey(header string) string {
	h := strings.ToLower(header)
	if !strings.HasPrefix(h, "eddy-") || h == "eddy-signature" || h == "eddy-timestamp" || h == "eddy-count" {
		return ""
	}
	return strings.ReplaceAll(h, "-", "_")
}

// EncodeValue percent-encodes the bytes of v that are not printable ASCII, and "%".
func EncodeValue(v string) string {
	clean := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
