package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/internal/pipeline"
)

// A split replay runs one partition on n pipelines ("shares"), each owning the keys that hash to it,
// and writes their outputs in one order that does not depend on n. Per batch of records:
//
//  1. decode: the batch is cut into contiguous chunks, more than there are goroutines; each
//     chunk is decoded by whichever goroutine takes it, which notes for each record the greatest
//     event time of the chunk before it, and which share owns its key;
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
//
// The run of one batch and the decoding of the next are one phase of the work pool: the shares'
// runs are its first tasks, the next batch's chunks fill the gaps, so that both kinds of work keep
// every core busy until the phase ends (with one share, one core runs it while the others decode,
// as a decoder goroutine ahead of a pipeline would). The merge follows the phase.
type splitRun struct {
	c         *spec.Compiled
	partition string
	ooo       int64
	shares    []*share
	pool      *workPool
	// decs are the decoders, one per goroutine of the pool.
	decs []pipeline.Decoder

	// slots hold two batches: the one being run (slots[0]) and the next, being decoded; they swap
	// after each phase.
	slots [2]*batchSlot
	// end is the greatest event time of the batches run (math.MinInt64: none yet).
	end int64
	// set is the shares' outs the next run writes; pending, that the other holds a batch's outputs
	// not merged yet.
	set     int
	pending bool
	// mergeOuts is merge's to reuse.
	mergeOuts []*shareOut
	// trace, when set (BenchmarkReplayCores), runs each task of a phase, to time it on the
	// goroutine's thread: kind is "run", "decode", "merge" or "flush"; an "end" with f nil follows
	// each phase.
	trace func(kind string, g int, f func())
}

