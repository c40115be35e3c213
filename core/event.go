// Package core holds eddy's provider-neutral vocabulary: the records an adapter hands in, the events the
// pipeline decodes from them, and the outputs (window results, decisions, late events, failures) it
// hands back. It imports no cloud SDK; adapters depend on it, never the reverse.
package core

import (
	"time"
)

// Record is one raw message as a trigger delivered it, before decoding. Adapters build records; the
// pipeline decodes them into Events.
type Record struct {
	// ID identifies the record for error reports and dead-letter outputs (a Kinesis sequence number, a
	// Pub/Sub message id, an Event Hubs sequence number).
	ID string
	// Offset is the record's position in its partition as a decimal string ("" when the transport has
	// no order, as with Pub/Sub). Offsets compare with CompareOffsets.
	Offset string
	// Key is the transport's partition or ordering key, if any; a spec may use it as the event key.
	Key string
	// Time is the transport's arrival time, if any; a spec may use it as the event time.
	Time time.Time
	// Data is the payload.
	Data []byte
	// Attrs are the transport's attributes or properties.
	Attrs map[string]string
}

// Batch is the records of one partition in delivery order: one invocation's work.
type Batch struct {
	// Partition names the ordered stream the records came from (a shard, an ordering key, an Event
	// Hubs partition).
	Partition string
	// Records in delivery order.
	Records []Record
	// Now is the processing time of the invocation. It drives processing-time windows and idle
	// timeouts; it is an input so that a replay is deterministic.
	Now time.Time
}

// Pos is where an event came from.
type Pos struct {
	Partition string
	Offset    string
}

// Event is a decoded record: the unit windows, rules and patterns see.
type Event struct {
	// ID is the record id (sub-records of an aggregated record get a derived id).
	ID string
	// Key groups events: windows, rules and patterns are kept per key.
	Key string
	// Time is the event time (or the processing time, when the spec asks for it).
	Time time.Time
	// Data is the raw payload.
	Data []byte
	// Attrs are the transport attributes.
	Attrs map[string]string
	// Pos is the source position.
	Pos Pos
	// Fields are the payload fields the pipeline needs, decoded once, indexed as the pipeline's field
	// table says (see codec.Fields).
	Fields []Value
}

// Kind tells which member of a Value is set.
type Kind uint8

// Value kinds.
const (
	Missing Kind = iota // the field is absent
	Null                // JSON null
	Number
	String
	Bool
	Object // a nested object or array; Raw holds its JSON text
)

// Value is one decoded field. It is a plain struct, not an interface, so that decoding a flat object
// allocates nothing per field.
type Value struct {
	Kind Kind
	Num  float64
	Str  string
	Bool bool
	// Raw is the JSON text of an Object value.
	Raw []byte
}

// Float returns the value as a number and whether it is one. Numeric strings count, since producers
// often quote numbers.
func (v Value) Float() (float64, bool) {
	switch v.Kind {
	case Number:
		return v.Num, true
	case Bool:
		if v.Bool {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Text returns the value as a string, formatting numbers and bools.
func (v Value) Text() string {
	switch v.Kind {
	case String:
		return v.Str
	case Number:
		return string(AppendNumber(nil, v.Num))
	case Bool:
		if v.Bool {
			return "true"
		}
		return "false"
	case Object:
		return string(v.Raw)
	}
	return ""
}

// Any returns the value as the Go value encoding/json would produce (float64, string, bool, nil, or
// json.RawMessage text for objects).
func (v Value) Any() any {
	switch v.Kind {
	case Number:
		return v.Num
	case String:
		return v.Str
	case Bool:
		return v.Bool
	case Object:
		return v.Raw
	}
	return nil
}
