// Package codec decodes eddy's outside input: it turns a core.Record (one message as a trigger
// delivered it) into a core.Event, extracting the payload fields the pipeline needs (in the order of
// a core.FieldTable), the event key and the event time. It also splits newline-delimited input into
// records (Lines) and writes outputs as CloudEvents (AppendCloudEvent).
//
// Formats:
//
//   - "json": the payload is one JSON object.
//   - "cloudevents": a CloudEvent, in structured mode (the payload is the JSON envelope, with "data"
//     or "data_base64") or binary mode (the attributes are transport attributes "ce-id", "ce-type",
//     ... also accepted as "ce_id", "cloudEvents:id", "cloudEvents_id" or plain "id",
//     case-insensitively; the payload is the event data). Binary mode is chosen when a specversion
//     attribute is present. specversion, id, source and type are required. Payload paths address the
//     event data, decoded as JSON when its content type is JSON or unset (data of another content
//     type has no payload fields); $ce.NAME addresses attributes, with their JSON type in structured
//     mode (extensions may be numbers or bools) and as strings in binary mode.
//   - "raw": the payload is not decoded; only $key, $time, $id and $attr paths have values.
//
// Field paths are described at Path: "a.b.c", "items.0.price", `a["x.y"]`, $key, $time, $id,
// $attr.NAME, $ce.NAME.
//
// # Decoding JSON
//
// The JSON decoder is a single-pass scanner: it walks the payload once, decodes only the members the
// field paths name, and validates everything else without decoding it. It accepts exactly what
// json.Valid accepts (nesting limit of 10000 included) and extracts the values encoding/json would
// decode into a map[string]any: duplicate members, the last wins; invalid UTF-8 and lone surrogates
// become U+FFFD; a number beyond float64 is an error (for a field that is needed). A differential
// test and a fuzz target hold it to that. When every payload path is a top-level member (the usual
// event), a faster loop decodes compact flat objects first and hands anything unusual back to the
// scanner (see flat.go), so values and errors are the same; FuzzDecodeFlat holds it to that.
//
// Steady-state decoding of a flat event allocates nothing: string values of the key path (and of
// repetitive CloudEvents attributes) are interned in a bounded table, numbers and times are parsed
// in place. Other string fields are copied (one allocation each), since the payload buffer belongs
// to the transport. An Object value's Raw points into the record's Data (or, for data_base64, into
// a buffer of the event's own), like Event.Data.
//
// # Failures
//
// An undecodable record gives a *core.Failure with the Record, the Field at fault ("" for the whole
// payload) and a Reason in words, for example:
//
//	record "4959" field "ts": missing
//	record "4959" field "ts": "abc" is not a unix time or RFC 3339 timestamp
//	record "4959": payload: invalid JSON at byte 17: unexpected '}'
//
// Byte positions count from 0. Failure.Err wraps ErrSyntax, ErrMissing, ErrType or ErrFunc.
package codec

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unsafe"

	"github.com/eddyhq/eddy/core"
)

// Formats.
const (
	FormatJSON        = "json"
	FormatCloudEvents = "cloudevents"
	FormatRaw         = "raw"
)

// Errors wrapped by a *core.Failure's Err, for errors.Is.
var (
	// ErrSyntax: the payload is not valid JSON (or not an object, or not a CloudEvent).
	ErrSyntax = errors.New("invalid payload")
	// ErrMissing: a field the key or time comes from (or a required CloudEvents attribute) is absent
	// or null.
	ErrMissing = errors.New("missing field")
	// ErrType: a field has the wrong type, or a number is out of range.
	ErrType = errors.New("wrong field type")
	// ErrFunc: a KeyFunc or TimeFunc failed.
	ErrFunc = errors.New("key or time function failed")
)

