// Package sink delivers a function's outputs and dead letters to any transport under one wire
// contract, opened by URL as gocloud.dev opens topics:
//
//	s, err := sink.Open(ctx, "kinesis://press-monitor-outputs")
//	runner.Config{Sink: s, DeadLetter: dl, ...}
//
// # The wire contract
//
// Every output (window result, decision, late event) and every dead letter leaves eddy as one
// Message with a deterministic id and the same metadata on every transport:
//
//	eddy_id        the output's id: a decision's id; a window result's from function, key, start,
//	               end and revision; a late event's from function, key, partition, offset, record
//	eddy_type      "window", "decision", "late" or "deadletter"
//	eddy_function  the function's name
//	eddy_key       the output's key (absent when empty)
//	eddy_time      the output's event time (window end, decision time, late event time), RFC 3339 ms
//
// and for a dead letter also eddy_reason, eddy_field, eddy_record, eddy_partition, eddy_offset.
// Transports with attributes, properties or headers carry these as such. Every body carries the id
// and the type too, for transports without metadata (Kinesis, files) and for consumers that keep
// only the payload: a JSON body's first member is "eddy_id", followed by the output's own JSON
// (whose "type" member is eddy_type); a decision's "id" is the same id. In CloudEvents mode
// (format=cloudevents) the body is a structured CloudEvent whose id is eddy_id and whose type is
// "dev.eddy.<eddy_type>".
//
// A dead letter's body is the envelope
//
//	{"eddy_id":..,"type":"deadletter","function":..,"record":..,"partition":..,"offset":..,"field":..,
//	 "reason":..,"attributes":{..},"data_base64":"<the original bytes>","data":"<them as text, if UTF-8>"}
//
// so a record can be inspected and reprocessed byte for byte.
package sink

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/urlmux"
)

// Metadata keys of the wire contract.
const (
	MetaID        = "eddy_id"
	MetaType      = "eddy_type"
	MetaFunction  = "eddy_function"
	MetaKey       = "eddy_key"
	MetaTime      = "eddy_time"
	MetaReason    = "eddy_reason"
	MetaField     = "eddy_field"
	MetaRecord    = "eddy_record"
	MetaPartition = "eddy_partition"
	MetaOffset    = "eddy_offset"
)

// Content types of message bodies.
const (
	ContentTypeJSON        = "application/json"
	ContentTypeCloudEvents = "application/cloudevents+json"
)

// TypeDeadLetter is the eddy_type of a dead letter.
const TypeDeadLetter = "deadletter"

// OutputID is an output's deterministic id: equal outputs get equal ids on every run and every
// cloud, so a re-emitted output carries the id of its first copy.
func OutputID(o core.Output) string { return core.OutputID(o) }

// DeadLetterID is a dead letter's deterministic id, from where the record was and what it was.
func DeadLetterID(f *core.Failure) string {
	return core.DecisionID(f.Function, TypeDeadLetter, f.Partition, core.Span{}, f.Record.Offset+"/"+f.Record.ID, 0)
}

// OutputKey is the key an output is partitioned or ordered by.
func OutputKey(o core.Output) string {
	switch v := o.(type) {
	case *core.Decision:
		return v.Key
	case *core.WindowResult:
		return v.Key
	case *core.Late:
		return v.Key
	}
	return ""
}

func outputMeta(o core.Output) (function, key, t string) {
	var b []byte
	switch v := o.(type) {
	case *core.Decision:
		return v.Function, v.Key, string(core.AppendTime(b, v.Time))
	case *core.WindowResult:
		return v.Function, v.Key, string(core.AppendTime(b, v.End))
	case *core.Late:
		return v.Function, v.Key, string(core.AppendTime(b, v.Time))
	}
	return "", "", ""
}

// Format is how a message's body is written.
type Format int

