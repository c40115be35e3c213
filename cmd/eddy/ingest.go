package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
)

// maxIngestBody bounds one ingest request.
const maxIngestBody = 256 << 20

// ingestHandler serves `eddy dev`'s HTTP ingest endpoint:
//
//	POST /events           newline-delimited records (gzip accepted), one record per line; or one
//	                       binary-mode CloudEvent (ce-* headers, the body is the data)
//	                       ?key=K sets the records' transport key ($key in a spec)
//	                       ?wait=true answers only once the records are processed and committed
//	GET  /healthz          200 when the broker runs
//
// It answers 202 (200 with wait) and {"accepted":N}.
func ingestHandler(b *local.Broker, logger *slog.Logger) http.Handler {
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
		body := http.MaxBytesReader(w, r.Body, maxIngestBody)
		key := r.URL.Query().Get("key")
		var recs []core.Record
		if attrs := ceAttrs(r.Header); attrs != nil {
			data, err := io.ReadAll(body)
			if err != nil {
				http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
				return
			}
			recs = append(recs, core.Record{Key: key, Data: data, Attrs: attrs})
		} else {
			lines, err := codec.NewLines(body, "http")
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var rec core.Record
			for lines.Next(&rec) {
				rec.ID, rec.Key = "", key // the broker numbers records per partition
				recs = append(recs, rec)
			}
			if err := lines.Err(); err != nil {
				http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		if err := b.Publish(ctx, recs...); err != nil {
			logger.Error("ingest: publish failed", "err", err)
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
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
		fmt.Fprintf(w, "{\"accepted\":%d}\n", len(recs))
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