// Config configures a Decoder.
type Config struct {
	// Format is "json" (the default), "cloudevents" or "raw".
	Format string
	// Paths are the fields decoded into Event.Fields, in order: usually a core.FieldTable's Paths().
	// See Path for the syntax.
	Paths []string
	// Key is the path the event key comes from ("" with no KeyFunc: every event has the key "").
	// With "$key", a record without a transport key has the key "" too.
	// A number is formatted as core.AppendNumber does ("42", not "42.000000"); a bool as "true" or
	// "false"; an absent, null, object or array value fails the record.
	Key string
	// KeyFunc computes the key from the decoded event (Fields, Attrs, Data) instead of Key.
	KeyFunc func(*core.Event) (string, error)
	// Time is the path the event time comes from; "$time" is the transport's arrival time.
	Time string
	// TimeFormat is how Time is written (see ParseTimeFormat); "" is auto.
	TimeFormat string
	// TimeFunc computes the event time from the decoded event instead of Time.
	TimeFunc func(*core.Event) (time.Time, error)
	// ProcessingTime makes the event time the now passed to Decode.
	ProcessingTime bool
}

// compiled is the immutable part of a Decoder, shared by clones.
type compiled struct {
	format     string
	isJSON     bool
	paths      []Path
	names      []string     // the paths as given, for error reasons
	visible    int          // len(Config.Paths); key and time may have hidden slots after them
	root       *node        // payload trie (nil when no payload path)
	flat       []flatMember // root's members for flatObject (nil: not a flat configuration)
	ce         []ceSlot
	specials   []int // slots filled from the record ($key, $time, $id, $attr)
	keySlot    int   // -1: none
	timeSlot   int   // -1: none
	timeFormat TimeFormat
	keyFunc    func(*core.Event) (string, error)
	timeFunc   func(*core.Event) (time.Time, error)
	procTime   bool
}

type ceSlot struct {
	name string
	node *node // a one-slot node, so leaf() can fill it
}

// Decoder decodes records into events. A Decoder keeps scratch buffers and an intern table, so it
// must be used by one goroutine at a time; Clone gives another one for another goroutine cheaply.
type Decoder struct {
	c *compiled
	scanState
}

// New validates cfg (paths, format, key and time sources) and returns a Decoder.
func New(cfg Config) (*Decoder, error) {
	c := &compiled{format: cfg.Format, keySlot: -1, timeSlot: -1, keyFunc: cfg.KeyFunc,
		timeFunc: cfg.TimeFunc, procTime: cfg.ProcessingTime}
	if c.format == "" {
		c.format = FormatJSON
	}
	switch c.format {
	case FormatJSON, FormatCloudEvents, FormatRaw:
	default:
		return nil, fmt.Errorf("codec: unknown format %q (want json, cloudevents or raw)", cfg.Format)
	}
	c.isJSON = c.format == FormatJSON
	tf, err := ParseTimeFormat(cfg.TimeFormat)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	c.timeFormat = tf
	c.visible = len(cfg.Paths)
	if cfg.Key != "" && cfg.KeyFunc != nil {
		return nil, errors.New("codec: both Key and KeyFunc are set")
	}
	nt := 0
	for _, set := range []bool{cfg.Time != "", cfg.TimeFunc != nil, cfg.ProcessingTime} {
		if set {
			nt++
		}
	}
	if nt == 0 {
		return nil, errors.New("codec: no event time: set Time, TimeFunc or ProcessingTime")
	}
	if nt > 1 {
		return nil, errors.New("codec: set only one of Time, TimeFunc and ProcessingTime")
	}
	add := func(s string) (int, error) {
		p, err := ParsePath(s)
		if err != nil {
			return 0, fmt.Errorf("codec: %w", err)
		}
		switch {
		case p.Source == CloudEvent && c.format != FormatCloudEvents:
			return 0, fmt.Errorf("codec: path %q needs format cloudevents", s)
		case p.Source == Payload && c.format == FormatRaw:
			return 0, fmt.Errorf("codec: path %q: format raw has no payload fields", s)
		}
		c.paths = append(c.paths, p)
		c.names = append(c.names, s)
		return len(c.paths) - 1, nil
	}
	for _, s := range cfg.Paths {
		if _, err := add(s); err != nil {
			return nil, err
		}
	}
	// The key and time paths share a slot with an equal field path, or get a hidden one past
	// len(Paths).
	lookup := func(s string) (int, error) {
		for i, n := range cfg.Paths {
			if n == s {
				return i, nil
			}
		}
		return add(s)
	}
	if cfg.Key != "" {
		if c.keySlot, err = lookup(cfg.Key); err != nil {
			return nil, err
		}
	}
	if cfg.Time != "" {
		if c.timeSlot, err = lookup(cfg.Time); err != nil {
			return nil, err
		}
	}
	for i, p := range c.paths {
		switch p.Source {
		case Payload:
			if c.root == nil {
				c.root = &node{index: -1}
			}
			n := c.root
			for _, seg := range p.Segments {
				n = n.child(seg, true)
			}
			n.slots = append(n.slots, i)
			if i == c.keySlot {
				n.intern = true
			}
			if i == c.timeSlot {
				n.isTime = true
			}
		case CloudEvent:
			var n *node
			for _, cs := range c.ce {
				if cs.name == p.Name {
					n = cs.node
				}
			}
			if n == nil {
				// Attributes that repeat from event to event are interned (ids and times are not).
				n = &node{name: p.Name, index: -1, intern: p.Name == "type" || p.Name == "source" ||
					p.Name == "specversion" || p.Name == "datacontenttype" || p.Name == "dataschema" || p.Name == "subject"}
				c.ce = append(c.ce, ceSlot{name: p.Name, node: n})
			}
			n.slots = append(n.slots, i)
			n.intern = n.intern || i == c.keySlot
			n.isTime = n.isTime || i == c.timeSlot
		default:
			c.specials = append(c.specials, i)
		}
	}
	if c.root != nil {
		c.root.finish()
		if c.isJSON {
			c.flat = flatPlan(c.root)
		}
	}
	if c.timeSlot >= c.visible && c.timeSlot != c.keySlot {
		var mark func(*node)
		mark = func(n *node) {
			if len(n.slots) == 1 && n.slots[0] == c.timeSlot {
				n.timeOnly = true
			}
			for _, ch := range n.children {
				mark(ch)
			}
		}
		if c.root != nil {
			mark(c.root)
		}
		for _, cs := range c.ce {
			mark(cs.node)
		}
	}
	return &Decoder{c: c}, nil
}

