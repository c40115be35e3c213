package runner

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/eddyhq/eddy/core"
)

// legacyAppendOutbox is the outbox encoder of envelope format version 2, kept to test that such
// outboxes stay readable.
func legacyAppendOutbox(b []byte, outs []core.Output, fs []*core.Failure) []byte {
	b = binary.AppendUvarint(b, uint64(len(outs)))
	for _, o := range outs {
		switch v := o.(type) {
		case *core.WindowResult:
			b = append(b, kindWindow)
			b = appendString(b, v.Function)
			b = appendString(b, v.Key)
			b = legacyAppendTime(b, v.Start)
			b = legacyAppendTime(b, v.End)
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
			b = legacyAppendValues(b, v.Values)
		case *core.Decision:
			b = append(b, kindDecision)
			for _, s := range []string{v.ID, v.Function, v.Rule, v.Key, string(v.State), v.Severity} {
				b = appendString(b, s)
			}
			b = legacyAppendTime(b, v.Time)
			b = legacyAppendTime(b, v.Window.Start)
			b = legacyAppendTime(b, v.Window.End)
			b = legacyAppendValues(b, v.Values)
		case *core.Late:
			b = append(b, kindLate)
			for _, s := range []string{v.Function, v.Key, v.ID, v.Pos.Partition, v.Pos.Offset, v.Reason} {
				b = appendString(b, s)
			}
			b = legacyAppendTime(b, v.Time)
			b = legacyAppendTime(b, v.Watermark)
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
		b = legacyAppendTime(b, r.Time)
		b = binary.AppendUvarint(b, uint64(len(r.Attrs)))
		for k, v := range r.Attrs {
			b = appendString(b, k)
			b = appendString(b, v)
		}
	}
	return b
}

func legacyAppendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func legacyAppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func legacyAppendValues(b []byte, vs []core.NamedValue) []byte {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for _, v := range vs {
		b = appendString(b, v.Name)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Num))
		b = legacyAppendBool(b, v.IsList)
		b = legacyAppendBool(b, v.Raw != nil)
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
