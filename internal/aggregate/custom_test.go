package aggregate_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// rangeAcc is a user-defined aggregate: the spread (max - min) of a field.
type rangeAcc struct{ lo, hi float64 }

func newRange() aggregate.Accumulator { return &rangeAcc{lo: math.Inf(1), hi: math.Inf(-1)} }

func (r *rangeAcc) Add(v core.Value, _ time.Time) {
	if f, ok := v.Float(); ok {
		r.lo, r.hi = min(r.lo, f), max(r.hi, f)
	}
}
func (r *rangeAcc) Merge(o aggregate.Accumulator) {
	q := o.(*rangeAcc)
	r.lo, r.hi = min(r.lo, q.lo), max(r.hi, q.hi)
}
func (r *rangeAcc) Clone() aggregate.Accumulator { c := *r; return &c }
func (r *rangeAcc) Value() float64 {
	if r.lo > r.hi {
		return math.NaN()
	}
	return r.hi - r.lo
}
func (r *rangeAcc) MarshalBinary() ([]byte, error) {
	b := binary.LittleEndian.AppendUint64(nil, math.Float64bits(r.lo))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(r.hi)), nil
}
func (r *rangeAcc) UnmarshalBinary(b []byte) error {
	if len(b) != 16 {
		return errors.New("range: want 16 bytes")
	}
	r.lo = math.Float64frombits(binary.LittleEndian.Uint64(b))
	r.hi = math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
	return nil
}

// A user-defined aggregate plugs in as a Func; it merges and serializes like the built-in ones.
func ExampleFunc() {
	var table core.FieldTable
	plan, _ := aggregate.Compile([]aggregate.Spec{
		{Name: "spread", Op: aggregate.Custom, Field: "temp", Func: aggregate.FuncOf(newRange)},
	}, &table)
	a, b := plan.New(), plan.New()
	for i, t := range []float64{21, 25, 19, 30} {
		ev := &core.Event{Fields: []core.Value{{Kind: core.Number, Num: t}}}
		if i < 2 {
			plan.Add(&a, ev, 0)
		} else {
			plan.Add(&b, ev, 0)
		}
	}
	restored, _, _ := plan.Decode(plan.AppendBinary(nil, &b))
	plan.Merge(&a, &restored)
	fmt.Println(string(core.AppendValues(nil, plan.Values(&a, nil))))
	// Output: {"spread":11}
}