// Clone returns a Decoder with the same configuration and its own scratch state.
func (d *Decoder) Clone() *Decoder { return &Decoder{c: d.c} }

// Len is the number of fields Decode puts in Event.Fields (len(Config.Paths)).
func (d *Decoder) Len() int { return d.c.visible }

// Decode decodes rec into ev (from the given partition, at processing time now). It reuses the
// backing array of ev.Fields. On failure it returns a *core.Failure naming the record, the field
// and the reason, and ev is undefined. Decode never panics.
func (d *Decoder) Decode(partition string, rec *core.Record, now time.Time, ev *core.Event) error {
	err := d.decode(partition, rec, now, ev)
	d.release() // a call, not a defer: cheaper on this per-record path, and decode does not panic
	return err
}

func (d *Decoder) decode(partition string, rec *core.Record, now time.Time, ev *core.Event) error {
	c := d.c
	n := len(c.paths)
	if cap(ev.Fields) < n {
		ev.Fields = make([]core.Value, n)
	} else {
		ev.Fields = ev.Fields[:n]
		if c.flat == nil { // flatObject sets every payload slot; Decode sets the specials
			clear(ev.Fields)
		}
	}
	ev.ID = rec.ID
	ev.Data = rec.Data
	ev.Attrs = rec.Attrs
	ev.Pos = core.Pos{Partition: partition, Offset: rec.Offset}
	ev.Key = ""
	ev.Time = time.Time{}
	d.fields = ev.Fields
	d.timeTok, d.timeStr = nil, nil

	if rec.Attrs != nil {
		if msg, ok := rec.Attrs[AttrReadError]; ok {
			// A line Lines could not read whole: its failure is already known.
			return &core.Failure{Record: *rec, Reason: msg}
		}
	}
	var f *core.Failure
	switch {
	case c.isJSON:
		f = d.decodeJSON(rec)
	case c.format == FormatCloudEvents:
		f = d.decodeCloudEvent(rec)
	}
	if f != nil {
		return f
	}
	for _, i := range c.specials {
		ev.Fields[i] = d.special(c.paths[i], rec)
	}
	visible := ev.Fields[:c.visible]
	switch {
	case c.keyFunc != nil:
		ev.Fields = visible
		k, err := c.keyFunc(ev)
		if err != nil {
			return &core.Failure{Record: *rec, Reason: "key function: " + err.Error(), Err: errors.Join(ErrFunc, err)}
		}
		ev.Key = k
	case c.keySlot >= 0:
		k, f := d.key(rec)
		if f != nil {
			return f
		}
		ev.Key = k
	}
	switch {
	case c.procTime:
		ev.Time = now
	case c.timeFunc != nil:
		ev.Fields = visible
		t, err := c.timeFunc(ev)
		if err != nil {
			return &core.Failure{Record: *rec, Reason: "time function: " + err.Error(), Err: errors.Join(ErrFunc, err)}
		}
		ev.Time = t
	default:
		t, f := d.time(rec)
		if f != nil {
			return f
		}
		ev.Time = t
	}
	ev.Fields = visible
	return nil
}

