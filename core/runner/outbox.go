package runner

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
)

// The outbox holds the outputs and failures of the last commit until they are known to be emitted.
// The Runner commits first and emits second, so only committed outputs ever reach a sink: a tick and
// a batch racing on one partition can each compute a different close of the same window, and only
// the commit that wins may speak under its id. A crash between commit and emit leaves the outputs in
// the committed outbox; the next invocation of the partition emits them before anything else.
//
// The outbox is part of every commit of a processor that is not TickFree, so it is kept small and
// cheap to write: the outputs of one batch mostly close the same windows of the same function with
// the same aggregates, and each output says which of those it shares with the previous output of its
// kind instead of repeating them.
//
// Layout (envelope version 3): uvarint count of outputs, each a kind byte, a flags byte and its
// fields; uvarint count of failures, each its fields. Strings and byte slices are length-prefixed;
// times are varint unix seconds and uvarint nanoseconds; a span's end has its seconds after its
// start's.
//
//	window:   flags (final, early, same function, same span, same value names); [function] key
//	          [start end] revision values
//	decision: flags (same function, rule, state, severity, span, value names; id as 16 bytes);
//	          id [function rule] key [state severity] time [start end] values, table versions
//	late:     function key id partition offset reason time watermark data
//	raw:      type json
//	values:   [uvarint count, names] then per value a tag (list, raw, items, integer) and the number
//	          (zigzag varint if integer, else its IEEE bits), [raw], [items: count, value and count]
//	failure:  id offset key data field reason function partition time, attributes
//
// Bracketed fields are absent when a flag says the previous output of the kind had the same.

const (
	kindRaw byte = iota
	kindWindow
	kindDecision
	kindLate
)

// Window flags.
const (
	wFinal byte = 1 << iota
	wEarly
	wSameFunction
	wSameSpan
	wSameNames
)

// Decision flags.
const (
	dSameFunction byte = 1 << iota
	dSameRule
	dSameState
	dSameSeverity
	dSameSpan
	dSameNames
	dHexID
)

// Value tags.
const (
	vList byte = 1 << iota
	vRaw
	vItems
	vInt
)

// RawOutput is an output the Runner re-emits from its outbox after a crash when it was of a type
// the outbox does not know field by field (a user handler's own output): its type and its JSON.
type RawOutput struct {
	Kind string
	JSON []byte
}

// Type implements core.Output.
func (o *RawOutput) Type() string { return o.Kind }

// AppendJSON implements core.Output.
func (o *RawOutput) AppendJSON(b []byte) []byte { return append(b, o.JSON...) }

// outboxBufs recycles the buffers outboxes are encoded into: the envelope copies the outbox, so
// its buffer is free once the value is built.
var outboxBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledOutbox bounds the buffers kept for reuse, so one huge batch does not pin its buffer.
const maxPooledOutbox = 8 << 20

func getOutboxBuf() *[]byte { return outboxBufs.Get().(*[]byte) }

func putOutboxBuf(b *[]byte) {
	if cap(*b) <= maxPooledOutbox {
		*b = (*b)[:0]
		outboxBufs.Put(b)
	}
}

