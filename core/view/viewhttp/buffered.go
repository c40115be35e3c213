package viewhttp

import (
	"bytes"
	"net/http"
)

// Buffered is a whole response, for hosts that answer a request at once instead of streaming it (a
// Lambda function URL, an Azure Functions invocation).
type Buffered struct {
	// Code is the status code (200 when the handler set none).
	Code int
	// Header is what the handler set.
	Header http.Header
	// Body is what the handler wrote.
	Body []byte
}

// ServeBuffered serves r with h into memory. Its writer is no http.Flusher, so the event stream
// knows it cannot stream and tells the page to poll instead.
func ServeBuffered(h http.Handler, r *http.Request) *Buffered {
	w := &bufferedWriter{header: http.Header{}}
	h.ServeHTTP(w, r)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return &Buffered{Code: w.code, Header: w.header, Body: w.body.Bytes()}
}

type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
