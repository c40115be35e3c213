package runner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// EnvelopeVersion is the format version Envelope.Marshal writes. Unmarshal reads every version up to
// it, so state written by an older release stays readable after an upgrade.
const EnvelopeVersion = 3

// Envelope is what the Runner stores per partition: the processor's snapshot plus what the Runner
// needs to apply each record once.
//
// Layout of version 3 (all integers uvarint, strings and byte slices length-prefixed):
//
//	byte     version (3)
//	string   last applied offset
//	uvarint  time of the last commit, unix milliseconds
//	uvarint  number of recent ids, then each id (oldest first)
//	bytes    outbox: the outputs and failures of the commit, length-prefixed
//	bytes    processor snapshot (the rest of the value)
//
// Version 2 is version 3 with an outbox that repeats every shared field of its outputs and drops
// decisions' table versions (Unmarshal converts it); version 1 has no outbox.
type Envelope struct {
	// Offset is the offset of the last applied record ("" if none had an offset).
	Offset string
	// Updated is the batch time of the last commit.
	Updated time.Time
	// IDs are the ids of recently applied records that had no offset (Pub/Sub messages), oldest
	// first, at most the Runner's DedupeIDs of them.
	IDs []string
	// Outbox holds the outputs and failures of the commit that wrote the envelope, for the next
	// invocation to emit in case the writer crashed before emitting them (see outbox.go).
	Outbox []byte
	// Snapshot is the processor's state.
	Snapshot []byte
}

// Marshal encodes e in the current format.
func (e *Envelope) Marshal() []byte {
	n := 1 + 3*binary.MaxVarintLen64 + len(e.Offset) + len(e.Outbox) + len(e.Snapshot) + binary.MaxVarintLen64
	for _, id := range e.IDs {
		n += len(id) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, EnvelopeVersion)
	b = appendString(b, e.Offset)
	var ms uint64
	if !e.Updated.IsZero() && e.Updated.UnixMilli() > 0 {
		ms = uint64(e.Updated.UnixMilli())
	}
	b = binary.AppendUvarint(b, ms)
	b = binary.AppendUvarint(b, uint64(len(e.IDs)))
	for _, id := range e.IDs {
		b = appendString(b, id)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Outbox)))
	b = append(b, e.Outbox...)
	return append(b, e.Snapshot...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ErrEnvelope is matched by every error Unmarshal returns.
var ErrEnvelope = errors.New("bad state envelope")

// Unmarshal decodes an envelope of any version up to EnvelopeVersion. The snapshot aliases b.
func (e *Envelope) Unmarshal(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", ErrEnvelope)
	}
	switch v := b[0]; v {
	case 1, 2, 3:
		return e.unmarshal(b[1:], v)
	default:
		return fmt.Errorf("%w: format version %d is newer than this release reads (up to %d); upgrade eddy", ErrEnvelope, v, EnvelopeVersion)
	}
}

func (e *Envelope) unmarshal(b []byte, version byte) error {
	d := decoder{b: b}
	e.Offset = d.string("offset")
	ms := d.uvarint("commit time")
	cnt := d.uvarint("id count")
	if d.err == nil && cnt > uint64(len(d.b)) {
		d.fail("id count", "larger than the value")
	}
	e.IDs = nil
	if d.err == nil && cnt > 0 {
		e.IDs = make([]string, 0, cnt)
		for i := uint64(0); i < cnt && d.err == nil; i++ {
			e.IDs = append(e.IDs, d.string("id"))
		}
	}
	e.Outbox = nil
	if version >= 2 {
		n := d.uvarint("outbox length")
		if d.err == nil && n > uint64(len(d.b)) {
			d.fail("outbox", fmt.Sprintf("length %d past the end of the value", n))
		}
		if d.err == nil && n > 0 {
			e.Outbox = d.b[:n:n]
			d.b = d.b[n:]
		}
	}
	if d.err != nil {
		return d.err
	}
	if version == 2 && e.Outbox != nil {
		outs, fs, err := readLegacyOutbox(e.Outbox)
		if err != nil {
			return fmt.Errorf("outbox of format version 2: %w", err)
		}
		e.Outbox = appendOutbox(nil, outs, fs)
	}
	e.Updated = time.Time{}
	if ms > 0 {
		if ms > 1<<53 {
			return fmt.Errorf("%w: commit time %d out of range", ErrEnvelope, ms)
		}
		e.Updated = time.UnixMilli(int64(ms)).UTC()
	}
	e.Snapshot = d.b
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(field, why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: field %s: %s", ErrEnvelope, field, why)
	}
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(field, "truncated or overlong varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(field string) string {
	n := d.uvarint(field)
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail(field, fmt.Sprintf("length %d past the end of the value", n))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
