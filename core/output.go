package core

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/bits"
	"strconv"
	"time"
	"unsafe"
)

// TimeLayout is the output contract's time format: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Output is one line of eddy's output contract: a window result, a decision or a late event.
type Output interface {
	// Type is the contract's "type" member: "window", "decision" or "late".
	Type() string
	// AppendJSON appends the output as one JSON object (no newline).
	AppendJSON(b []byte) []byte
}

// Item is one entry of a top-k aggregate.
type Item struct {
	Value string
	Count uint64
}

// NamedValue is one aggregate's value in a window result. Num holds every numeric aggregate (count,
// sum, avg, quantiles, distinct counts...); Items holds a top-k list. NaN (an empty min, say) is
// written as null.
type NamedValue struct {
	Name  string
	Num   float64
	Items []Item
	// IsList is set for aggregates whose value is Items.
	IsList bool
	// Raw, when not nil, is the value as JSON text, written as is: a captured event field that is
	// not a number (a string, a boolean, an object).
	Raw []byte
}

// WindowResult is one window's aggregate values for one key: the core's stable output.
type WindowResult struct {
	Function string
	Key      string
	Start    time.Time
	End      time.Time
	// Revision is 0 for the first firing and counts up with each update by a late event. A window
	// with early firings counts them first: early results take revisions 0, 1, ..., the on-time
	// result the next one, late updates the ones after it, so (function, key, start, end, revision)
	// names one result.
	Revision int
	// Final is set when the window will not change again (its allowed lateness has passed). It is
	// not part of the JSON contract.
	Final bool
	// Early marks an early (speculative) result of a window that has not closed yet: the JSON
	// carries "final":false. Rules see early results only when they ask for them.
	Early  bool
	Values []NamedValue
}

// Type implements Output.
func (*WindowResult) Type() string { return "window" }

// Value returns the named value and whether the result has it.
func (r *WindowResult) Value(name string) (NamedValue, bool) {
	for _, v := range r.Values {
		if v.Name == name {
			return v, true
		}
	}
	return NamedValue{}, false
}

// idSum is the hash whose hex is the result's id (see OutputID).
func (r *WindowResult) idSum() [16]byte {
	return decisionSum(r.Function, "window", r.Key, Span{Start: r.Start, End: r.End}, "window", r.Revision, nil)
}

// Clone returns a deep copy; emitters reuse their results, so keep a clone to hold on to one.
func (r *WindowResult) Clone() *WindowResult {
	var c *WindowResult
	// A result and its values in one allocation: a batch clones one per key and window it closes.
	switch n := len(r.Values); n {
	case 0:
		c = new(WindowResult)
	case 1:
		b := new(struct {
			r WindowResult
			v [1]NamedValue
		})
		c = &b.r
		c.Values = b.v[:]
	case 2:
		b := new(struct {
			r WindowResult
			v [2]NamedValue
		})
		c = &b.r
		c.Values = b.v[:]
	case 3:
		b := new(struct {
			r WindowResult
			v [3]NamedValue
		})
		c = &b.r
		c.Values = b.v[:]
	case 4:
		b := new(struct {
			r WindowResult
			v [4]NamedValue
		})
		c = &b.r
		c.Values = b.v[:]
	default:
		c = &WindowResult{Values: make([]NamedValue, n)}
	}
	vals := c.Values
	*c = *r
	c.Values = vals
	if r.Values == nil {
		c.Values = nil
	}
	for i, v := range r.Values {
		c.Values[i] = v
		if v.Items != nil {
			c.Values[i].Items = append([]Item(nil), v.Items...)
		}
	}
	return c
}