func appendOutbox(b []byte, outs []core.Output, fs []*core.Failure) []byte {
	var pw *core.WindowResult
	var pd *core.Decision
	b = binary.AppendUvarint(b, uint64(len(outs)))
	for _, o := range outs {
		switch v := o.(type) {
		case *core.WindowResult:
			flags := byte(0)
			if v.Final {
				flags |= wFinal
			}
			if v.Early {
				// An early result's JSON says "final":false, which a re-emitted copy must say too.
				flags |= wEarly
			}
			if pw != nil {
				if v.Function == pw.Function {
					flags |= wSameFunction
				}
				if v.Start.Equal(pw.Start) && v.End.Equal(pw.End) && v.Start.IsZero() == pw.Start.IsZero() && v.End.IsZero() == pw.End.IsZero() {
					flags |= wSameSpan
				}
				if sameNames(v.Values, pw.Values) {
					flags |= wSameNames
				}
			}
			b = append(b, kindWindow, flags)
			if flags&wSameFunction == 0 {
				b = appendString(b, v.Function)
			}
			b = appendString(b, v.Key)
			if flags&wSameSpan == 0 {
				b = appendSpan(b, v.Start, v.End)
			}
			b = binary.AppendVarint(b, int64(v.Revision))
			b = appendValues(b, v.Values, flags&wSameNames != 0)
			pw = v
		case *core.Decision:
			flags := byte(0)
			if pd != nil {
				flags |= same(v.Function, pd.Function, dSameFunction) | same(v.Rule, pd.Rule, dSameRule) |
					same(string(v.State), string(pd.State), dSameState) | same(v.Severity, pd.Severity, dSameSeverity)
				if v.Window.Start.Equal(pd.Window.Start) && v.Window.End.Equal(pd.Window.End) &&
					v.Window.Start.IsZero() == pd.Window.Start.IsZero() && v.Window.End.IsZero() == pd.Window.End.IsZero() {
					flags |= dSameSpan
				}
				if sameNames(v.Values, pd.Values) {
					flags |= dSameNames
				}
			}
			if isHexID(v.ID) {
				flags |= dHexID
			}
			b = append(b, kindDecision, flags)
			if flags&dHexID != 0 {
				var id [16]byte
				hex.Decode(id[:], []byte(v.ID)) // cannot fail: isHexID checked it
				b = append(b, id[:]...)
			} else {
				b = appendString(b, v.ID)
			}
			if flags&dSameFunction == 0 {
				b = appendString(b, v.Function)
			}
			if flags&dSameRule == 0 {
				b = appendString(b, v.Rule)
			}
			b = appendString(b, v.Key)
			if flags&dSameState == 0 {
				b = appendString(b, string(v.State))
			}
			if flags&dSameSeverity == 0 {
				b = appendString(b, v.Severity)
			}
			b = appendTime(b, v.Time)
			if flags&dSameSpan == 0 {
				b = appendSpan(b, v.Window.Start, v.Window.End)
			}
			b = appendValues(b, v.Values, flags&dSameNames != 0)
			b = binary.AppendUvarint(b, uint64(len(v.Ref)))
			for _, r := range v.Ref {
				b = appendString(b, r.Table)
				b = appendString(b, r.Version)
			}
			pd = v
		case *core.Late:
			b = append(b, kindLate, 0)
			for _, s := range [...]string{v.Function, v.Key, v.ID, v.Pos.Partition, v.Pos.Offset, v.Reason} {
				b = appendString(b, s)
			}
			b = appendTime(b, v.Time)
			b = appendTime(b, v.Watermark)
			b = appendBytes(b, v.Data)
		default:
			b = append(b, kindRaw, 0)
			b = appendString(b, o.Type())
			b = appendBytes(b, o.AppendJSON(nil))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		r := &f.Record
		b = appendString(b, r.ID)
		b = appendString(b, r.Offset)
		b = appendString(b, r.Key)
		b = appendBytes(b, r.Data)
		for _, s := range [...]string{f.Field, f.Reason, f.Function, f.Partition} {
			b = appendString(b, s)
		}
		b = appendTime(b, r.Time)
		b = binary.AppendUvarint(b, uint64(len(r.Attrs)))
		for k, v := range r.Attrs {
			b = appendString(b, k)
			b = appendString(b, v)
		}
	}
	return b
}

func same(a, b string, flag byte) byte {
	if a == b {
		return flag
	}
	return 0
}

// sameNames reports whether vs and prev name the same values in the same order.
func sameNames(vs, prev []core.NamedValue) bool {
	if len(vs) != len(prev) {
		return false
	}
	for i := range vs {
		if vs[i].Name != prev[i].Name {
			return false
		}
	}
	return true
}

// isHexID reports whether id is 32 lowercase hex digits (a core.DecisionID), which the outbox keeps
// as the 16 bytes they spell.
func isHexID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTime writes t's unix seconds and nanoseconds, which every time.Time (the zero one
// included) round-trips through, unlike UnixNano.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// appendSpan writes a span's start and its end after it (a window's size, a few bytes).
func appendSpan(b []byte, start, end time.Time) []byte {
	b = appendTime(b, start)
	b = binary.AppendVarint(b, end.Unix()-start.Unix())
	return binary.AppendUvarint(b, uint64(end.Nanosecond()))
}

func appendValues(b []byte, vs []core.NamedValue, sameNames bool) []byte {
	if !sameNames {
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for i := range vs {
			b = appendString(b, vs[i].Name)
		}
	}
	for i := range vs {
		v := &vs[i]
		tag := byte(0)
		if v.IsList {
			tag |= vList
		}
		if v.Raw != nil {
			tag |= vRaw
		}
		if len(v.Items) > 0 {
			tag |= vItems
		}
		// Counts and sums of whole numbers are most values: a varint of a few bytes, not eight.
		if v.Num == math.Trunc(v.Num) && math.Abs(v.Num) < 1<<53 && !(v.Num == 0 && math.Signbit(v.Num)) {
			tag |= vInt
		}
		b = append(b, tag)
		if tag&vInt != 0 {
			b = binary.AppendVarint(b, int64(v.Num))
		} else {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Num))
		}
		if v.Raw != nil {
			b = appendBytes(b, v.Raw)
		}
		if len(v.Items) > 0 {
			b = binary.AppendUvarint(b, uint64(len(v.Items)))
			for _, it := range v.Items {
				b = appendString(b, it.Value)
				b = binary.AppendUvarint(b, it.Count)
			}
		}
	}
	return b
}

