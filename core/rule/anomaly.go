package rule

import (
	"math"

	"github.com/eddyhq/eddy/core"
)

// Names of the values anomaly decisions add after the window's values. The dot keeps them apart
// from aggregate names, which are CEL identifiers.
const (
	ValueScore  = "anomaly.score"
	ValueMean   = "anomaly.mean"
	ValueStddev = "anomaly.stddev"
	ValueEWMA   = "anomaly.ewma"
	ValueEWMAD  = "anomaly.ewmad"
)

// ewmaState is an EWMA detector's running state: the average m, the average absolute deviation d
// and the number of values seen n.
type ewmaState struct {
	m, d float64
	n    int64
}

// anState is one detector's state for one key.
type anState struct {
	// hist (zscore) holds the values of the key's past windows, oldest first, ending with the
	// latest window's value when latestHas; at most Window+1 values.
	hist []float64
	// before and cur (ewma) are the state before and after the latest window.
	before, cur ewmaState
	// latestHas is set when the latest window had a usable value.
	latestHas bool
	// flagged is set once an anomaly was emitted for the latest window, so that its revisions do
	// not emit it again.
	flagged bool
}

// anomaly is a compiled Anomaly.
type anomaly struct {
	Anomaly
	warm int
}

// score is one evaluation's outcome.
type score struct {
	z, base1, base2 float64
	ok              bool // a score was computed (warm-up over, value present)
}

// step advances s over value x (ok false when the window lacks it or it is NaN). revision says
// the window is a revision of the key's latest one, which replaces that window's contribution.
func (a *anomaly) step(s *anState, x float64, ok, revision bool) score {
	if a.Method == EWMA {
		return a.stepEWMA(s, x, ok, revision)
	}
	base := s.hist
	if revision {
		if s.latestHas && len(base) > 0 {
			base = base[:len(base)-1]
		}
	} else if len(base) > a.Window {
		base = base[len(base)-a.Window:]
	}
	var sc score
	if ok && len(base) >= a.warm {
		mean, sd := meanStddev(base)
		sc = score{z: ratio(x-mean, sd), base1: mean, base2: sd, ok: true}
	}
	// Keep the history in place: base is a suffix of hist.
	n := copy(s.hist, base)
	s.hist = s.hist[:n]
	if ok {
		s.hist = append(s.hist, x)
	}
	s.latestHas = ok
	return sc
}

func (a *anomaly) stepEWMA(s *anState, x float64, ok, revision bool) score {
	if !revision {
		s.before = s.cur
	}
	st := s.before
	s.latestHas = ok
	if !ok {
		s.cur = st
		return score{}
	}
	if st.n == 0 {
		s.cur = ewmaState{m: x, n: 1}
		return score{}
	}
	e := x - st.m
	sc := score{z: ratio(e, st.d), base1: st.m, base2: st.d, ok: st.n >= int64(a.warm)}
	s.cur = ewmaState{
		m: st.m + a.Alpha*e,
		d: (1-a.Alpha)*st.d + a.Alpha*math.Abs(e),
		n: st.n + 1,
	}
	return sc
}

// flags says whether a score is an anomaly.
func (a *anomaly) flags(sc score) bool {
	if !sc.ok {
		return false
	}
	switch a.Direction {
	case Above:
		return sc.z >= a.Threshold
	case Below:
		return sc.z <= -a.Threshold
	}
	return math.Abs(sc.z) >= a.Threshold
}

// emit emits the anomaly decision for window result r.
func (a *anomaly) emit(r *core.WindowResult, sc score, emit Emit) {
	d := newDecision(r.Function, a.Name, r.Key, core.Span{Start: r.Start, End: r.End}, core.StateAnomaly,
		string(core.StateAnomaly), r.Revision, a.Severity, r.Values, 3)
	n1, n2 := ValueMean, ValueStddev
	if a.Method == EWMA {
		n1, n2 = ValueEWMA, ValueEWMAD
	}
	d.Values = append(d.Values,
		core.NamedValue{Name: ValueScore, Num: sc.z},
		core.NamedValue{Name: n1, Num: sc.base1},
		core.NamedValue{Name: n2, Num: sc.base2})
	emit(d)
}

// meanStddev is the mean and population standard deviation of vs, in two passes for accuracy.
func meanStddev(vs []float64) (mean, sd float64) {
	for _, v := range vs {
		mean += v
	}
	mean /= float64(len(vs))
	var ss float64
	for _, v := range vs {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(vs)))
}

// ratio is dev/spread, with a zero spread giving 0 for no deviation and ±Inf for any.
func ratio(dev, spread float64) float64 {
	if spread == 0 {
		switch {
		case dev > 0:
			return math.Inf(1)
		case dev < 0:
			return math.Inf(-1)
		}
		return 0
	}
	return dev / spread
}