// Formats.
const (
	// JSON writes the output's own JSON (core.Output.AppendJSON).
	JSON Format = iota
	// CloudEvents writes a structured-mode CloudEvent (JSON, specversion 1.0) around it.
	CloudEvents
)

// Options configure a Sink. The zero value writes JSON.
type Options struct {
	// Format of the bodies.
	Format Format
	// Source is the CloudEvents source (default "eddy").
	Source string
	// MaxAttempts bounds the sends of one message the transport keeps rejecting (default 8).
	MaxAttempts int
	// Backoff is the first delay before a resend (default 100 ms), doubled each attempt up to 5 s,
	// with jitter.
	Backoff time.Duration
}

// Message builds the wire message of an output. Body is the output's JSON, or a CloudEvent in
// CloudEvents format.
func Message(o core.Output, opts *Options) *driver.Message {
	id := OutputID(o)
	function, key, t := outputMeta(o)
	md := map[string]string{MetaID: id, MetaType: o.Type(), MetaFunction: function}
	if key != "" {
		md[MetaKey] = key
	}
	if t != "" {
		md[MetaTime] = t[1 : len(t)-1]
	}
	var body []byte
	ct := ContentTypeJSON
	if opts != nil && opts.Format == CloudEvents {
		ct = ContentTypeCloudEvents
		src := opts.Source
		if src == "" {
			src = "eddy"
		}
		body = appendCloudEvent(nil, o, id, key, md[MetaTime], src)
	} else {
		// Most outputs fit: one allocation instead of the appends' three or four.
		body = appendWithID(make([]byte, 0, 256), o, id)
	}
	return &driver.Message{ID: id, Key: key, Body: body, ContentType: ct, Metadata: md}
}

// appendWithID appends the output's JSON with "eddy_id" as its first member.
func appendWithID(b []byte, o core.Output, id string) []byte {
	b = append(b, `{"eddy_id":`...)
	b = core.AppendString(b, id)
	b = append(b, ',')
	at := len(b)
	b = o.AppendJSON(b)
	if len(b) > at+2 && b[at] == '{' && b[at+1] != '}' {
		// Drop the output's own opening brace: its members follow ours.
		return append(b[:at], b[at+1:]...)
	}
	// An empty object (no output writes one): keep the id alone.
	return append(b[:at-1], '}')
}

// DeadLetter builds the wire message of a failed record: the envelope described in the package
// doc, keyed by the record's transport key so one partition's dead letters stay together.
func DeadLetter(f *core.Failure) *driver.Message {
	id := DeadLetterID(f)
	md := map[string]string{MetaID: id, MetaType: TypeDeadLetter, MetaFunction: f.Function,
		MetaReason: f.Reason, MetaRecord: f.Record.ID, MetaPartition: f.Partition, MetaOffset: f.Record.Offset}
	if f.Field != "" {
		md[MetaField] = f.Field
	}
	if f.Record.Key != "" {
		md[MetaKey] = f.Record.Key
	}
	return &driver.Message{ID: id, Key: f.Record.Key, Body: AppendDeadLetter(nil, f), ContentType: ContentTypeJSON, Metadata: md}
}

// AppendDeadLetter appends the dead-letter envelope of f.
func AppendDeadLetter(b []byte, f *core.Failure) []byte {
	b = append(b, `{"eddy_id":`...)
	b = core.AppendString(b, DeadLetterID(f))
	b = append(b, `,"type":"deadletter"`...)
	for _, kv := range [...][2]string{{"function", f.Function}, {"record", f.Record.ID}, {"partition", f.Partition},
		{"offset", f.Record.Offset}, {"field", f.Field}, {"reason", f.Reason}} {
		b = append(b, ',', '"')
		b = append(b, kv[0]...)
		b = append(b, '"', ':')
		b = core.AppendString(b, kv[1])
	}
	b = append(b, `,"attributes":{`...)
	keys := make([]string, 0, len(f.Record.Attrs))
	for k := range f.Record.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = core.AppendString(b, k)
		b = append(b, ':')
		b = core.AppendString(b, f.Record.Attrs[k])
	}
	b = append(b, `},"data_base64":"`...)
	b = base64.StdEncoding.AppendEncode(b, f.Record.Data)
	b = append(b, '"')
	if utf8.Valid(f.Record.Data) {
		b = append(b, `,"data":`...)
		b = core.AppendString(b, string(f.Record.Data))
	}
	return append(b, '}')
}