// release drops references into the caller's record and event.
func (d *Decoder) release() { d.fields, d.timeTok, d.timeStr = nil, nil, nil }

func (d *Decoder) decodeJSON(rec *core.Record) *core.Failure {
	b := rec.Data
	i := skipWS(b, 0)
	if i >= len(b) {
		return d.payloadFailure(rec, "payload: empty")
	}
	if b[i] != '{' {
		if end := d.skipValue(b, i, 0); end >= 0 && skipWS(b, end) == len(b) {
			return d.payloadFailure(rec, "payload: "+kindOf(b[i])+", not a JSON object")
		}
		return d.scanFailure(rec, "payload")
	}
	if fm := d.c.flat; fm != nil {
		if end, ok := d.flatObject(b, i, fm); ok && skipWS(b, end) == len(b) {
			return nil
		}
		// Not the common shape, or invalid: scanObject decodes it again, with its exact errors.
		clear(d.fields)
		d.timeTok, d.timeStr = nil, nil
		d.errNode, d.errReason = nil, ""
	}
	if i = d.scanObject(b, i, d.c.root, 0); i >= 0 {
		if i = skipWS(b, i); i < len(b) {
			i = d.unexpected(b, i)
		}
	}
	if i < 0 {
		return d.scanFailure(rec, "payload")
	}
	return nil
}

func kindOf(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	}
	return "a number"
}

// scanFailure turns the scanner's error into a Failure; what names the part of the record scanned.
func (d *Decoder) scanFailure(rec *core.Record, what string) *core.Failure {
	if d.errNode != nil {
		slot := d.errNode.slots[0]
		reason := d.errReason
		d.errNode, d.errReason = nil, ""
		return &core.Failure{Record: *rec, Field: d.c.names[slot], Reason: reason, Err: ErrType}
	}
	return d.payloadFailure(rec, fmt.Sprintf("%s: invalid JSON at byte %d: %s", what, d.synPos, d.synMsg))
}

func (d *Decoder) payloadFailure(rec *core.Record, reason string) *core.Failure {
	return &core.Failure{Record: *rec, Reason: reason, Err: ErrSyntax}
}

func (d *Decoder) special(p Path, rec *core.Record) core.Value {
	var s string
	switch p.Source {
	case RecordKey:
		s = rec.Key
	case RecordID:
		s = rec.ID
	case RecordTime:
		if rec.Time.IsZero() {
			return core.Value{}
		}
		return core.Value{Kind: core.Number, Num: float64(rec.Time.UnixNano()) / 1e6}
	case Attr:
		var ok bool
		if s, ok = attr(rec.Attrs, p.Name); !ok {
			return core.Value{}
		}
		return core.Value{Kind: core.String, Str: s}
	}
	if s == "" {
		return core.Value{}
	}
	return core.Value{Kind: core.String, Str: s}
}

// attr looks name up in attrs: exactly, else case-insensitively (transports disagree on the case of
// header names).
func attr(attrs map[string]string, name string) (string, bool) {
	if v, ok := attrs[name]; ok {
		return v, true
	}
	best, found := "", false
	var bestKey string
	for k, v := range attrs {
		if strings.EqualFold(k, name) && (!found || k < bestKey) {
			best, bestKey, found = v, k, true
		}
	}
	return best, found
}

