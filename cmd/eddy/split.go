package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/internal/pipeline"
)

// A split replay runs one partition on n pipelines ("shares"), each owning the keys that hash to it,
// and writes their outputs in one order that does not depend on n. Per batch of records:
//
//  1. decode: share i decodes the i-th contiguous chunk of the batch, and notes for each record
//     the greatest event time of the chunk before it, and which share owns its key;
//  2. run: chaining the chunks' greatest event times gives, for every record, the greatest event
//     time of the whole partition before it. Each share runs its records in order, first moving
//     its watermark to that time (pipeline.AdvanceTo), so that its windows fire and its late
//     events are judged exactly as in a single pipeline;
//  3. merge: every output belongs to a step, the position of the record after which the single
//     pipeline would have emitted it. A window that fires when the watermark passes its end belongs
//     to the first record that raised the partition's greatest event time past end + the
//     out-of-orderness, wherever its own share happened to fire it. Outputs are merged by
//     (step, stage, time, key): within a step a single pipeline emits what adding the record
//     caused (late events, re-emitted windows; one share only), then the windows that fire, by
//     end time then key (with the decisions drawn from each), then each pattern's decisions. The
//     one place where this order is chosen rather than copied: pattern decisions released at the
//     same step at the same event time for different keys go by key (a single matcher orders them
//     by arrival), so that the order is the same for any number of shares, one included.
type splitRun struct {
	c         *spec.Compiled
	partition string
	ooo       int64
	shares    []*share

	// base[c] is the greatest event time before chunk c (math.MinInt64: none yet); base[n] after
	// the batch, carried into the next one.
	base   []int64
	chunks []*chunk
	pos    int64 // position of the batch's first record in the whole input
}

// chunk is what decoding one contiguous part of a batch found.
type chunk struct {
	lo, hi int
	// all are the chunk's records decoded, in place: each slot keeps its event's field storage
	// from batch to batch, so decoding copies nothing.
	all []pipeline.Decoded
	// owned[s] are the chunk's records owned by share s, in order: laid out one after
	// another, so that the share reads them from memory in order rather than scattered over the
	// batch (which, measured, cost a cache miss or two per record).
	owned []bucket
	// rises are the records that raised the chunk's greatest event time: where the watermark moves.
	rises []rise
	max   int64
}

// bucket is one share's records of a chunk.
type bucket struct {
	idx []int32 // index in the batch
	// before[k] is the greatest event time of the chunk's records before idx[k] (math.MinInt64:
	// none).
	before []int64
}

type rise struct {
	pos int64 // position in the whole input
	ts  int64
}

// share is one pipeline and its outputs for the batch being run.
type share struct {
	r   *splitRun
	idx int
	p   *pipeline.Pipeline
	dec pipeline.Decoder
	res core.Result
	err error

	buf   []byte
	units []unit
	// spare and spans are sortUnits' to reuse.
	spare []byte
	spans []span
	fails []posFailure
	// step is the position of the record being added (StageAdd outputs belong to it); flushing
	// puts every output at the end.
	step     int64
	flushing bool
	ctx      context.Context
	emitFn   func(core.Output)
}

// unit is a run of a share's output bytes that stays together in the merge: a record's additions,
// a window result with its decisions, a pattern decision.
type unit struct {
	step  int64
	stage int
	t     int64
	key   string
	end   int // end of its bytes in share.buf
}

type posFailure struct {
	pos int64
	f   *core.Failure
}

func newSplitRun(c *spec.Compiled, n int, partition string) (*splitRun, error) {
	r := &splitRun{c: c, partition: partition, base: make([]int64, n+1), chunks: make([]*chunk, n)}
	for i := range r.base {
		r.base[i] = math.MinInt64
	}
	for i := range n {
		p, err := c.NewPipeline()
		if err != nil {
			return nil, err
		}
		dec, err := p.NewDecoder()
		if err != nil {
			return nil, err
		}
		s := &share{r: r, idx: i, p: p, dec: dec}
		s.emitFn = s.emit
		r.shares = append(r.shares, s)
		r.chunks[i] = &chunk{owned: make([]bucket, n)}
		r.ooo = int64(p.OutOfOrder())
	}
	return r, nil
}

