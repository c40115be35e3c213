package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
)

// maxIngestBody bounds one ingest request's body, counted after decompression (a 1 MB gzip can
// expand to gigabytes).
const maxIngestBody = 256 << 20

// ingestChunk is how many records the ingest publishes at a time while it reads a body: a large
// body streams through instead of being held whole.
const ingestChunk = 1000

// ingestTimeouts bound a request: its headers, its whole body, and an idle keep-alive connection
// (a client that sends a byte a minute is not held forever).
const (
	ingestHeaderTimeout = 10 * time.Second
	ingestReadTimeout   = 5 * time.Minute
	ingestIdleTimeout   = 2 * time.Minute
)

// ingestOptions tune the ingest handler.
type ingestOptions struct {
	// loopback is set when the server listens on a loopback address.
	loopback bool
	// maxBody bounds a body, after decompression (default maxIngestBody).
	maxBody int64
}

// newIngestServer is the ingest's http.Server, with its timeouts.
func newIngestServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ingestHeaderTimeout, ReadTimeout: ingestReadTimeout, IdleTimeout: ingestIdleTimeout}
}

// jsonTypes are the content types the ingest accepts for newline-delimited events. text/plain is
// not among them: a web page may POST it to any address without asking the browser first.
var jsonTypes = map[string]bool{"application/json": true, "application/x-ndjson": true, "application/ndjson": true,
	"application/jsonl": true, "application/x-jsonlines": true, "application/jsonlines": true}

// checkOrigin refuses what a web page could send to the local ingest: a request whose Origin is
// not the ingest itself, or (when the ingest listens on loopback) whose Host does not name a
// loopback address, as a DNS-rebinding page's would.
func checkOrigin(r *http.Request, loopback bool) (int, string) {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return http.StatusForbidden, fmt.Sprintf("cross-origin request from %q refused: the ingest takes events from tools (eddy send, curl), not from web pages", o)
		}
	}
	if loopback {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		ip := net.ParseIP(strings.Trim(host, "[]"))
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return http.StatusForbidden, fmt.Sprintf("Host %q refused: the ingest listens on loopback and answers only to a loopback host name", r.Host)
		}
	}
	return 0, ""
}

// ingestHandler serves `eddy dev`'s HTTP ingest endpoint:
//
//	POST /events           newline-delimited records (gzip accepted), one record per line; or one
//	                       binary-mode CloudEvent (ce-* headers, the body is the data)
//	                       ?key=K sets the records' transport key ($key in a spec)
//	                       ?wait=true answers only once the records are processed and committed
//	GET  /healthz          200 when the broker runs
//
// It answers 202 (200 with wait) and {"accepted":N}.
//
// Bodies are limited to maxIngestBody bytes after decompression and published in chunks as they
// are read. Only JSON content types (application/json, application/x-ndjson...) are accepted for
// lines, and requests from web pages are refused (see checkOrigin).
func ingestHandler(b *local.Broker, logger *slog.Logger, o ingestOptions) http.Handler {
	if o.maxBody <= 0 {
		o.maxBody = maxIngestBody
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Err(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if code, msg := checkOrigin(r, o.loopback); code != 0 {
			http.Error(w, msg, code)
			return
		}
		body := http.MaxBytesReader(w, r.Body, o.maxBody)
		key := r.URL.Query().Get("key")
		accepted := 0
		if attrs := ceAttrs(r.Header); attrs != nil {
			// A binary-mode CloudEvent: its ce-* headers already need a browser's preflight.
			data, err := io.ReadAll(body)
			if err != nil {
				http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := b.Publish(ctx, core.Record{Key: key, Data: data, Attrs: attrs}); err != nil {
				logger.Error("ingest: publish failed", "err", err)
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			accepted = 1
		} else {
			ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if !jsonTypes[ct] {
				http.Error(w, fmt.Sprintf("Content-Type %q refused: send newline-delimited JSON as application/x-ndjson (or application/json)", r.Header.Get("Content-Type")), http.StatusUnsupportedMediaType)
				return
			}
			lines, err := codec.NewLines(body, "http")
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			defer lines.Close()
			lines.MaxInput = o.maxBody
			recs := make([]core.Record, 0, ingestChunk)
			publish := func() error {
				if len(recs) == 0 {
					return nil
				}
				if err := b.Publish(ctx, recs...); err != nil {
					return err
				}
				accepted += len(recs)
				recs = recs[:0]
				return nil
			}
			var rec core.Record
			for lines.Next(&rec) {
				rec.ID, rec.Key = "", key // the broker numbers records per partition
				if recs = append(recs, rec); len(recs) == ingestChunk {
					if err := publish(); err != nil {
						logger.Error("ingest: publish failed", "err", err)
						http.Error(w, err.Error(), http.StatusServiceUnavailable)
						return
					}
				}
			}
			if err := lines.Err(); err != nil {
				code := http.StatusBadRequest
				if errors.Is(err, codec.ErrInputTooLarge) {
					code = http.StatusRequestEntityTooLarge
				}
				http.Error(w, fmt.Sprintf("read body (%d records accepted before it): %v", accepted, err), code)
				return
			}
			if err := publish(); err != nil {
				logger.Error("ingest: publish failed", "err", err)
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		status := http.StatusAccepted
		if r.URL.Query().Get("wait") == "true" {
			if err := b.Drain(ctx); err != nil {
				http.Error(w, "wait: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, "{\"accepted\":%d}\n", accepted)
	})
	return mux
}

// ceAttrs returns the CloudEvents attributes of a binary-mode request (nil when it is not one),
// named as codec expects them: ce-id, ce-type, ...
func ceAttrs(h http.Header) map[string]string {
	if h.Get("Ce-Specversion") == "" {
		return nil
	}
	attrs := map[string]string{}
	for k, v := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "ce-") && len(v) > 0 {
			attrs[lk] = v[0]
		}
	}
	if ct := h.Get("Content-Type"); ct != "" {
		attrs["content-type"] = ct
	}
	return attrs
}
