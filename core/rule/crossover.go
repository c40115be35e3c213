package rule

import (
	"math"

	"github.com/eddyhq/eddy/core"
)

// The values crossover decisions add after the window's values.
const (
	ValueFast   = "crossover.fast"   // the fast average after the window
	ValueSlow   = "crossover.slow"   // the slow average after the window
	ValueSpread = "crossover.spread" // (fast − slow) / |slow|
)

// side is where a key's fast average is relative to its slow one.
type side uint8

const (
	// sideNone: not warmed up yet (as a side), or no crossing announced yet (as what was told).
	sideNone side = iota
	// sideBand: warmed up, but the averages have been within the band ever since.
	sideBand
	sideUp
	sideDown
)

// crPhase is a crossover's position for one key: the side the averages are on (kept while they are
// within the band) and the side the last decision announced.
type crPhase struct {
	side, told side
}

// emaAcc is an EMA crossover's running state: n counts the values seen (saturating past Slow), sum
// and comp add the first Slow of them (compensated) for the seeds, fast and slow are the averages
// once seeded.
type emaAcc struct {
	n          int64
	sum, comp  float64
	fast, slow float64
}

// crState is one crossover's state for one key.
type crState struct {
	// hist (sma) holds the values of the key's latest windows, oldest first, ending with the latest
	// window's value when latestHas; at most Slow values.
	hist []float64
	// before and cur (ema) are the accumulators before and after the latest window.
	before, cur emaAcc
	// pb and pc are the phases before and after the latest window.
	pb, pc crPhase
	// latestHas is set when the latest window had a usable value.
	latestHas bool
}

// crossover is a compiled Crossover.
type crossover struct {
	Crossover
	alphaFast, alphaSlow float64
}

func newCrossover(c Crossover) *crossover {
	if c.Average == "" {
		c.Average = SMA
	}
	return &crossover{Crossover: c, alphaFast: 2 / float64(c.Fast+1), alphaSlow: 2 / float64(c.Slow+1)}
}

// averages are the two moving averages after one window; ok is false while warming up or when the
// window lacks the value.
type averages struct {
	fast, slow float64
	ok         bool
}

// step advances s over value x (ok false when the window lacks it or it is not finite) and returns
// the averages. revision says the window is a revision of the key's latest one, which replaces that
// window's contribution.
func (c *crossover) step(s *crState, x float64, ok, revision bool) averages {
	had := s.latestHas
	s.latestHas = ok
	if c.Average == EMA {
		if !revision {
			s.before = s.cur
		}
		s.cur = s.before
		if !ok {
			return averages{}
		}
		s.cur = c.emaStep(s.cur, x)
		return averages{fast: s.cur.fast, slow: s.cur.slow, ok: s.cur.n >= int64(c.Slow)}
	}
	base := s.hist
	if revision {
		if had && len(base) > 0 {
			base = base[:len(base)-1]
		}
	} else if len(base) > c.Slow-1 {
		base = base[len(base)-(c.Slow-1):]
	}
	// Keep the history in place: base is a suffix of hist.
	n := copy(s.hist, base)
	s.hist = s.hist[:n]
	if !ok {
		return averages{}
	}
	if s.hist == nil {
		s.hist = make([]float64, 0, c.Slow)
	}
	s.hist = append(s.hist, x)
	if len(s.hist) < c.Slow {
		return averages{}
	}
	return averages{fast: mean(s.hist[len(s.hist)-c.Fast:]), slow: mean(s.hist), ok: true}
}

// emaStep adds x to a.
func (c *crossover) emaStep(a emaAcc, x float64) emaAcc {
	slow := int64(c.Slow)
	if a.n < slow {
		a.sum, a.comp = addComp(a.sum, a.comp, x)
	}
	a.n = min(a.n+1, slow+1)
	a.fast = emaNext(a.fast, x, a.n, a.sum, a.comp, int64(c.Fast), c.alphaFast)
	a.slow = emaNext(a.slow, x, a.n, a.sum, a.comp, slow, c.alphaSlow)
	if a.n == slow+1 {
		// Past the seeds, the sum is no longer needed: zero it so that equal states encode equally.
		a.sum, a.comp = 0, 0
	}
	return a
}