// batchSlot is a batch of records, decoded in chunks.
type batchSlot struct {
	recs []core.Record
	now  time.Time
	pos  int64 // position of the batch's first record in the whole input
	// base[c] is the greatest event time before chunk c (math.MinInt64: none yet); base[n] after
	// the batch.
	base   []int64
	chunks []*chunk
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

// share is one pipeline and its outputs.
type share struct {
	r    *splitRun
	idx  int
	p    *pipeline.Pipeline
	slot *batchSlot // the batch being run
	// outs are the outputs of two batches: the one being run, into out, and the one before,
	// being merged.
	outs [2]shareOut
	out  *shareOut
	// spare and spans are sortUnits' to reuse.
	spare []byte
	spans []span
	// adv is the greatest event time run passed to AdvanceTo (math.MinInt64: none).
	adv int64
	// stepX and stepAt are stepOf's last question and answer in this batch (stepX 0: none): a
	// firing's windows all end at the same time.
	stepX, stepAt int64
	// step is the position of the record being added (StageAdd outputs belong to it); flushing
	// puts every output at the end.
	step     int64
	flushing bool
	ctx      context.Context
	emitFn   func(core.Output)
}

// shareOut is what a share's pipeline emitted for a batch (or a round of the flush).
type shareOut struct {
	res   core.Result
	err   error
	buf   []byte
	units []unit
	fails []posFailure
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

// chunksPerGoroutine is how many chunks a batch is decoded in, per goroutine of the pool: enough
// that a goroutine held back for a while leaves its chunks to the others.
const chunksPerGoroutine = 4

func newSplitRun(c *spec.Compiled, n int, partition string, pool *workPool) (*splitRun, error) {
	r := &splitRun{c: c, partition: partition, pool: pool, end: math.MinInt64}
	nc := chunksPerGoroutine * pool.size()
	for i := range r.slots {
		sl := &batchSlot{base: make([]int64, nc+1)}
		for range nc {
			sl.chunks = append(sl.chunks, &chunk{owned: make([]bucket, n)})
		}
		r.slots[i] = sl
	}
	for i := range n {
		p, err := c.NewPipeline()
		if err != nil {
			return nil, err
		}
		s := &share{r: r, idx: i, p: p, adv: math.MinInt64}
		s.out = &s.outs[0]
		s.emitFn = s.emit
		r.shares = append(r.shares, s)
		r.ooo = int64(p.OutOfOrder())
	}
	for range pool.size() {
		dec, err := r.shares[0].p.NewDecoder()
		if err != nil {
			return nil, err
		}
		r.decs = append(r.decs, dec)
	}
	return r, nil
}

// stateSize sums the state of the run's pipelines: keys, estimated bytes, and the largest key's.
// It walks every key, so replay samples it (see stateSampleEvery).
func (r *splitRun) stateSize() (keys, bytes, maxKey int) {
	for _, sh := range r.shares {
		k, b, m := sh.p.StateSize()
		keys, bytes, maxKey = keys+k, bytes+b, max(maxKey, m)
	}
	return keys, bytes, maxKey
}

// shareOf picks the share of a key.
func shareOf(key string, n int) int {
	if n == 1 {
		return 0
	}
	// A multiply-xorshift hash a word at a time, and the share by multiplying rather than by a
	// remainder: FNV-1a byte by byte and a division cost 15 ns of the 120 a W1 record's decoding
	// takes. The share only spreads the keys (the output is the same for any split), but it is the
	// same on every run, so that a replay's speed is too.
	const m = 0x9e3779b97f4a7c15
	kl := len(key)
	h := uint64(kl) * m
	if kl >= 8 {
		for i := 0; i+8 < kl; i += 8 {
			h = (h ^ le64(key[i:])) * m
			h ^= h >> 29
		}
		// The last word overlaps the one before rather than going byte by byte.
		h = (h ^ le64(key[kl-8:])) * m
	} else {
		var w uint64
		for i := kl - 1; i >= 0; i-- {
			w = w<<8 | uint64(key[i])
		}
		h = (h ^ w) * m
	}
	h ^= h >> 32
	return int(uint64(uint32(h)) * uint64(n) >> 32)
}

// le64 reads the first 8 bytes of s as a little-endian word.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// start decodes the first batch.
func (r *splitRun) start(recs []core.Record, now time.Time) {
	next := r.slots[1]
	r.prepare(next, recs, now, 0)
	r.phase(len(next.chunks), func(g, i int) (string, func()) {
		return "decode", func() { r.decodeChunk(r.decs[g], next, next.chunks[i]) }
	})
	r.chain(next, r.end)
	r.slots[0], r.slots[1] = r.slots[1], r.slots[0]
}

// batch runs the batch decoded last (start or batch), merges the outputs of the batch run before
// it to w, and decodes the next one (recs: none at the end), all at the same time. It returns the
// counts and failures of the batch merged (none the first time; drain merges the last batch).
func (r *splitRun) batch(ctx context.Context, recs []core.Record, now time.Time, w *bufio.Writer) (core.Stats, []posFailure, error) {
	run, next := r.slots[0], r.slots[1]
	r.prepare(next, recs, now, run.pos+int64(len(run.recs)))
	ns, nm, nc := len(r.shares), 0, 0
	if r.pending {
		nm = 1
	}
	if len(recs) > 0 {
		nc = len(next.chunks)
	}
	set := r.set
	var st core.Stats
	var fails []posFailure
	var err error
	// The shares' runs first, being the longest tasks; then the merge, which one goroutine does
	// while the others decode.
	r.phase(ns+nm+nc, func(g, i int) (string, func()) {
		switch {
		case i < ns:
			return "run", func() { r.shares[i].run(ctx, run, set) }
		case i < ns+nm:
			return "merge", func() { st, fails, err = r.merge(ctx, w, allStages, set^1) }
		}
		return "decode", func() { r.decodeChunk(r.decs[g], next, next.chunks[i-ns-nm]) }
	})
	r.end = run.base[len(run.chunks)]
	r.chain(next, r.end)
	r.slots[0], r.slots[1] = r.slots[1], r.slots[0]
	r.pending, r.set = true, set^1
	if err != nil {
		return st, nil, err
	}
	for _, s := range r.shares {
		if err := s.outs[set].err; err != nil {
			return st, nil, err
		}
	}
	return st, fails, nil
}

// drain merges the outputs of the last batch run to w and returns its counts and failures.
func (r *splitRun) drain(ctx context.Context, w *bufio.Writer) (st core.Stats, fails []posFailure, err error) {
	if !r.pending {
		return st, nil, nil
	}
	r.pending = false
	r.phase(1, func(int, int) (string, func()) {
		return "merge", func() { st, fails, err = r.merge(ctx, w, allStages, r.set^1) }
	})
	return st, fails, err
}

// phase runs n tasks on the pool; task(g, i) says what the i-th is (its kind, for r.trace) and
// returns it.
func (r *splitRun) phase(n int, task func(g, i int) (string, func())) {
	if r.trace == nil {
		r.pool.do(n, func(g, i int) {
			_, f := task(g, i)
			f()
		})
		return
	}
	r.pool.do(n, func(g, i int) {
		kind, f := task(g, i)
		r.trace(kind, g, f)
	})
	r.trace("end", 0, nil)
}

// prepare sets a slot for a batch: its records cut into chunks.
func (r *splitRun) prepare(sl *batchSlot, recs []core.Record, now time.Time, pos int64) {
	sl.recs, sl.now, sl.pos = recs, now, pos
	n := len(sl.chunks)
	for ci, ch := range sl.chunks {
		ch.lo, ch.hi = len(recs)*ci/n, len(recs)*(ci+1)/n
	}
}

// chain sets the slot's greatest event times before each chunk, from the greatest before the batch.
func (r *splitRun) chain(sl *batchSlot, before int64) {
	sl.base[0] = before
	for ci, ch := range sl.chunks {
		if len(sl.recs) == 0 {
			sl.base[ci+1] = before
			continue
		}
		sl.base[ci+1] = max(sl.base[ci], ch.max)
	}
}

func (r *splitRun) decodeChunk(d pipeline.Decoder, sl *batchSlot, ch *chunk) {
	n := len(r.shares)
	for s := range ch.owned {
		b := &ch.owned[s]
		b.idx, b.before = b.idx[:0], b.before[:0]
	}
	ch.rises = ch.rises[:0]
	if m := ch.hi - ch.lo; len(ch.all) < m {
		ch.all = append(ch.all, make([]pipeline.Decoded, m-len(ch.all))...)
	}
	recs, now := sl.recs, sl.now
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
				ch.rises = append(ch.rises, rise{pos: sl.pos + int64(i), ts: t})
			}
		}
	}
	ch.max = mx
}