// shareOf picks the share of a key: FNV-1a, the same on every run.
// stateSize sums the state of the run's pipelines: keys, estimated bytes, and the largest key's.
// It walks every key, so replay samples it (see stateSampleEvery).
func (r *splitRun) stateSize() (keys, bytes, maxKey int) {
	for _, sh := range r.shares {
		k, b, m := sh.p.StateSize()
		keys, bytes, maxKey = keys+k, bytes+b, max(maxKey, m)
	}
	return keys, bytes, maxKey
}

func shareOf(key string, n int) int {
	if n == 1 {
		return 0
	}
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// batch runs one batch of records through the shares and writes the merged outputs to w.
func (r *splitRun) batch(ctx context.Context, recs []core.Record, now time.Time, w *bufio.Writer) (core.Stats, []posFailure, error) {
	n := len(r.shares)
	var wg sync.WaitGroup
	for ci, ch := range r.chunks {
		ch.lo, ch.hi = len(recs)*ci/n, len(recs)*(ci+1)/n
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.decodeChunk(r.shares[ci].dec, ch, recs, now)
		}()
	}
	wg.Wait()
	r.base[0] = r.base[n]
	for ci, ch := range r.chunks {
		r.base[ci+1] = max(r.base[ci], ch.max)
	}
	for _, s := range r.shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, recs)
		}()
	}
	wg.Wait()
	r.pos += int64(len(recs))
	return r.merge(ctx, w, allStages)
}

func (r *splitRun) decodeChunk(d pipeline.Decoder, ch *chunk, recs []core.Record, now time.Time) {
	n := len(r.shares)
	for s := range ch.owned {
		b := &ch.owned[s]
		b.idx, b.before = b.idx[:0], b.before[:0]
	}
	ch.rises = ch.rises[:0]
	if m := ch.hi - ch.lo; len(ch.all) < m {
		ch.all = append(ch.all, make([]pipeline.Decoded, m-len(ch.all))...)
	}
	mx := int64(math.MinInt64)
	for i := ch.lo; i < ch.hi; i++ {
		dec := &ch.all[i-ch.lo]
		dec.Err = d.Decode(r.partition, &recs[i], now, &dec.Event)
		s := 0
		if dec.Err == nil {
			s = shareOf(dec.Event.Key, n)
		}
		b := &ch.owned[s]
		b.idx = append(b.idx, int32(i))
		b.before = append(b.before, mx)
		if dec.Err == nil {
			if t := dec.Event.Time.UnixNano(); t > mx {
				mx = t
				ch.rises = append(ch.rises, rise{pos: r.pos + int64(i), ts: t})
			}
		}
	}
	ch.max = mx
}

// run adds the share's records of the batch, each after moving the watermark to where the whole
// partition's was, and at the end to where the batch leaves it.
func (s *share) run(ctx context.Context, recs []core.Record) {
	r := s.r
	s.ctx = ctx
	s.buf, s.units, s.fails = s.buf[:0], s.units[:0], s.fails[:0]
	s.res = core.Result{Failures: s.res.Failures[:0]}
	me := s.idx
	for ci, ch := range r.chunks {
		base := r.base[ci]
		b := &ch.owned[me]
		for k, i := range b.idx {
			if k&1023 == 0 && ctx.Err() != nil {
				s.err = ctx.Err()
				return
			}
			if before := max(base, b.before[k]); before != math.MinInt64 {
				if s.err = s.p.AdvanceTo(ctx, &s.res, before, s.emitFn); s.err != nil {
					return
				}
			}
			s.step = r.pos + int64(i)
			nf := len(s.res.Failures)
			if s.err = s.p.AddShared(ctx, &s.res, &recs[i], &ch.all[int(i)-ch.lo], s.emitFn); s.err != nil {
				return
			}
			for _, f := range s.res.Failures[nf:] {
				s.fails = append(s.fails, posFailure{pos: s.step, f: f})
			}
		}
	}
	if end := r.base[len(r.chunks)]; end != math.MinInt64 {
		s.err = s.p.AdvanceTo(ctx, &s.res, end, s.emitFn)
	}
}

// flush ends the stream for the share. Its buffer may hold pattern decisions of the flush's
// earlier rounds (see splitRun.flush): they stay.
func (s *share) flush(ctx context.Context) {
	s.ctx = ctx
	s.fails = s.fails[:0]
	s.flushing = true
	var res core.Result
	res, s.err = s.p.Flush(ctx, s.emitFn)
	s.res = res
	s.flushing = false
}