// readOutbox decodes what appendOutbox wrote.
func readOutbox(b []byte) ([]core.Output, []*core.Failure, error) {
	d := decoder{b: b}
	var pw *core.WindowResult
	var pd *core.Decision
	n := d.count("output count")
	outs := make([]core.Output, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		kind := d.byte("output kind")
		flags := d.byte("output flags")
		switch kind {
		case kindWindow:
			if pw == nil && flags&(wSameFunction|wSameSpan|wSameNames) != 0 {
				d.fail("window flags", "first window refers to a previous one")
				break
			}
			r := &core.WindowResult{Final: flags&wFinal != 0, Early: flags&wEarly != 0}
			if flags&wSameFunction != 0 {
				r.Function = pw.Function
			} else {
				r.Function = d.string("function")
			}
			r.Key = d.string("key")
			if flags&wSameSpan != 0 {
				r.Start, r.End = pw.Start, pw.End
			} else {
				r.Start, r.End = d.span("window")
			}
			r.Revision = int(d.varint("revision"))
			var prev []core.NamedValue
			if pw != nil {
				prev = pw.Values
			}
			r.Values = d.values(prev, flags&wSameNames != 0)
			outs = append(outs, r)
			pw = r
		case kindDecision:
			if pd == nil && flags&^dHexID != 0 {
				d.fail("decision flags", "first decision refers to a previous one")
				break
			}
			v := &core.Decision{}
			if flags&dHexID != 0 {
				v.ID = hex.EncodeToString(d.take("id", 16))
			} else {
				v.ID = d.string("id")
			}
			v.Function = d.sameOr(flags&dSameFunction != 0, pd, func(p *core.Decision) string { return p.Function }, "function")
			v.Rule = d.sameOr(flags&dSameRule != 0, pd, func(p *core.Decision) string { return p.Rule }, "rule")
			v.Key = d.string("key")
			v.State = core.State(d.sameOr(flags&dSameState != 0, pd, func(p *core.Decision) string { return string(p.State) }, "state"))
			v.Severity = d.sameOr(flags&dSameSeverity != 0, pd, func(p *core.Decision) string { return p.Severity }, "severity")
			v.Time = d.time("time")
			if flags&dSameSpan != 0 {
				v.Window = pd.Window
			} else {
				v.Window.Start, v.Window.End = d.span("decision window")
			}
			var prev []core.NamedValue
			if pd != nil {
				prev = pd.Values
			}
			v.Values = d.values(prev, flags&dSameNames != 0)
			if nr := d.count("table count"); nr > 0 {
				v.Ref = make([]core.TableVersion, 0, nr)
				for j := 0; j < nr && d.err == nil; j++ {
					v.Ref = append(v.Ref, core.TableVersion{Table: d.string("table"), Version: d.string("table version")})
				}
			}
			outs = append(outs, v)
			pd = v
		case kindLate:
			l := &core.Late{Function: d.string("function"), Key: d.string("key"), ID: d.string("id")}
			l.Pos.Partition = d.string("partition")
			l.Pos.Offset = d.string("offset")
			l.Reason = d.string("reason")
			l.Time = d.time("time")
			l.Watermark = d.time("watermark")
			l.Data = d.bytes("data")
			outs = append(outs, l)
		case kindRaw:
			outs = append(outs, &RawOutput{Kind: d.string("type"), JSON: d.bytes("json")})
		default:
			d.fail("output kind", fmt.Sprintf("unknown kind %d", kind))
		}
	}
	n = d.count("failure count")
	fs := make([]*core.Failure, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		f := &core.Failure{}
		f.Record.ID = d.string("record id")
		f.Record.Offset = d.string("record offset")
		f.Record.Key = d.string("record key")
		f.Record.Data = d.bytes("record data")
		f.Field = d.string("field")
		f.Reason = d.string("reason")
		f.Function = d.string("function")
		f.Partition = d.string("partition")
		f.Record.Time = d.time("record time")
		if na := d.count("attribute count"); na > 0 {
			f.Record.Attrs = make(map[string]string, na)
			for j := 0; j < na && d.err == nil; j++ {
				k := d.string("attribute")
				f.Record.Attrs[k] = d.string("attribute value")
			}
		}
		fs = append(fs, f)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("outbox", fmt.Sprintf("%d bytes past its end", len(d.b)))
	}
	return outs, fs, d.err
}