// run adds the share's records of the batch, each after moving the watermark to where the whole
// partition's was, and at the end to where the batch leaves it.
func (s *share) run(ctx context.Context, sl *batchSlot, set int) {
	s.ctx = ctx
	s.slot = sl
	s.out = &s.outs[set]
	s.stepX = 0
	s.out.buf, s.out.units, s.out.fails = s.out.buf[:0], s.out.units[:0], s.out.fails[:0]
	s.out.res = core.Result{Failures: s.out.res.Failures[:0]}
	me := s.idx
	recs := sl.recs
	for ci, ch := range sl.chunks {
		base := sl.base[ci]
		b := &ch.owned[me]
		for k, i := range b.idx {
			if k&1023 == 0 && ctx.Err() != nil {
				s.out.err = ctx.Err()
				return
			}
			// Most records leave the greatest event time where it was: no call then (AdvanceTo
			// would return at once; only AdvanceTo moves the pipeline's greatest event time).
			if before := max(base, b.before[k]); before > s.adv {
				s.adv = before
				if s.out.err = s.p.AdvanceTo(ctx, &s.out.res, before, s.emitFn); s.out.err != nil {
					return
				}
			}
			s.step = sl.pos + int64(i)
			nf := len(s.out.res.Failures)
			if s.out.err = s.p.AddShared(ctx, &s.out.res, &recs[i], &ch.all[int(i)-ch.lo], s.emitFn); s.out.err != nil {
				return
			}
			for _, f := range s.out.res.Failures[nf:] {
				// The failures are merged (and dead-lettered) while the input buffer their data
				// points into is read over.
				f.Record.Data = bytes.Clone(f.Record.Data)
				s.out.fails = append(s.out.fails, posFailure{pos: s.step, f: f})
			}
		}
	}
	if end := sl.base[len(sl.chunks)]; end != math.MinInt64 {
		s.out.err = s.p.AdvanceTo(ctx, &s.out.res, end, s.emitFn)
	}
}

