package window

import "github.com/eddyhq/eddy/core/aggregate"

// ring holds one key's slices in slice order: a circular array of slots, each a slice index and
// the slice partial's row, in one pointer-free allocation. The collector never scans it and moving
// a slot costs no write barrier.
//
// The ring stays tight (it grows by a quarter when full): in the steady state of a sliding window
// the slot a new slice takes is then the one the key's last firing evicted, a cache line the CPU
// still holds, instead of memory untouched since a whole window ago.
type ring struct {
	w      []uint64 // c slots of stride words
	stride int      // 1 + the plan's row width
	c      int      // capacity in slots
	start  int      // physical slot of logical slot 0
	n      int      // slots in use
	hint   int      // the slots a key's windows need when every slice holds events
}

func newRing(width, hint int) ring { return ring{stride: 1 + width, hint: hint} }

// off is the first word of logical slot i.
func (r *ring) off(i int) int {
	p := r.start + i
	if p >= r.c {
		p -= r.c
	}
	return p * r.stride
}

// idx is the slice index of logical slot i.
func (r *ring) idx(i int) int64 { return int64(r.w[r.off(i)]) }

// row is the partial of logical slot i. It is valid until the ring next grows (push or insert).
func (r *ring) row(i int) aggregate.Row {
	o := r.off(i)
	return aggregate.Row(r.w[o+1 : o+r.stride : o+r.stride])
}

// push appends an empty slot for slice idx and returns its row.
func (r *ring) push(idx int64) aggregate.Row {
	return r.insert(r.n, idx)
}

// insert puts an empty slot for slice idx at logical position i, moving the slots from i on one
// place back, and returns its row. Slices arrive mostly in order, so few slots move.
func (r *ring) insert(i int, idx int64) aggregate.Row {
	if r.n == r.c {
		r.resize(r.grown())
	}
	for k := r.n; k > i; k-- {
		copy(r.w[r.off(k):r.off(k)+r.stride], r.w[r.off(k-1):r.off(k-1)+r.stride])
	}
	r.n++
	o := r.off(i)
	r.w[o] = uint64(idx)
	row := aggregate.Row(r.w[o+1 : o+r.stride : o+r.stride])
	clear(row)
	return row
}

// grown is the capacity to grow to: doubling up to the hint, which busy keys reach and then keep,
// and by a quarter past it.
func (r *ring) grown() int {
	switch {
	case r.c >= r.hint:
		return r.c + r.c/4 + 4
	case 2*r.c+4 > r.hint:
		return r.hint
	}
	return 2*r.c + 4
}

// pop drops logical slot 0; the caller has released its row's sketches.
func (r *ring) pop() {
	r.start++
	if r.start == r.c {
		r.start = 0
	}
	r.n--
	if r.n == 0 {
		r.start = 0
	}
	if r.c > 64 && r.n < r.c/4 {
		// A key that slowed down gives back what it held for its busy times.
		r.resize(r.n + r.n/4 + 4)
	}
}

// reset drops every slot, keeping the memory.
func (r *ring) reset() { r.start, r.n = 0, 0 }

// resize moves the slots to a new array of c slots, in logical order from 0.
func (r *ring) resize(c int) {
	w := make([]uint64, c*r.stride)
	for i := range r.n {
		copy(w[i*r.stride:(i+1)*r.stride], r.w[r.off(i):r.off(i)+r.stride])
	}
	r.w, r.c, r.start = w, c, 0
}

// find returns the logical position of slice idx in slots [lo, r.n) (or where to insert it),
// searching from the end since events mostly land in the newest slices.
func (r *ring) find(lo int, idx int64) (int, bool) {
	return r.findIn(lo, r.n, idx)
}

// findIn is find over slots [lo, hi).
func (r *ring) findIn(lo, hi int, idx int64) (int, bool) {
	i := hi
	for i > lo && r.idx(i-1) > idx {
		i--
		if hi-i > 8 {
			// Far from the newest: binary search the rest.
			a, b := lo, i
			for a < b {
				m := int(uint(a+b) >> 1)
				if r.idx(m) < idx {
					a = m + 1
				} else {
					b = m
				}
			}
			return a, a < i && r.idx(a) == idx
		}
	}
	if i > lo && r.idx(i-1) == idx {
		return i - 1, true
	}
	return i, false
}
