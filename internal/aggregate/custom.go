package aggregate

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/eddyhq/eddy/core"
)

// Custom is the Op of a user-defined aggregate: Spec.Func supplies it.
const Custom Op = "custom"

// Func is a user-defined aggregate. Its accumulators live in window slices and in state stores
// between invocations, so they must merge and serialize.
type Func interface {
	// New returns an empty accumulator.
	New() Accumulator
}

// FuncOf adapts a constructor to Func.
type FuncOf func() Accumulator

// New implements Func.
func (f FuncOf) New() Accumulator { return f() }

// Accumulator is one partial of a user-defined aggregate.
type Accumulator interface {
	// Add folds in one event's field value (Missing when the event lacks it) at event time t.
	Add(v core.Value, t time.Time)
	// Merge folds in o, an accumulator of the same Func holding events that came after the
	// receiver's.
	Merge(o Accumulator)
	// Clone returns an independent copy.
	Clone() Accumulator
	// Value is the aggregate's value (NaN for none).
	Value() float64
	// MarshalBinary encodes the accumulator; UnmarshalBinary restores it into a New one.
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// custom adapts an Accumulator to the plan's sketch slot.
type custom struct {
	fn  Func
	acc Accumulator
}

func (c *custom) add(v core.Value, t int64) { c.acc.Add(v, time.Unix(0, t).UTC()) }
func (c *custom) merge(o sketch)            { c.acc.Merge(o.(*custom).acc) }
func (c *custom) clone() sketch             { return &custom{fn: c.fn, acc: c.acc.Clone()} }

func (c *custom) value(nv *core.NamedValue) {
	nv.Num = c.acc.Value()
	if math.IsInf(nv.Num, 0) {
		nv.Num = math.NaN()
	}
}

func (c *custom) appendBinary(b []byte) []byte {
	enc, err := c.acc.MarshalBinary()
	if err != nil {
		// An accumulator that cannot encode itself is a programming error in the user's aggregate;
		// store nothing, which restores as empty, rather than fail the whole snapshot silently.
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(enc))+1)
	return append(b, enc...)
}

func (c *custom) decode(b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k)+1 {
		return errCorrupt
	}
	acc := c.fn.New()
	if n > 0 {
		if err := acc.UnmarshalBinary(b[k : k+int(n)-1]); err != nil {
			return fmt.Errorf("custom aggregate: %w", err)
		}
	}
	c.acc = acc
	return nil
}