// flush ends the stream for the share. Its buffer may hold pattern decisions of the flush's
// earlier rounds (see splitRun.flush): they stay.
func (s *share) flush(ctx context.Context) {
	s.ctx = ctx
	s.out = &s.outs[s.r.set]
	s.out.fails = s.out.fails[:0]
	s.flushing = true
	var res core.Result
	res, s.out.err = s.p.Flush(ctx, s.emitFn)
	s.out.res = res
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
		if k := len(s.out.units) - 1; k >= 0 && s.out.units[k].stage == pipeline.StageAdd && s.out.units[k].step == s.step && !s.flushing {
			s.write(o)
			s.out.units[k].end = len(s.out.buf)
			return
		}
		u = unit{step: s.step, stage: stage}
	case stage == pipeline.StageWindows:
		wr, ok := o.(*core.WindowResult)
		if !ok {
			// A decision drawn from the window result just before: it stays with it.
			s.write(o)
			if k := len(s.out.units) - 1; k >= 0 {
				s.out.units[k].end = len(s.out.buf)
			}
			return
		}
		t := wr.End.UnixNano()
		u = unit{step: s.stepOf(t), stage: stage, t: t, key: wr.Key}
	default:
		d, ok := o.(*core.Decision)
		key, t := "", int64(0)
		if ok {
			key, t = d.Key, d.Time.UnixNano()
		}
		// A matcher releases an event when the watermark is past it: strictly.
		u = unit{step: s.stepOf(t + 1), stage: stage, t: t, key: key}
	}
	s.write(o)
	u.end = len(s.out.buf)
	s.out.units = append(s.out.units, u)
}

func (s *share) write(o core.Output) {
	if b, ok := s.r.c.AppendOutput(s.out.buf, o); ok {
		s.out.buf = append(b, '\n')
	}
}

// stepOf returns the step at which the watermark reached t: the position of the first record of
// the batch being run that raised the greatest event time to t + the out-of-orderness.
func (s *share) stepOf(t int64) int64 {
	if s.flushing {
		return math.MaxInt64
	}
	sl := s.slot
	x := t + s.r.ooo
	if x == s.stepX && x != 0 {
		return s.stepAt
	}
	s.stepX, s.stepAt = x, s.stepIn(sl, x)
	return s.stepAt
}