// emit writes an output into the share's buffer and files it in a unit for the merge.
func (s *share) emit(o core.Output) {
	if s.ctx.Err() != nil {
		return // interrupted: the rest is not written, so skip the work
	}
	stage := s.p.Stage()
	var u unit
	switch {
	case stage == pipeline.StageAdd:
		if k := len(s.units) - 1; k >= 0 && s.units[k].stage == pipeline.StageAdd && s.units[k].step == s.step && !s.flushing {
			s.write(o)
			s.units[k].end = len(s.buf)
			return
		}
		u = unit{step: s.step, stage: stage}
	case stage == pipeline.StageWindows:
		wr, ok := o.(*core.WindowResult)
		if !ok {
			// A decision drawn from the window result just before: it stays with it.
			s.write(o)
			if k := len(s.units) - 1; k >= 0 {
				s.units[k].end = len(s.buf)
			}
			return
		}
		t := wr.End.UnixNano()
		u = unit{step: s.r.stepOf(t, s.flushing), stage: stage, t: t, key: wr.Key}
	default:
		d, ok := o.(*core.Decision)
		key, t := "", int64(0)
		if ok {
			key, t = d.Key, d.Time.UnixNano()
		}
		// A matcher releases an event when the watermark is past it: strictly.
		u = unit{step: s.r.stepOf(t+1, s.flushing), stage: stage, t: t, key: key}
	}
	s.write(o)
	u.end = len(s.buf)
	s.units = append(s.units, u)
}

func (s *share) write(o core.Output) {
	if b, ok := s.r.c.AppendOutput(s.buf, o); ok {
		s.buf = append(b, '\n')
	}
}

// stepOf returns the step at which the watermark reached t: the position of the first record of
// the batch that raised the greatest event time to t + the out-of-orderness.
func (r *splitRun) stepOf(t int64, flushing bool) int64 {
	if flushing {
		return math.MaxInt64
	}
	x := t + r.ooo
	for ci, ch := range r.chunks {
		if r.base[ci+1] < x {
			continue
		}
		i, _ := slices.BinarySearchFunc(ch.rises, x, func(e rise, x int64) int {
			switch {
			case e.ts < x:
				return -1
			case e.ts > x:
				return 1
			}
			return 0
		})
		if i < len(ch.rises) {
			return ch.rises[i].pos
		}
	}
	// Not reached: a window fires only once the watermark passed it. Put it at the batch's end.
	return r.pos - 1
}

func (a *unit) cmp(b *unit) int {
	switch {
	case a.step != b.step:
		return cmpI64(a.step, b.step)
	case a.stage != b.stage:
		return a.stage - b.stage
	case a.t != b.t:
		return cmpI64(a.t, b.t)
	}
	return strings.Compare(a.key, b.key)
}

func cmpI64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// advanceFlush is a round of the flush: the watermark moves to where a greatest event time of at
// puts it, and what that fires is emitted as flushed.
func (s *share) advanceFlush(ctx context.Context, at int64) {
	s.ctx = ctx
	s.fails = s.fails[:0]
	s.res = core.Result{Failures: s.res.Failures[:0]}
	s.flushing = true
	s.err = s.p.AdvanceTo(ctx, &s.res, at, s.emitFn)
	s.flushing = false
}

// allStages merges every unit.
const allStages = math.MaxInt