func (d *Decoder) fieldFailure(rec *core.Record, slot int, reason string, err error) *core.Failure {
	return &core.Failure{Record: *rec, Field: d.c.names[slot], Reason: reason, Err: err}
}

func (d *Decoder) key(rec *core.Record) (string, *core.Failure) {
	v := &d.fields[d.c.keySlot]
	switch v.Kind {
	case core.String:
		return v.Str, nil
	case core.Number:
		d.numBuf = core.AppendNumber(d.numBuf[:0], v.Num)
		return d.internBytes(d.numBuf), nil
	case core.Bool:
		if v.Bool {
			return "true", nil
		}
		return "false", nil
	case core.Missing:
		if d.c.paths[d.c.keySlot].Source == RecordKey {
			// key: $key on a message without a transport key (Pub/Sub without an ordering key,
			// Event Hubs with a null partition key): the key of keyless events, not a dead letter.
			return "", nil
		}
		return "", d.fieldFailure(rec, d.c.keySlot, "missing", ErrMissing)
	case core.Null:
		return "", d.fieldFailure(rec, d.c.keySlot, "null", ErrMissing)
	}
	return "", d.fieldFailure(rec, d.c.keySlot, "an object or array, not a key (want a string or number)", ErrType)
}

// maxUnixMilli is the latest unix_ms time whose nanoseconds an int64 holds.
const maxUnixMilli = math.MaxInt64 / 1_000_000

func (d *Decoder) time(rec *core.Record) (time.Time, *core.Failure) {
	c := d.c
	if c.paths[c.timeSlot].Source == RecordTime {
		if rec.Time.IsZero() {
			return time.Time{}, d.fieldFailure(rec, c.timeSlot, "missing (the transport gave no time)", ErrMissing)
		}
		return rec.Time, nil
	}
	v := &d.fields[c.timeSlot]
	if dd := &d.timeDec; c.timeFormat == TimeUnixMilli && v.Kind == core.Number && d.timeTok != nil &&
		dd.fits && dd.exp == 0 && !dd.neg && dd.mant <= maxUnixMilli {
		// Whole milliseconds, the usual event time: what unixFrom gives, without its general cases.
		return time.Unix(int64(dd.mant/1000), int64(dd.mant%1000)*1e6).UTC(), nil
	}
	var t time.Time
	ok := false
	switch v.Kind {
	case core.String:
		src := d.timeStr
		if src == nil {
			src = unsafe.Slice(unsafe.StringData(v.Str), len(v.Str))
		}
		t, ok = parseTime(src, c.timeFormat, true)
		if !ok {
			return t, d.fieldFailure(rec, c.timeSlot, fmt.Sprintf("%q is not %s", clip(string(src)), c.timeFormat.what()), ErrType)
		}
	case core.Number:
		tok := d.timeTok
		if tok == nil { // a number not from the payload text
			d.numBuf = core.AppendNumber(d.numBuf[:0], v.Num)
			tok = d.numBuf
		}
		if d.timeDec.fits && d.timeTok != nil && c.timeFormat != TimeRFC3339 {
			t, ok = unixFrom(d.timeDec, c.timeFormat)
		} else {
			t, ok = parseTime(tok, c.timeFormat, false)
		}
		if !ok {
			return t, d.fieldFailure(rec, c.timeSlot, fmt.Sprintf("%s is not %s", clip(string(tok)), c.timeFormat.what()), ErrType)
		}
	case core.Missing:
		return t, d.fieldFailure(rec, c.timeSlot, "missing", ErrMissing)
	case core.Null:
		return t, d.fieldFailure(rec, c.timeSlot, "null", ErrMissing)
	case core.Bool:
		return t, d.fieldFailure(rec, c.timeSlot, "a bool, not "+c.timeFormat.what(), ErrType)
	default:
		return t, d.fieldFailure(rec, c.timeSlot, "an object or array, not "+c.timeFormat.what(), ErrType)
	}
	return t, nil
}