func appendCloudEvent(b []byte, o core.Output, id, subject, t, source string) []byte {
	b = append(b, `{"specversion":"1.0","id":`...)
	b = core.AppendString(b, id)
	b = append(b, `,"source":`...)
	b = core.AppendString(b, source)
	b = append(b, `,"type":`...)
	b = core.AppendString(b, "dev.eddy."+o.Type())
	if subject != "" {
		b = append(b, `,"subject":`...)
		b = core.AppendString(b, subject)
	}
	if t != "" {
		b = append(b, `,"time":`...)
		b = core.AppendString(b, t)
	}
	b = append(b, `,"datacontenttype":"application/json","data":`...)
	b = o.AppendJSON(b)
	return append(b, '}')
}

// URLOpener opens a driver from a URL. Driver packages register one per scheme with a URLMux.
type URLOpener interface {
	OpenSinkURL(ctx context.Context, u *url.URL) (driver.Sink, error)
}

// URLOpenerFunc adapts a function to URLOpener.
type URLOpenerFunc func(ctx context.Context, u *url.URL) (driver.Sink, error)

// OpenSinkURL implements URLOpener.
func (f URLOpenerFunc) OpenSinkURL(ctx context.Context, u *url.URL) (driver.Sink, error) {
	return f(ctx, u)
}

// URLMux maps URL schemes to openers. The zero value is ready to use.
type URLMux struct {
	reg urlmux.Registry[URLOpener]
}

// Register makes scheme open with o. It panics if the scheme is taken, as registering twice is a
// programming error found at init.
func (m *URLMux) Register(scheme string, o URLOpener) { m.reg.Register("sink", scheme, o) }

// Schemes lists the registered schemes, sorted.
func (m *URLMux) Schemes() []string { return m.reg.Schemes() }

// Open opens the sink a URL names. The query parameters "format" (json or cloudevents), "source"
// and "max_attempts" are the portable Sink's own and are removed before the driver sees the URL.
func (m *URLMux) Open(ctx context.Context, rawURL string) (*Sink, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sink: open %q: %w", rawURL, err)
	}
	o, ok := m.reg.Lookup(u.Scheme)
	if !ok {
		return nil, fmt.Errorf("sink: open %q: no driver for scheme %q (registered: %v; import its driver package)", rawURL, u.Scheme, m.Schemes())
	}
	q := u.Query()
	var opts Options
	switch f := q.Get("format"); f {
	case "", "json":
	case "cloudevents":
		opts.Format = CloudEvents
	default:
		return nil, fmt.Errorf("sink: open %q: parameter format=%q: want json or cloudevents", rawURL, f)
	}
	opts.Source = q.Get("source")
	if v := q.Get("max_attempts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("sink: open %q: parameter max_attempts=%q: want a whole number ≥ 1", rawURL, v)
		}
		opts.MaxAttempts = n
	}
	for _, p := range []string{"format", "source", "max_attempts"} {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	d, err := o.OpenSinkURL(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("sink: open %q: %w", rawURL, err)
	}
	return New(d, &opts), nil
}

var defaultMux = new(URLMux)

// DefaultURLMux is the mux driver packages register their schemes with when imported, as in
// gocloud.dev.
func DefaultURLMux() *URLMux { return defaultMux }

// Open opens a sink from a URL with the default mux.
func Open(ctx context.Context, rawURL string) (*Sink, error) {
	return defaultMux.Open(ctx, rawURL)
}