// merge writes the shares' outputs of the batch (or the flush) in one order, and returns their
// counts and failures, failures in input order. Only units of stages up to maxStage are written;
// the others stay in the shares' buffers, in order, for a later merge.
func (r *splitRun) merge(ctx context.Context, w *bufio.Writer, maxStage int) (core.Stats, []posFailure, error) {
	var st core.Stats
	var fails []posFailure
	for _, s := range r.shares {
		if s.err != nil {
			return st, nil, s.err
		}
		st.Add(s.res.Stats)
		fails = append(fails, s.fails...)
		// A share's own units come in order but for two things: a lazy AdvanceTo files window
		// results of later steps before pattern decisions of earlier ones, and a matcher orders
		// equal event times by arrival, not key. A stable sort restores the merge order.
		if !slices.IsSortedFunc(s.units, func(a, b unit) int { return a.cmp(&b) }) {
			sortUnits(s)
		}
	}
	if len(fails) > 1 {
		slices.SortStableFunc(fails, func(a, b posFailure) int { return cmpI64(a.pos, b.pos) })
	}
	heads := make([]int, len(r.shares))
	starts := make([]int, len(r.shares))
	for k := 0; ; k++ {
		if k&255 == 0 && ctx.Err() != nil {
			return st, nil, ctx.Err()
		}
		best := -1
		for i, s := range r.shares {
			if heads[i] == len(s.units) || s.units[heads[i]].stage > maxStage {
				continue
			}
			if best < 0 || s.units[heads[i]].cmp(&r.shares[best].units[heads[best]]) < 0 {
				best = i
			}
		}
		if best < 0 {
			break
		}
		s := r.shares[best]
		u := &s.units[heads[best]]
		if _, err := w.Write(s.buf[starts[best]:u.end]); err != nil {
			return st, nil, fmt.Errorf("write output: %w", err)
		}
		starts[best] = u.end
		heads[best]++
	}
	for i, s := range r.shares {
		// Keep what was not written, at the front.
		rest := s.units[heads[i]:]
		for k := range rest {
			rest[k].end -= starts[i]
		}
		s.units = s.units[:copy(s.units, rest)]
		s.buf = s.buf[:copy(s.buf, s.buf[starts[i]:])]
	}
	return st, fails, nil
}

// sortUnits sorts a share's units stably, moving their bytes along. The sorted bytes go to the
// share's spare buffer, which then swaps with its buffer: W2's shares sort every batch (a firing
// emits a key's windows together, the merge wants them by end time first), and a new buffer
// each time was most of what a W2 replay allocated (460 MB per million events).
func sortUnits(s *share) {
	s.spans = s.spans[:0]
	start := 0
	for _, u := range s.units {
		s.spans = append(s.spans, span{u, start})
		start = u.end
	}
	slices.SortStableFunc(s.spans, func(a, b span) int { return a.u.cmp(&b.u) })
	buf := s.spare[:0]
	for i, sp := range s.spans {
		buf = append(buf, s.buf[sp.start:sp.u.end]...)
		s.units[i] = sp.u
		s.units[i].end = len(buf)
	}
	s.buf, s.spare = buf, s.buf
}

// span is a unit and where its bytes start.
type span struct {
	u     unit
	start int
}

// Flushing in rounds: ending the stream fires every window still open at once (W2: 300 per key,
// 300,000 results for 1,000 keys), which the shares would hold in their buffers until the merge,
// a hundred megabytes. Instead the watermark goes up in rounds, each firing about flushRound
// bytes of results, merged before the next (the step between rounds halves or doubles to keep
// them so); pattern decisions wait in the buffers for the end, where their stage puts them.
// Rounds stop flushHorizon of event time after the input's end, and the final Flush fires what
// is left (windows longer than that).
const (
	flushRound   = 4 << 20
	flushHorizon = int64(7 * 24 * time.Hour)
)

// parallel runs f on every share at once.
func (r *splitRun) parallel(f func(s *share)) {
	var wg sync.WaitGroup
	for _, s := range r.shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(s)
		}()
	}
	wg.Wait()
}

// flush ends the stream on every share and writes the merged outputs.
func (r *splitRun) flush(ctx context.Context, w *bufio.Writer) (core.Stats, error) {
	var st core.Stats
	if end := r.base[len(r.chunks)]; end != math.MinInt64 {
		step := int64(time.Second)
		for at := end; at-end < flushHorizon && ctx.Err() == nil; {
			at += step
			r.parallel(func(s *share) { s.advanceFlush(ctx, at) })
			size := 0
			for _, s := range r.shares {
				size += len(s.buf)
			}
			rst, _, err := r.merge(ctx, w, pipeline.StageWindows)
			if err != nil {
				return st, err
			}
			st.Add(rst)
			switch {
			case size > flushRound && step > 1:
				step /= 2
			case size < flushRound/4:
				step *= 2
			}
		}
	}
	r.parallel(func(s *share) { s.flush(ctx) })
	fst, _, err := r.merge(ctx, w, allStages)
	st.Add(fst)
	if err == nil {
		err = ctx.Err()
	}
	return st, err
}