// stepIn is stepOf's search of the batch.
func (s *share) stepIn(sl *batchSlot, x int64) int64 {
	for ci, ch := range sl.chunks {
		if sl.base[ci+1] < x {
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
	// Not reached: a window fires only once the watermark passed it. Put it before the batch.
	return sl.pos - 1
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
	s.out = &s.outs[s.r.set]
	s.out.fails = s.out.fails[:0]
	s.out.res = core.Result{Failures: s.out.res.Failures[:0]}
	s.flushing = true
	s.out.err = s.p.AdvanceTo(ctx, &s.out.res, at, s.emitFn)
	s.flushing = false
}

// allStages merges every unit.
const allStages = math.MaxInt

// merge writes the shares' outputs in outs[set] (a batch's, or the flush's) in one order, and
// returns their counts and failures, failures in input order. Only units of stages up to maxStage
// are written; the others stay in the shares' buffers, in order, for a later merge.
func (r *splitRun) merge(ctx context.Context, w *bufio.Writer, maxStage, set int) (core.Stats, []posFailure, error) {
	var st core.Stats
	var fails []posFailure
	outs := r.mergeOuts[:0]
	for _, s := range r.shares {
		o := &s.outs[set]
		if o.err != nil {
			return st, nil, o.err
		}
		st.Add(o.res.Stats)
		fails = append(fails, o.fails...)
		// A share's own units come in order but for two things: a lazy AdvanceTo files window
		// results of later steps before pattern decisions of earlier ones, and a matcher orders
		// equal event times by arrival, not key. A stable sort restores the merge order.
		if !slices.IsSortedFunc(o.units, func(a, b unit) int { return a.cmp(&b) }) {
			sortUnits(s, o)
		}
		outs = append(outs, o)
	}
	r.mergeOuts = outs
	if len(fails) > 1 {
		slices.SortStableFunc(fails, func(a, b posFailure) int { return cmpI64(a.pos, b.pos) })
	}
	heads := make([]int, len(outs))
	starts := make([]int, len(outs))
	for k := 0; ; k++ {
		if k&255 == 0 && ctx.Err() != nil {
			return st, nil, ctx.Err()
		}
		best := -1
		for i, o := range outs {
			if heads[i] == len(o.units) || o.units[heads[i]].stage > maxStage {
				continue
			}
			if best < 0 || o.units[heads[i]].cmp(&outs[best].units[heads[best]]) < 0 {
				best = i
			}
		}
		if best < 0 {
			break
		}
		o := outs[best]
		u := &o.units[heads[best]]
		if _, err := w.Write(o.buf[starts[best]:u.end]); err != nil {
			return st, nil, fmt.Errorf("write output: %w", err)
		}
		starts[best] = u.end
		heads[best]++
	}
	for i, o := range outs {
		// Keep what was not written, at the front.
		rest := o.units[heads[i]:]
		for k := range rest {
			rest[k].end -= starts[i]
		}
		o.units = o.units[:copy(o.units, rest)]
		o.buf = o.buf[:copy(o.buf, o.buf[starts[i]:])]
	}
	return st, fails, nil
}

// sortUnits sorts a share's units in o stably, moving their bytes along. The sorted bytes go to
// the share's spare buffer, which then swaps with o's: W2's shares sort every batch (a firing
// emits a key's windows together, the merge wants them by end time first), and a new buffer
// each time was most of what a W2 replay allocated (460 MB per million events).
func sortUnits(s *share, o *shareOut) {
	s.spans = s.spans[:0]
	start := 0
	for _, u := range o.units {
		s.spans = append(s.spans, span{u, start})
		start = u.end
	}
	slices.SortStableFunc(s.spans, func(a, b span) int { return a.u.cmp(&b.u) })
	buf := s.spare[:0]
	for i, sp := range s.spans {
		buf = append(buf, o.buf[sp.start:sp.u.end]...)
		o.units[i] = sp.u
		o.units[i].end = len(buf)
	}
	o.buf, s.spare = buf, o.buf
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

// parallel runs f on every share, on the pool's goroutines.
func (r *splitRun) parallel(f func(s *share)) {
	r.phase(len(r.shares), func(_, i int) (string, func()) {
		return "flush", func() { f(r.shares[i]) }
	})
}

// mergeFlush is merge for the flush, on its own.
func (r *splitRun) mergeFlush(ctx context.Context, w *bufio.Writer, maxStage int) (st core.Stats, err error) {
	r.phase(1, func(int, int) (string, func()) {
		return "merge", func() { st, _, err = r.merge(ctx, w, maxStage, r.set) }
	})
	return st, err
}

// flush ends the stream on every share and writes the merged outputs.
func (r *splitRun) flush(ctx context.Context, w *bufio.Writer) (core.Stats, error) {
	var st core.Stats
	if end := r.end; end != math.MinInt64 {
		step := int64(time.Second)
		for at := end; at-end < flushHorizon && ctx.Err() == nil; {
			at += step
			r.parallel(func(s *share) { s.advanceFlush(ctx, at) })
			size := 0
			for _, s := range r.shares {
				size += len(s.outs[r.set].buf)
			}
			rst, err := r.mergeFlush(ctx, w, pipeline.StageWindows)
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
	fst, err := r.mergeFlush(ctx, w, allStages)
	st.Add(fst)
	if err == nil {
		err = ctx.Err()
	}
	return st, err
}
