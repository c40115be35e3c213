package window

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/eddyhq/eddy/internal/aggregate"
)

// snapshotVersion is the operator state's encoding version. Bump it when the layout changes, and
// keep Restore reading every older version.
//
// Version 2 is version 1 followed by the early firings' state (appendEarly); operators without
// early firings keep writing version 1, byte for byte what they wrote before.
const (
	snapshotVersion      = 1
	snapshotVersionEarly = 2
)

var errSnapshot = errors.New("corrupt window snapshot")

// AppendBinary appends the operator's whole state (watermark and every key's windows) in a compact,
// versioned encoding. Keys are written in order, so equal states encode to equal bytes.
func (o *Operator) AppendBinary(b []byte) []byte {
	if o.early {
		b = append(b, snapshotVersionEarly)
	} else {
		b = append(b, snapshotVersion)
	}
	b = binary.AppendVarint(b, o.wm)
	keys := make([]string, 0, len(o.keys))
	for k := range o.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = o.kind.appendKey(b, o.keys[k])
	}
	if o.early {
		b = o.appendEarlyState(b, keys)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// decoder reads a snapshot, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errSnapshot
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length and checks it against what is left, so garbage cannot ask for huge slices.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 {
		d.fail()
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v == 1
}

// row decodes a partial into r, which must be empty.
func (d *decoder) row(o *Operator, r aggregate.Row) {
	if d.err != nil {
		return
	}
	rest, err := o.plan.DecodeRow(d.b, r, &o.sk)
	if err != nil {
		d.err = err
		d.b = nil
		return
	}
	d.b = rest
}

// saneLimit bounds every time a snapshot may hold (about ±146 years around 1970, unix ns), so that
// window arithmetic on it (an end plus a size, a slide and the lateness) cannot overflow: a corrupt
// snapshot is refused instead of sending Flush through billions of windows.
const saneLimit = int64(1) << 62

// time reads a time that is either minTime (unset), maxTime (the end of the stream: a flushed
// operator's watermark) or within ±saneLimit.
func (d *decoder) time() int64 {
	t := d.varint()
	if t != minTime && t != maxTime && (t < -saneLimit || t > saneLimit) {
		d.fail()
		return 0
	}
	return t
}

// Restore replaces the operator's state with a snapshot from AppendBinary. An empty snapshot means
// fresh state.
func (o *Operator) Restore(b []byte) error {
	o.resetKeys()
	o.due.reset()
	o.wm = minTime
	o.sk = aggregate.Sketches{}
	o.earlyNext, o.dirtyKeys = 0, nil
	if len(b) == 0 {
		return nil
	}
	if b[0] != snapshotVersion && b[0] != snapshotVersionEarly {
		return fmt.Errorf("window snapshot version %d: this release reads versions %d and %d", b[0], snapshotVersion, snapshotVersionEarly)
	}
	// A snapshot without early state restores into an operator with early firings (which start
	// from nothing) and the other way round (the early state is dropped): the spec may change.
	withEarly := b[0] == snapshotVersionEarly
	var order []*keyHead
	d := &decoder{b: b[1:]}
	o.wm = d.time()
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		h := o.kind.newKey(d.string())
		o.kind.readKey(d, h)
		if d.err != nil {
			break
		}
		o.keys[h.key] = h
		o.schedule(h, o.kind.dueOf(h), 0)
		if withEarly {
			order = append(order, h)
		}
	}
	if withEarly && d.err == nil {
		o.readEarlyState(d, order)
		if !o.early {
			for _, h := range order {
				h.early = 0
			}
			o.dirtyKeys, o.earlyNext = nil, 0
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		o.resetKeys()
		o.due.reset()
		o.wm = minTime
		o.earlyNext, o.dirtyKeys = 0, nil
		return fmt.Errorf("restore window state: %w", d.err)
	}
	return nil
}
