// Package aggregate computes named aggregates of events incrementally, in partials that merge and
// serialize compactly: the values a window holds between events and between invocations.
//
// A Plan is compiled once from the aggregate specs; it lays every partial out the same way: one Stats
// per numeric field that count/sum/min/max/avg/variance/stddev read (so avg and max of the same field
// share one pass), plus one sketch per first/last/quantile/distinct/top-k aggregate. A partial is a
// Row: Plan.Width words without pointers holding only what the plan reads (an average: count and
// sum), with the sketches, if any, in a Sketches store that the row's owner keeps. A window keeps a
// key's slices in one such array, which the garbage collector never scans; Partial wraps a Row and
// its own store for one-off use.
//
// An aggregate with a Where condition (SQL's FILTER (WHERE ...)) gets slots of its own, keyed by
// field and condition; each distinct condition is evaluated once per Add, and a plan without any
// keeps the unconditional loop. Conditions change which slots exist, not how a partial encodes.
package aggregate

import (
	"fmt"
	"strings"
)

// Op names an aggregate function.
type Op string

// The aggregate functions.
const (
	Count    Op = "count"    // events (or, with a field, events whose field is a number)
	Sum      Op = "sum"      // sum of the field
	Min      Op = "min"      // smallest value of the field
	Max      Op = "max"      // largest value of the field
	Avg      Op = "avg"      // arithmetic mean of the field
	Variance Op = "variance" // population variance of the field
	Stddev   Op = "stddev"   // population standard deviation of the field
	First    Op = "first"    // value of the earliest event by event time (ties: earliest arrival)
	Last     Op = "last"     // value of the latest event by event time (ties: latest arrival)
	Quantile Op = "quantile" // quantile Q of the field from a relative-error sketch (DDSketch)
	Distinct Op = "distinct" // estimated number of distinct values of the field (HyperLogLog)
	TopK     Op = "topk"     // the K most frequent values of the field with their counts
)

// Ops lists every Op, for validation messages and documentation.
var Ops = []Op{Count, Sum, Min, Max, Avg, Variance, Stddev, First, Last, Quantile, Distinct, TopK}

// Spec declares one named aggregate.
type Spec struct {
	// Name is the aggregate's name in results ("avg_temp"); it defaults to the Op.
	Name string
	// Op is the function.
	Op Op
	// Field is the payload path the aggregate reads; count may leave it empty.
	Field string
	// Q is the quantile in [0, 1] for Quantile (0.99 for p99).
	Q float64
	// RelativeAccuracy bounds a quantile's relative error (default 0.01: within 1%).
	RelativeAccuracy float64
	// K is the length of a TopK list (default 10).
	K int
	// Precision is HyperLogLog's precision p for Distinct, 4..18 (default 14: 16 KiB dense, about
	// 0.8% standard error; small sets stay sparse and tiny).
	Precision uint8
	// Func is the user-defined aggregate of a Custom op (Go API only).
	Func Func
	// Where is a CEL condition over the event (see package predicate): only events satisfying it
	// are added to this aggregate, like SQL's COUNT(*) FILTER (WHERE outcome = 'fail'). Events
	// that fail it still belong to the window and to the other aggregates. Empty: every event.
	Where string
}

func (s Spec) name() string {
	if s.Name != "" {
		return s.Name
	}
	return string(s.Op)
}

// Validate checks a spec on its own.
func (s Spec) Validate() error {
	switch s.Op {
	case Count:
	case Custom:
		if s.Func == nil {
			return fmt.Errorf("aggregate %q: custom needs a Func", s.name())
		}
	case Sum, Min, Max, Avg, Variance, Stddev, First, Last, Distinct, TopK:
		if s.Field == "" {
			return fmt.Errorf("aggregate %q: %s needs a field", s.name(), s.Op)
		}
	case Quantile:
		if s.Field == "" {
			return fmt.Errorf("aggregate %q: quantile needs a field", s.name())
		}
		if !(s.Q >= 0 && s.Q <= 1) {
			return fmt.Errorf("aggregate %q: q %v is outside [0, 1]", s.name(), s.Q)
		}
		if s.RelativeAccuracy != 0 && !(s.RelativeAccuracy > 0 && s.RelativeAccuracy < 1) {
			return fmt.Errorf("aggregate %q: relative accuracy %v is outside (0, 1)", s.name(), s.RelativeAccuracy)
		}
	case "":
		return fmt.Errorf("aggregate %q: op is missing (one of %s)", s.name(), opList())
	default:
		return fmt.Errorf("aggregate %q: unknown op %q (one of %s)", s.name(), s.Op, opList())
	}
	if s.Op == TopK && s.K < 0 {
		return fmt.Errorf("aggregate %q: k %d is negative", s.name(), s.K)
	}
	if s.Op == Distinct && s.Precision != 0 && (s.Precision < 4 || s.Precision > 18) {
		return fmt.Errorf("aggregate %q: precision %d is outside 4..18", s.name(), s.Precision)
	}
	return nil
}

func opList() string {
	names := make([]string, len(Ops))
	for i, o := range Ops {
		names[i] = string(o)
	}
	return strings.Join(names, ", ")
}

// Stats is the partial every count/sum/min/max/avg/variance/stddev of one field shares.
type Stats struct {
	Count int64
	Sum   float64
	Min   float64
	Max   float64
	// M2 is the sum of squared deviations from the mean (Welford), kept only when a variance or
	// stddev needs it.
	M2 float64
}

// Add folds in one value.
func (s *Stats) Add(v float64, withM2 bool) {
	if s.Count == 0 {
		s.Min, s.Max = v, v
	} else {
		if v < s.Min {
			s.Min = v
		}
		if v > s.Max {
			s.Max = v
		}
	}
	if withM2 {
		if s.Count > 0 {
			mean0 := s.Sum / float64(s.Count)
			mean1 := (s.Sum + v) / float64(s.Count+1)
			s.M2 += (v - mean0) * (v - mean1)
		}
	}
	s.Count++
	s.Sum += v
}

// Merge folds o into s (o holding later events than s, for order-sensitive callers). M2 is merged
// only when withM2 is set, since it costs two divisions.
func (s *Stats) Merge(o *Stats, withM2 bool) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 {
		*s = *o
		return
	}
	if o.Min < s.Min {
		s.Min = o.Min
	}
	if o.Max > s.Max {
		s.Max = o.Max
	}
	if withM2 {
		na, nb := float64(s.Count), float64(o.Count)
		delta := o.Sum/nb - s.Sum/na
		s.M2 += o.M2 + delta*delta*na*nb/(na+nb)
	}
	s.Count += o.Count
	s.Sum += o.Sum
}

// statOp is the Op of a Stats value as a small number, so reading a value (Plan.statValue) does not
// compare strings.
type statOp uint8

const (
	sCount statOp = iota
	sSum
	sMin
	sMax
	sAvg
	sVariance
	sStddev
)

// statOpOf returns op's statOp; op is one of the Stats ops.
func statOpOf(op Op) statOp {
	switch op {
	case Count:
		return sCount
	case Sum:
		return sSum
	case Min:
		return sMin
	case Max:
		return sMax
	case Avg:
		return sAvg
	case Variance:
		return sVariance
	}
	return sStddev
}
