package window

import "github.com/eddyhq/eddy/core/aggregate"

// ring holds one key's slices in slice order: a circular array of slots, each a slice index and
// the slice partial's row, in one pointer-free allocation. The collector never scans it and moving
// a slot costs no write barrier.
//
// The ring stays tight (past the hint it grows by a quarter): in the steady state of a sliding
// window the slot a new slice takes is then the one the key's last firing evicted, a cache line the
// CPU still holds, instead of memory untouched since a whole window ago. Positions are int32 and
// counted in words so that the ring's header is small: a key's state keeps what a firing reads in
// two cache lines.
type ring struct {
	w      []uint64 // len(w)/stride slots
	start  int32    // first word of logical slot 0
	n      int32    // slots in use
	stride int32    // 1 + the plan's row width
}

func newRing(width int) ring { return ring{stride: int32(1 + width)} }

// len is the number of slots in use.
func (r *ring) len() int { return int(r.n) }

// off is the first word of logical slot i.
func (r *ring) off(i int) int {
	p := int(r.start) + i*int(r.stride)
	if p >= len(r.w) {
		p -= len(r.w)
	}
	return p
}

// idx is the slice index of logical slot i.
func (r *ring) idx(i int) int64 { return int64(r.w[r.off(i)]) }

// row is the partial of logical slot i. It is valid until the ring next grows (push or insert).
func (r *ring) row(i int) aggregate.Row {
	o, s := r.off(i), int(r.stride)
	return aggregate.Row(r.w[o+1 : o+s : o+s])
}

// push appends an empty slot for slice idx and returns its row; hint is as for insert.
func (r *ring) push(idx int64, hint int) aggregate.Row {
	return r.insert(r.len(), idx, hint)
}

// insert puts an empty slot for slice idx at logical position i, moving the slots from i on one
// place back, and returns its row. Slices arrive mostly in order, so few slots move. A full ring
// doubles up to hint slots (what a busy key needs), then grows by a quarter.
func (r *ring) insert(i int, idx int64, hint int) aggregate.Row {
	s := int(r.stride)
	if r.len()*s == len(r.w) {
		c := r.len()
		switch {
		case c >= hint:
			c += c/4 + 4
		case 2*c+4 > hint:
			c = hint
		default:
			c = 2*c + 4
		}
		r.resize(c)
	}
	for k := r.len(); k > i; k-- {
		to, from := r.off(k), r.off(k-1)
		copy(r.w[to:to+s], r.w[from:from+s])
	}
	r.n++
	o := r.off(i)
	r.w[o] = uint64(idx)
	row := aggregate.Row(r.w[o+1 : o+s : o+s])
	// Not clear(row): for rows of a few words the call costs more than the stores.
	for k := len(row) - 1; k >= 0; k-- {
		row[k] = 0
	}
	return row
}

// pop drops logical slot 0; the caller has released its row's sketches.
func (r *ring) pop() {
	r.start += r.stride
	if int(r.start) == len(r.w) {
		r.start = 0
	}
	r.n--
	if r.n == 0 {
		r.start = 0
	}
	if s := int(r.stride); len(r.w) > 64*s && 4*r.len()*s < len(r.w) {
		// A key that slowed down gives back what it held for its busy times.
		r.resize(r.len() + r.len()/4 + 4)
	}
}

// reset drops every slot, keeping the memory.
func (r *ring) reset() { r.start, r.n = 0, 0 }

// resize moves the slots to a new array of c slots, in logical order from 0.
func (r *ring) resize(c int) {
	s := int(r.stride)
	w := make([]uint64, c*s)
	for i := range r.len() {
		o := r.off(i)
		copy(w[i*s:(i+1)*s], r.w[o:o+s])
	}
	r.w, r.start = w, 0
}

// find returns the logical position of slice idx in slots [lo, len) (or where to insert it),
// searching from the end since events mostly land in the newest slices.
func (r *ring) find(lo int, idx int64) (int, bool) {
	return r.findIn(lo, r.len(), idx)
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