// sameOr returns the previous decision's field when same is set, else reads it.
func (d *decoder) sameOr(same bool, prev *core.Decision, field func(*core.Decision) string, name string) string {
	if same {
		return field(prev)
	}
	return d.string(name)
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(field, "truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// take returns the next n bytes (aliasing the value).
func (d *decoder) take(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail(field, "truncated")
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

// bytes reads a length-prefixed byte slice into a copy; nil when empty, as the outputs had it.
func (d *decoder) bytes(field string) []byte {
	n := d.count(field)
	if d.err != nil || n == 0 {
		return nil
	}
	return append([]byte(nil), d.take(field, n)...)
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(field, "truncated or overlong varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items that take at least one byte each, so it cannot exceed the rest.
func (d *decoder) count(field string) int {
	n := d.uvarint(field)
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail(field, "larger than the value")
		return 0
	}
	return int(n)
}

func (d *decoder) time(field string) time.Time {
	return d.timeAfter(field, 0)
}

// timeAfter reads a time whose seconds are written after base's.
func (d *decoder) timeAfter(field string, base int64) time.Time {
	sec := d.varint(field)
	ns := d.uvarint(field)
	if d.err == nil && ns >= 1e9 {
		d.fail(field, "nanoseconds past a second")
	}
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(base+sec, int64(ns)).UTC()
}

func (d *decoder) span(field string) (start, end time.Time) {
	start = d.time(field)
	return start, d.timeAfter(field, start.Unix())
}

// values reads a value list; with sameNames its names (and their count) are those of prev.
func (d *decoder) values(prev []core.NamedValue, sameNames bool) []core.NamedValue {
	var vs []core.NamedValue
	if sameNames {
		if len(prev) == 0 {
			return nil
		}
		vs = make([]core.NamedValue, len(prev))
		for i := range prev {
			vs[i].Name = prev[i].Name
		}
	} else {
		n := d.count("value count")
		if n == 0 {
			return nil
		}
		vs = make([]core.NamedValue, n)
		for i := range vs {
			vs[i].Name = d.string("value name")
		}
	}
	for i := range vs {
		if d.err != nil {
			break
		}
		v := &vs[i]
		tag := d.byte("value tag")
		if tag&vInt != 0 {
			v.Num = float64(d.varint("value"))
		} else if raw := d.take("value", 8); raw != nil {
			v.Num = math.Float64frombits(binary.LittleEndian.Uint64(raw))
		}
		v.IsList = tag&vList != 0
		if tag&vRaw != 0 {
			v.Raw = d.bytes("value raw")
			if v.Raw == nil {
				v.Raw = []byte{}
			}
		}
		if tag&vItems != 0 {
			ni := d.count("item count")
			v.Items = make([]core.Item, 0, ni)
			for j := 0; j < ni && d.err == nil; j++ {
				v.Items = append(v.Items, core.Item{Value: d.string("item"), Count: d.uvarint("item count")})
			}
		}
	}
	return vs
}
