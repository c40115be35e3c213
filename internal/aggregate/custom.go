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

// Func is a user-defined aggregate: core.AggregateFunc, public so that users can write one.
type Func = core.AggregateFunc

// FuncOf adapts a constructor to Func.
type FuncOf = core.AggregateFuncOf

// Accumulator is one partial of a user-defined aggregate (core.Accumulator).
type Accumulator = core.Accumulator

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
