package runner

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/eddyhq/eddy/core"
)

// The outbox holds the outputs and failures of the last commit until they are known to be emitted.
// The Runner commits first and emits second, so only committed outputs ever reach a sink: a tick and
// a batch racing on one partition can each compute a different close of the same window, and only
// the commit that wins may speak under its id. A crash between commit and emit leaves the outputs in
// the committed outbox; the next invocation of the partition emits them before anything else.
//
// Layout: uvarint count of outputs, each a kind byte and its fields; uvarint count of failures, each
// its fields. Strings and byte slices are length-prefixed, times are varint unix nanoseconds
// (0 for the zero time), floats their IEEE bits.

const (
	kindRaw byte = iota
	kindWindow
	kindDecision
	kindLate
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

func appendOutbox(b []byte, outs []core.Output, fs []*core.Failure) []byte {
	b = binary.AppendUvarint(b, uint64(len(outs)))
	for _, o := range outs {
		switch v := o.(type) {
		case *core.WindowResult:
			b = append(b, kindWindow)
			b = appendString(b, v.Function)
			b = appendString(b, v.Key)
			b = appendTime(b, v.Start)
			b = appendTime(b, v.End)
			b = binary.AppendVarint(b, int64(v.Revision))
			// One byte of flags: bit 0 final, bit 1 early (an early result's JSON says "final":false,
			// which a re-emitted copy must say too).
			flags := byte(0)
			if v.Final {
				flags |= 1
			}
			if v.Early {
				flags |= 2
			}
			b = append(b, flags)
			b = appendValues(b, v.Values)
		case *core.Decision:
			b = append(b, kindDecision)
			for _, s := range []string{v.ID, v.Function, v.Rule, v.Key, string(v.State), v.Severity} {
				b = appendString(b, s)
			}
			b = appendTime(b, v.Time)
			b = appendTime(b, v.Window.Start)
			b = appendTime(b, v.Window.End)
			b = appendValues(b, v.Values)
		case *core.Late:
			b = append(b, kindLate)
			for _, s := range []string{v.Function, v.Key, v.ID, v.Pos.Partition, v.Pos.Offset, v.Reason} {
				b = appendString(b, s)
			}
			b = appendTime(b, v.Time)
			b = appendTime(b, v.Watermark)
			b = appendString(b, string(v.Data))
		default:
			b = append(b, kindRaw)
			b = appendString(b, o.Type())
			b = appendString(b, string(o.AppendJSON(nil)))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		r := &f.Record
		for _, s := range []string{r.ID, r.Offset, r.Key, string(r.Data), f.Field, f.Reason, f.Function, f.Partition} {
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

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendValues(b []byte, vs []core.NamedValue) []byte {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for _, v := range vs {
		b = appendString(b, v.Name)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Num))
		b = appendBool(b, v.IsList)
		b = appendBool(b, v.Raw != nil)
		if v.Raw != nil {
			b = appendString(b, string(v.Raw))
		}
		b = binary.AppendUvarint(b, uint64(len(v.Items)))
		for _, it := range v.Items {
			b = appendString(b, it.Value)
			b = binary.AppendUvarint(b, it.Count)
		}
	}
	return b
}

// readOutbox decodes what appendOutbox wrote.
func readOutbox(b []byte) ([]core.Output, []*core.Failure, error) {
	d := decoder{b: b}
	n := d.count("output count")
	outs := make([]core.Output, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		kind := d.byte("output kind")
		switch kind {
		case kindWindow:
			r := &core.WindowResult{Function: d.string("function"), Key: d.string("key"), Start: d.time("start"), End: d.time("end")}
			r.Revision = int(d.varint("revision"))
			flags := d.byte("flags")
			r.Final, r.Early = flags&1 != 0, flags&2 != 0
			r.Values = d.values()
			outs = append(outs, r)
		case kindDecision:
			v := &core.Decision{ID: d.string("id"), Function: d.string("function"), Rule: d.string("rule"), Key: d.string("key"), State: core.State(d.string("state")), Severity: d.string("severity")}
			v.Time = d.time("time")
			v.Window.Start = d.time("window start")
			v.Window.End = d.time("window end")
			v.Values = d.values()
			outs = append(outs, v)
		case kindLate:
			l := &core.Late{Function: d.string("function"), Key: d.string("key"), ID: d.string("id")}
			l.Pos.Partition = d.string("partition")
			l.Pos.Offset = d.string("offset")
			l.Reason = d.string("reason")
			l.Time = d.time("time")
			l.Watermark = d.time("watermark")
			if data := d.string("data"); data != "" {
				l.Data = []byte(data)
			}
			outs = append(outs, l)
		case kindRaw:
			outs = append(outs, &RawOutput{Kind: d.string("type"), JSON: []byte(d.string("json"))})
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
		f.Record.Data = []byte(d.string("record data"))
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
	ns := d.varint(field)
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (d *decoder) values() []core.NamedValue {
	n := d.count("value count")
	if n == 0 {
		return nil
	}
	vs := make([]core.NamedValue, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		v := core.NamedValue{Name: d.string("value name")}
		if len(d.b) < 8 {
			d.fail("value", "truncated")
			break
		}
		v.Num = math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		v.IsList = d.byte("value list") == 1
		if d.byte("value raw") == 1 {
			v.Raw = []byte(d.string("value raw"))
		}
		if ni := d.count("item count"); ni > 0 {
			v.Items = make([]core.Item, 0, ni)
			for j := 0; j < ni && d.err == nil; j++ {
				v.Items = append(v.Items, core.Item{Value: d.string("item"), Count: d.uvarint("item count")})
			}
		}
		vs = append(vs, v)
	}
	return vs
}
