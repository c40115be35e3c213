package runner

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/eddyhq/eddy/core"
)

// readLegacyOutbox decodes the outbox of an envelope of format version 2: no string is shared
// between outputs, a decision's table versions are not kept, and the zero time and the Unix epoch
// are one value. Envelope.Unmarshal converts it to the current layout.
func readLegacyOutbox(b []byte) ([]core.Output, []*core.Failure, error) {
	d := decoder{b: b}
	n := d.count("output count")
	outs := make([]core.Output, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		kind := d.byte("output kind")
		switch kind {
		case kindWindow:
			r := &core.WindowResult{Function: d.string("function"), Key: d.string("key"), Start: d.legacyTime("start"), End: d.legacyTime("end")}
			r.Revision = int(d.varint("revision"))
			flags := d.byte("flags")
			r.Final, r.Early = flags&1 != 0, flags&2 != 0
			r.Values = d.legacyValues()
			outs = append(outs, r)
		case kindDecision:
			v := &core.Decision{ID: d.string("id"), Function: d.string("function"), Rule: d.string("rule"), Key: d.string("key"), State: core.State(d.string("state")), Severity: d.string("severity")}
			v.Time = d.legacyTime("time")
			v.Window.Start = d.legacyTime("window start")
			v.Window.End = d.legacyTime("window end")
			v.Values = d.legacyValues()
			outs = append(outs, v)
		case kindLate:
			l := &core.Late{Function: d.string("function"), Key: d.string("key"), ID: d.string("id")}
			l.Pos.Partition = d.string("partition")
			l.Pos.Offset = d.string("offset")
			l.Reason = d.string("reason")
			l.Time = d.legacyTime("time")
			l.Watermark = d.legacyTime("watermark")
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
		f.Record.Time = d.legacyTime("record time")
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

func (d *decoder) legacyTime(field string) time.Time {
	ns := d.varint(field)
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (d *decoder) legacyValues() []core.NamedValue {
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
