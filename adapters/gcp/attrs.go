package gcp

import "github.com/eddyhq/eddy/core/sink"

// Attributes of the messages the gcppubsub:// sink publishes: the wire contract's metadata (package
// core/sink), under the names this package has always given them.
const (
	// AttrType is the output's type: "window", "decision", "late" or "deadletter".
	AttrType = sink.MetaType
	// AttrID is the output's deterministic id (sink.OutputID): a re-emitted output carries the
	// same one, so consumers drop duplicates by it.
	AttrID = sink.MetaID
	// AttrKey is the output's key.
	AttrKey = sink.MetaKey
	// AttrReason and AttrField describe a dead letter: why it failed and the field at fault.
	AttrReason = sink.MetaReason
	AttrField  = sink.MetaField
	// AttrMessageID is a dead letter's original message id.
	AttrMessageID = sink.MetaRecord
)