// AppendJSON implements Output:
// {"type":"window","id":"...","function":"w1","key":"k","start":"...","end":"...","revision":0,"values":{...}},
// where id is OutputID(r), with "final":false after the revision for an early result.
func (r *WindowResult) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"window","id":`...)
	b = appendID(b, r.idSum())
	b = append(b, `,"function":`...)
	b = AppendString(b, r.Function)
	b = append(b, `,"key":`...)
	b = AppendString(b, r.Key)
	b = append(b, `,"start":`...)
	b = AppendTime(b, r.Start)
	b = append(b, `,"end":`...)
	b = AppendTime(b, r.End)
	b = append(b, `,"revision":`...)
	b = appendInt(b, int64(r.Revision))
	if r.Early {
		b = append(b, `,"final":false`...)
	}
	b = append(b, `,"values":`...)
	b = AppendValues(b, r.Values)
	return append(b, '}')
}

// AppendValues appends values as a JSON object in their order.
func AppendValues(b []byte, vs []NamedValue) []byte {
	b = append(b, '{')
	for i := range vs {
		v := &vs[i] // not a copy of the value each turn
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, v.Name)
		b = append(b, ':')
		if v.Raw != nil {
			b = append(b, v.Raw...)
			continue
		}
		if v.IsList {
			b = append(b, '[')
			for j, it := range v.Items {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"value":`...)
				b = AppendString(b, it.Value)
				b = append(b, `,"count":`...)
				b = strconv.AppendUint(b, it.Count, 10)
				b = append(b, '}')
			}
			b = append(b, ']')
			continue
		}
		b = AppendNumber(b, v.Num)
	}
	return append(b, '}')
}

// Late is an event that arrived after its windows closed (beyond the allowed lateness). It is written
// to the late output instead of being dropped silently.
type Late struct {
	Function string
	Key      string
	Time     time.Time
	// Watermark is the partition's watermark when the event arrived.
	Watermark time.Time
	ID        string
	Pos       Pos
	Data      []byte
	Reason    string
}

// Type implements Output.
func (*Late) Type() string { return "late" }

// AppendJSON implements Output:
// {"type":"late","id":"...","function":..,"key":..,"time":..,"watermark":..,"record":..,"partition":..,
// "offset":..,"reason":..,"event":..}, where id is OutputID(l) and record is the event's own id.
func (l *Late) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"late","id":`...)
	b = AppendString(b, OutputID(l))
	b = append(b, `,"function":`...)
	b = AppendString(b, l.Function)
	b = append(b, `,"key":`...)
	b = AppendString(b, l.Key)
	b = append(b, `,"time":`...)
	b = AppendTime(b, l.Time)
	b = append(b, `,"watermark":`...)
	b = AppendTime(b, l.Watermark)
	b = append(b, `,"record":`...)
	b = AppendString(b, l.ID)
	b = append(b, `,"partition":`...)
	b = AppendString(b, l.Pos.Partition)
	b = append(b, `,"offset":`...)
	b = AppendString(b, l.Pos.Offset)
	b = append(b, `,"reason":`...)
	b = AppendString(b, l.Reason)
	b = append(b, `,"event":`...)
	b = AppendPayload(b, l.Data)
	return append(b, '}')
}

// OutputID is an output's deterministic id, the "id" member of its JSON: equal outputs get equal
// ids on every run and every cloud, so a re-emitted output carries the id of its first copy and
// consumers drop duplicates by it. A decision's is its ID; a window result's comes from its
// function, key, start, end and revision; a late event's from its function, key, time, partition,
// offset and record id.
func OutputID(o Output) string {
	switch v := o.(type) {
	case *Decision:
		return v.ID
	case *WindowResult:
		sum := v.idSum()
		return hex.EncodeToString(sum[:])
	case *Late:
		return DecisionID(v.Function, "late", v.Key, Span{Start: v.Time, End: v.Time}, v.Pos.Partition+"/"+v.Pos.Offset+"/"+v.ID, 0)
	}
	return DecisionID("", o.Type(), "", Span{}, string(o.AppendJSON(nil)), 0)
}

// Failure is a record that could not be processed: undecodable, missing its key or time. The batch
// goes on without it; adapters route failures to a dead-letter output and report them to the trigger.
type Failure struct {
	Record Record
	// Function and Partition name where the record failed; the Runner sets them before the failure
	// reaches a dead-letter output.
	Function  string
	Partition string
	// Field names the field at fault ("" when the whole payload is).
	Field string
	// Reason says what is wrong, in words.
	Reason string
	Err    error
}

// Error implements error, naming the record, the field and the reason.
func (f *Failure) Error() string {
	s := "record " + strconv.Quote(f.Record.ID)
	if f.Field != "" {
		s += " field " + strconv.Quote(f.Field)
	}
	return s + ": " + f.Reason
}

// Unwrap returns the underlying error.
func (f *Failure) Unwrap() error { return f.Err }

// AppendJSON appends the failure as a dead-letter JSON object.
func (f *Failure) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"failure","id":`...)
	b = AppendString(b, f.Record.ID)
	b = append(b, `,"offset":`...)
	b = AppendString(b, f.Record.Offset)
	b = append(b, `,"field":`...)
	b = AppendString(b, f.Field)
	b = append(b, `,"reason":`...)
	b = AppendString(b, f.Reason)
	b = append(b, `,"data":`...)
	b = AppendString(b, string(f.Record.Data))
	return append(b, '}')
}

