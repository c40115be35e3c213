package spec

import (
	"strconv"
	"strings"
)

// Partitioning is what a function's state is partitioned by on a transport whose messages may
// carry no key of their own (Pub/Sub without an ordering key, Event Hubs with a null partition
// key). It is decided when the spec is loaded, never per message: such a message is never a
// dead letter for want of a key.
type Partitioning struct {
	// ByEventKey is set when the event key comes from the record itself (a payload field,
	// $attr.NAME, $ce.NAME): keyless messages are partitioned by their event key. Otherwise (no
	// key:, or key: $key) every keyless message goes to one partition, and with key: $key its
	// event key is "", the key of keyless events.
	ByEventKey bool
	// Key is input.key.
	Key string
}

// Partitioning returns how f partitions messages that carry no transport key.
func (f *Function) Partitioning() Partitioning {
	k := strings.TrimSpace(f.Input.Key)
	return Partitioning{Key: k, ByEventKey: k != "" && k != "$key"}
}

// String says it in words, as `eddy validate` shows it.
func (p Partitioning) String() string {
	switch {
	case p.ByEventKey:
		return "messages without a transport key are partitioned by their event key (" + strconv.Quote(p.Key) + ")"
	case p.Key == "$key":
		return `messages without a transport key go to one partition, with the event key "" (key: $key)`
	}
	return "every event has one key (no key:); messages without a transport key go to one partition"
}