// emaNext is an EMA of length n after its k-th value x: undefined before the n-th, the mean of the
// first n (sum + comp) at the n-th, then prev + α(x − prev). That form keeps a flat series exactly
// flat; α = 1 (n = 1) is the value itself.
func emaNext(prev, x float64, k int64, sum, comp float64, n int64, alpha float64) float64 {
	switch {
	case k < n:
		return 0
	case k == n:
		return divComp(sum, comp, float64(n))
	case alpha == 1:
		return x
	}
	return prev + alpha*(x-prev)
}

// mean is the mean of vs: the sum is compensated (Neumaier) and divided as the pair it is, so
// that the mean is exact when the exact sum is representable (prices that are binary fractions,
// where it is also the naive sum/n), and a constant series averages to exactly that constant.
func mean(vs []float64) float64 {
	var sum, comp float64
	for _, v := range vs {
		sum, comp = addComp(sum, comp, v)
	}
	return divComp(sum, comp, float64(len(vs)))
}

// addComp adds v to the compensated sum (sum, comp), Neumaier's way.
func addComp(sum, comp, v float64) (float64, float64) {
	t := sum + v
	if math.Abs(sum) >= math.Abs(v) {
		comp += (sum - t) + v
	} else {
		comp += (v - t) + sum
	}
	return t, comp
}

// divComp is (sum + comp) / n, rounded once in practice: q = sum/n is corrected by the exact
// remainder of the division (an FMA) plus comp. Without compensation it is sum/n exactly.
func divComp(sum, comp, n float64) float64 {
	q := sum / n
	if comp == 0 || math.IsInf(q, 0) || math.IsNaN(q) {
		return q
	}
	r := math.FMA(-q, n, sum)
	return q + (r+comp)/n
}

// classify says on which side of the band the fast average is.
func (c *crossover) classify(a averages) side {
	d := a.fast - a.slow
	band := c.MinSpread * math.Abs(a.slow)
	switch {
	case d > band:
		return sideUp
	case d < -band:
		return sideDown
	}
	return sideBand
}

// advance is the phase after averages a, from phase p.
func (c *crossover) advance(p crPhase, a averages) crPhase {
	if !a.ok {
		return p
	}
	cls := c.classify(a)
	switch {
	case p.side == sideNone:
		// The first averages of a key: a trend already established is not a crossing.
		p.side = cls
	case cls == sideBand:
		// Within the band the key keeps its side: this is what stops flapping.
	default:
		if cls != p.side {
			p.told = cls
		}
		p.side = cls
	}
	return p
}

// decide applies the crossover to window result r, whose value of Of is x (ok false when missing).
func (c *crossover) decide(r *core.WindowResult, s *crState, x float64, ok, revision bool, emit Emit) {
	if !revision {
		s.pb = s.pc
	}
	a := c.step(s, x, ok, revision)
	told := s.pc.told // what the outside world was told so far
	next := c.advance(s.pb, a)
	if next.told == sideNone && told != sideNone {
		// A revision removed the only crossing announced for the key. It cannot be taken back:
		// announce the side the averages are on now if it is another, else let it stand.
		next.told = told
		if next.side == sideUp || next.side == sideDown {
			next.told = next.side
		}
	}
	s.pc = next
	if next.told != told {
		c.emit(r, next.told, a, emit)
	}
}

// emit emits the crossing to side to, caused by window result r with averages a.
func (c *crossover) emit(r *core.WindowResult, to side, a averages, emit Emit) {
	state := core.StateGolden
	if to == sideDown {
		state = core.StateDeath
	}
	d := newDecision(r.Function, c.Name, r.Key, core.Span{Start: r.Start, End: r.End}, state, string(state),
		r.Revision, c.Severity, r.Values, 3)
	if a.ok {
		// Without averages (a revision that removed the window's value announced a return to
		// the side before it) there is nothing to add.
		d.Values = append(d.Values,
			core.NamedValue{Name: ValueFast, Num: a.fast},
			core.NamedValue{Name: ValueSlow, Num: a.slow},
			core.NamedValue{Name: ValueSpread, Num: ratio(a.fast-a.slow, math.Abs(a.slow))})
	}
	emit(d)
}