// AppendTime appends t as a JSON string in TimeLayout.
func AppendTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if sec < minFastUnix || sec >= maxFastUnix {
		b = append(b, '"')
		b = t.UTC().AppendFormat(b, TimeLayout)
		return append(b, '"')
	}
	// Written by hand: every output carries two or three times, and time.Time.AppendFormat, which
	// parses its layout on each call, was the largest part of writing a window result.
	// Days since 0000-03-01 to a civil date by Neri and Schneider's Euclidean affine functions, as
	// the time package computes it (see its "Computations on Times"), in unsigned arithmetic since
	// the range is checked above: the century, the year in it, the day in the March-based year,
	// then its month and day.
	days := uint64(sec-minFastUnix) / 86400
	tod := uint64(sec-minFastUnix) % 86400
	d := 4*days + 3
	century := d / 146097
	cyear, lo := bits.Mul32(2939745, uint32(d%146097)|3)
	ayday := lo / 2939745 / 4
	md := 2141*ayday + 197913
	month, day := uint64(md>>16), uint64((md&0xFFFF)/2141+1) // March is 3, February 14
	year := century*100 + uint64(cyear)
	if ayday >= 306 { // January or February: of the next year
		month -= 12
		year++
	}
	hour, minute, s := tod/3600, tod/60%60, tod%60
	ms := uint64(t.Nanosecond()) / 1e6 // truncated, as AppendFormat's ".000" does
	// Two digits per lookup; the 26 bytes are put together in an array and appended at once.
	var q [26]byte
	q[0], q[5], q[8], q[11], q[14], q[17], q[20], q[24], q[25] = '"', '-', '-', 'T', ':', ':', '.', 'Z', '"'
	put2 := func(i int, v uint64) { q[i], q[i+1] = pairs[2*v], pairs[2*v+1] }
	put2(1, year/100)
	put2(3, year%100)
	put2(6, month)
	put2(9, day)
	put2(12, hour)
	put2(15, minute)
	put2(18, s)
	q[21] = byte('0' + ms/100)
	put2(22, ms%100)
	return append(b, q[:]...)
}

// AppendTime writes by hand the times from 0000-03-01 (where its day count starts) to the end of
// year 9999 (the last that four digits hold); AppendFormat writes the rest.
const (
	minFastUnix = -62162035200 // 0000-03-01T00:00:00Z
	maxFastUnix = 253402300800 // 10000-01-01T00:00:00Z
)

// AppendNumber appends f as a JSON number the way encoding/json writes float64, or null for NaN and
// infinities (which JSON cannot hold).
func AppendNumber(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return appendFloat(b, f)
}

// AppendPayload appends data as is when it is a JSON object (so the late output embeds the event),
// else as a JSON string.
func AppendPayload(b []byte, data []byte) []byte {
	if len(data) > 0 && data[0] == '{' && data[len(data)-1] == '}' && validJSON(data) {
		return append(b, data...)
	}
	return AppendString(b, string(data))
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaping what JSON requires and replacing invalid UTF-8.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	// Words of eight bytes that need no escaping are skipped at once (keys and names are plain).
	i := 0
	if len(s) >= 8 {
		for ; i+8 <= len(s); i += 8 {
			if !plainWord(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))) {
				break
			}
		}
		// The last word overlaps the ones checked: when it is plain, so is the rest.
		if i+8 > len(s) && plainWord(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[len(s)-8:]), 8))) {
			b = append(b, s...)
			return append(b, '"')
		}
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if plainByte[c] {
			i++
			continue
		}
		if c < 0x80 {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == 0xFFFD && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// CloneOutput returns a copy of o that stays valid after the producer reuses o.
func CloneOutput(o Output) Output {
	switch v := o.(type) {
	case *WindowResult:
		return v.Clone()
	case *Decision:
		c := *v
		c.Values = append([]NamedValue(nil), v.Values...)
		return &c
	case *Late:
		c := *v
		return &c
	}
	return o
}
