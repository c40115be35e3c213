package core

import "time"

// AggregateFunc is a user-defined aggregate (an aggregate whose op is custom, given to the spec's
// compiler by name). Its accumulators live in window slices and in state stores between
// invocations, so they must merge and serialize.
type AggregateFunc interface {
	// New returns an empty accumulator.
	New() Accumulator
}

// AggregateFuncOf adapts a constructor to AggregateFunc.
type AggregateFuncOf func() Accumulator

// New implements AggregateFunc.
func (f AggregateFuncOf) New() Accumulator { return f() }

// Accumulator is one partial of a user-defined aggregate.
type Accumulator interface {
	// Add folds in one event's field value (Missing when the event lacks it) at event time t.
	Add(v Value, t time.Time)
	// Merge folds in o, an accumulator of the same AggregateFunc holding events that came after
	// the receiver's.
	Merge(o Accumulator)
	// Clone returns an independent copy.
	Clone() Accumulator
	// Value is the aggregate's value (NaN for none).
	Value() float64
	// MarshalBinary encodes the accumulator; UnmarshalBinary restores it into a New one.
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}
