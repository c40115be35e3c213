package main

import (
	"runtime"
	"sync/atomic"
)

// workPool runs the tasks of a replay's phases on a fixed set of goroutines: the caller's and
// g-1 helpers that live as long as the pool. Each goroutine takes the next task not yet taken, so
// a goroutine that the scheduler holds back (the reader took its core, the collector ran) leaves
// its share of the tasks to the others rather than keeping them waiting at the end of the phase.
//
// A replay runs a phase every few hundred microseconds, with a few microseconds between them. A
// helper blocked on a channel would take a thread's wake-up (tens of microseconds on a busy
// machine) to start each phase, while the caller worked alone: so helpers, and the caller at the
// end of a phase, first wait spinning (yielding to other goroutines) for up to spinWait rounds,
// and only then block.
type workPool struct {
	helpers []*helper
	// gen counts the phases started; left, the helpers still working on the current one.
	gen  atomic.Uint64
	left atomic.Int32
	// done gets a token when the last helper finishes a phase and the caller has blocked: waiting
	// is then the phase's number (0: the caller is not blocked).
	done    chan struct{}
	waiting atomic.Uint64
	closed  atomic.Bool

	next atomic.Int64
	n    int
	f    func(g, i int)
}

type helper struct {
	wake   chan struct{} // a token when parked and a phase starts (or the pool closes)
	parked atomic.Bool
}

// spinWait is how many times a goroutine yields while waiting for a phase to start or end before
// it blocks: some tens of microseconds.
const spinWait = 200

// newWorkPool starts a pool of g goroutines (the caller's included); close stops them.
func newWorkPool(g int) *workPool {
	p := &workPool{done: make(chan struct{}, 1)}
	for i := 1; i < g; i++ {
		h := &helper{wake: make(chan struct{}, 1)}
		p.helpers = append(p.helpers, h)
		go p.help(i, h)
	}
	return p
}

// size is the number of goroutines, the caller's included.
func (p *workPool) size() int { return len(p.helpers) + 1 }

func (p *workPool) help(g int, h *helper) {
	var seen uint64
	for {
		for spins := 0; p.gen.Load() == seen; spins++ {
			if p.closed.Load() {
				return
			}
			if spins < spinWait {
				runtime.Gosched()
				continue
			}
			h.parked.Store(true)
			if p.gen.Load() != seen || p.closed.Load() {
				h.parked.Store(false)
				break
			}
			<-h.wake // may be a token left from an earlier phase: the loop looks again
			spins = 0
		}
		if p.closed.Load() {
			return
		}
		seen = p.gen.Load()
		p.work(g)
		// The caller blocked (or is about to) on this phase: the one of the two that clears
		// waiting owns the token, so none is left over. A helper late to clear it finds the next
		// phase's number there, and leaves it.
		if p.left.Add(-1) == 0 && p.waiting.CompareAndSwap(seen, 0) {
			p.done <- struct{}{}
		}
	}
}

// do runs f(g, i) for every i in [0, n) and returns when all have returned; g is the goroutine
// running the task (0 the caller's), for state a goroutine may reuse from task to task. The tasks
// are taken in order of i: the longest should come first.
func (p *workPool) do(n int, f func(g, i int)) {
	if n == 0 {
		return
	}
	p.n, p.f = n, f
	p.next.Store(0)
	p.left.Store(int32(len(p.helpers)))
	gen := p.gen.Add(1)
	for _, h := range p.helpers {
		h.unpark()
	}
	p.work(0)
	for spins := 0; p.left.Load() != 0; spins++ {
		if spins < spinWait {
			runtime.Gosched()
			continue
		}
		p.waiting.Store(gen)
		if p.left.Load() == 0 && p.waiting.CompareAndSwap(gen, 0) {
			break // the last helper finished before it could see waiting set
		}
		<-p.done
		break
	}
	p.f = nil
}

func (p *workPool) work(g int) {
	for {
		i := int(p.next.Add(1) - 1)
		if i >= p.n {
			return
		}
		p.f(g, i)
		// Let the replay's other goroutines (the reader, the collector's workers) have the core
		// between two tasks: with every core running tasks they would wait for the end of the
		// phase, and the next phase for them (the reader woken between two phases ran alone while
		// the pool waited for its batch: 25 ns an event, serial).
		runtime.Gosched()
	}
}

// close stops the helpers.
func (p *workPool) close() {
	p.closed.Store(true)
	for _, h := range p.helpers {
		h.unpark()
	}
	p.helpers = nil
}

// unpark wakes the helper if it has blocked. A token already waiting will do as well: the helper
// looks at the phase again whenever it takes one.
func (h *helper) unpark() {
	if h.parked.Swap(false) {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}
