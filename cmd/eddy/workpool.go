package main

import (
	"sync"
	"sync/atomic"
)

// workPool runs the tasks of a replay's phases on a fixed set of goroutines: the caller's and
// g-1 helpers that live as long as the pool. Each goroutine takes the next task not yet taken, so
// a goroutine that the scheduler holds back (the reader took its core, the collector ran) leaves
// its share of the tasks to the others rather than keeping them waiting at the end of the phase.
type workPool struct {
	wake []chan struct{}
	wg   sync.WaitGroup
	next atomic.Int64
	n    int
	f    func(g, i int)
}

// newWorkPool starts a pool of g goroutines (the caller's included); close stops them.
func newWorkPool(g int) *workPool {
	p := &workPool{}
	for i := 1; i < g; i++ {
		c := make(chan struct{})
		p.wake = append(p.wake, c)
		go func() {
			for range c {
				p.work(i)
				p.wg.Done()
			}
		}()
	}
	return p
}

// size is the number of goroutines, the caller's included.
func (p *workPool) size() int { return len(p.wake) + 1 }

// do runs f(g, i) for every i in [0, n) and returns when all have returned; g is the goroutine
// running the task (0 the caller's), for state a goroutine may reuse from task to task. The tasks
// are taken in order of i: the longest should come first.
func (p *workPool) do(n int, f func(g, i int)) {
	if n == 0 {
		return
	}
	p.n, p.f = n, f
	p.next.Store(0)
	helpers := p.wake[:min(len(p.wake), n-1)]
	p.wg.Add(len(helpers))
	for _, c := range helpers {
		c <- struct{}{}
	}
	p.work(0)
	p.wg.Wait()
	p.f = nil
}

func (p *workPool) work(g int) {
	for {
		i := int(p.next.Add(1) - 1)
		if i >= p.n {
			return
		}
		p.f(g, i)
	}
}

// close stops the helpers.
func (p *workPool) close() {
	for _, c := range p.wake {
		close(c)
	}
	p.wake = nil
}
