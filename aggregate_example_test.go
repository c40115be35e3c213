package eddy_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/eddyhq/eddy"
)

// spread is a user-defined aggregate: the largest value minus the smallest. It merges and
// serializes, since its partials live in window state between invocations.
type spread struct{ lo, hi float64 }

func newSpread() eddy.Accumulator { return &spread{lo: math.Inf(1), hi: math.Inf(-1)} }

func (s *spread) Add(v eddy.Value, _ time.Time) {
	if f, ok := v.Float(); ok {
		s.lo, s.hi = min(s.lo, f), max(s.hi, f)
	}
}
func (s *spread) Merge(o eddy.Accumulator) {
	t := o.(*spread)
	s.lo, s.hi = min(s.lo, t.lo), max(s.hi, t.hi)
}
func (s *spread) Clone() eddy.Accumulator { c := *s; return &c }
func (s *spread) Value() float64 {
	if s.hi < s.lo {
		return math.NaN()
	}
	return s.hi - s.lo
}
func (s *spread) MarshalBinary() ([]byte, error) {
	b := binary.LittleEndian.AppendUint64(nil, math.Float64bits(s.lo))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(s.hi)), nil
}
func (s *spread) UnmarshalBinary(b []byte) error {
	if len(b) != 16 {
		return fmt.Errorf("spread: %d bytes, want 16", len(b))
	}
	s.lo, s.hi = math.Float64frombits(binary.LittleEndian.Uint64(b)), math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
	return nil
}

// A user-defined aggregate: Op Custom, and its Go function in Options.Aggregates under its name.
// Rules read it like any other aggregate.
func ExampleOptions_aggregates() {
	fn := &eddy.Function{
		Name:       "price-swings",
		Input:      eddy.Input{Key: "symbol", Time: "ts", TimeFormat: "unix"},
		Window:     eddy.Window{Tumbling: time.Minute},
		Aggregates: []eddy.Aggregate{{Name: "swing", Op: eddy.Custom, Field: "price"}},
		Rules:      []eddy.Rule{{Name: "volatile", When: "swing > 5.0", EachWindow: true}},
	}
	c, err := eddy.Compile(context.Background(), fn, eddy.Options{
		Aggregates: map[string]eddy.AggregateFunc{"swing": eddy.AggregateFuncOf(newSpread)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	records, _ := eddy.ReadRecords(strings.NewReader(`{"symbol":"ACME","ts":1767225600,"price":100}
{"symbol":"ACME","ts":1767225630,"price":107.5}
{"symbol":"ACME","ts":1767225660,"price":101}
`), "ticks.ndjson")
	_, err = c.Run(context.Background(), records, func(o eddy.Output) {
		switch o := o.(type) {
		case *eddy.WindowResult:
			fmt.Println(o.Key, o.Start.UTC().Format(time.TimeOnly), o.Values[0].Name, o.Values[0].Num)
		case *eddy.Decision:
			fmt.Println(o.Key, o.Rule, o.State)
		}
	})
	fmt.Println(err)
	// Output:
	// ACME 00:00:00 swing 7.5
	// ACME volatile firing
	// ACME 00:01:00 swing 0
	// <nil>
}
