// Package logsink writes outputs as JSON lines to the process's stdout or stderr: the default
// output, which Lambda, Cloud Run and Azure Functions all collect into their logs. It registers
// the scheme "log" with sink.DefaultURLMux:
//
//	log:          stdout (also log:stdout)
//	log:stderr    stderr
//
// Each message is one line:
//
//	{"eddy_id":"…","key":"…","metadata":{"eddy_function":"…",…},"body":{…}}
//
// with the metadata's keys sorted and the body as it is when it is JSON (it always is for eddy's
// outputs and dead letters), else as "body_base64".
package logsink

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"sync"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Scheme is the URL scheme logsink registers.
const Scheme = "log"

func init() {
	sink.DefaultURLMux().Register(Scheme, sink.URLOpenerFunc(func(_ context.Context, u *url.URL) (driver.Sink, error) {
		return OpenURL(u)
	}))
}

// OpenURL opens log:, log:stdout or log:stderr.
func OpenURL(u *url.URL) (*Sink, error) {
	where := u.Opaque
	if where == "" {
		where = u.Host + u.Path
	}
	if len(u.Query()) > 0 {
		return nil, fmt.Errorf("log: no parameters are known (got %q)", u.RawQuery)
	}
	switch where {
	case "", "stdout", "-":
		return New(os.Stdout), nil
	case "stderr":
		return New(os.Stderr), nil
	}
	return nil, fmt.Errorf("log: want log:, log:stdout or log:stderr, not %q (use file:// for files)", u.String())
}

// Sink writes messages to w, one line each; one Send is one Write, so concurrent sends do not mix
// their lines. It is a driver.Sink.
type Sink struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// New writes to w.
func New(w io.Writer) *Sink { return &Sink{w: w} }

// Send implements driver.Sink.
func (s *Sink) Send(ctx context.Context, msgs []*driver.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf[:0]
	var keys []string
	for _, m := range msgs {
		b, keys = AppendLine(b, m, keys)
	}
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("log: write %d messages (first %s): %w", len(msgs), msgs[0].ID, err)
	}
	return nil
}

// AppendLine appends m's line (with its newline); keys is scratch space, returned for reuse.
func AppendLine(b []byte, m *driver.Message, keys []string) ([]byte, []string) {
	b = append(b, `{"eddy_id":`...)
	b = core.AppendString(b, m.ID)
	if m.Key != "" {
		b = append(b, `,"key":`...)
		b = core.AppendString(b, m.Key)
	}
	b = append(b, `,"metadata":{`...)
	keys = keys[:0]
	for k := range m.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = core.AppendString(b, k)
		b = append(b, ':')
		b = core.AppendString(b, m.Metadata[k])
	}
	if json.Valid(m.Body) && !hasNewline(m.Body) {
		b = append(b, `},"body":`...)
		b = append(b, m.Body...)
	} else {
		b = append(b, `},"body_base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, m.Body)
		b = append(b, '"')
	}
	return append(b, "}\n"...), keys
}

// hasNewline tells whether a JSON body spans lines (indented JSON): it would break the line.
func hasNewline(b []byte) bool { return slices.Contains(b, '\n') }

// Limits implements driver.Sink: a log line has no limit eddy knows of.
func (s *Sink) Limits() driver.Limits { return driver.Limits{} }

// Close implements driver.Sink; it leaves stdout and stderr open.
func (s *Sink) Close(context.Context) error { return nil }
