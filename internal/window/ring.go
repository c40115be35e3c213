package window

import "github.com/eddyhq/eddy/internal/aggregate"

// ring holds one key's slices in slice order: a circular array of slots, each a slice index and
// the slice partial's row, in one pointer-free allocation. The collector never scans it and moving
// a slot costs no write barrier.
//
// The ring stays tight (past the hint it grows by a quarter): in the steady state of a sliding
// window the slot a new slice takes is then the one the key's last firing evicted, a cache line the
// CPU still holds, instead of memory untouched since a whole window ago.
//
// The header is small so that what an event reads of its key fits one cache line: positions are
// int32 and counted in words, and the stride (words per slot, the same for every key of an
// operator: see stride) is the caller's, passed as st.
type ring struct {
	w     []uint64 // len(w)/st slots
	start int32    // first word of logical slot 0
	n     int32    // slots in use
}

// len is the number of slots in use.
func (r *ring) len() int { return int(r.n) }

// off is the first word of logical slot i.
func (r *ring) off(st, i int) int {
	p := int(r.start) + i*st
	if p >= len(r.w) {
		p -= len(r.w)
	}
	return p
}

// idx is the slice index of logical slot i.
func (r *ring) idx(st, i int) int64 { return int64(r.w[r.off(st, i)]) }

// row is the partial of logical slot i. It is valid until the ring next moves its slots (insert,
// push, fit).
func (r *ring) row(st, i int) aggregate.Row {
	o := r.off(st, i)
	return aggregate.Row(r.w[o+1 : o+st : o+st])
}

// push appends an empty slot for slice idx and returns its row; hint is as for insert.
func (r *ring) push(st int, idx int64, hint int) aggregate.Row {
	return r.insert(st, r.len(), idx, hint)
}

// insert puts an empty slot for slice idx at logical position i, moving the slots from i on one
// place back, and returns its row. Slices arrive mostly in order, so few slots move. A full ring
// doubles up to hint slots (what a busy key needs), then grows by a quarter. (Growing fourfold
// leaves less garbage but holds a third more memory per key at 10,000 keys, for no measurable
// speed.)
func (r *ring) insert(st, i int, idx int64, hint int) aggregate.Row {
	if r.len()*st == len(r.w) {
		c := r.len()
		switch {
		case c >= hint:
			c += c/4 + 4
		case 2*c+4 > hint:
			c = hint
		default:
			c = 2*c + 4
		}
		r.resize(st, c)
	}
	for k := r.len(); k > i; k-- {
		to, from := r.off(st, k), r.off(st, k-1)
		copy(r.w[to:to+st], r.w[from:from+st])
	}
	r.n++
	o := r.off(st, i)
	r.w[o] = uint64(idx)
	row := aggregate.Row(r.w[o+1 : o+st : o+st])
	// Not clear(row): for rows of a few words the call costs more than the stores.
	for k := len(row) - 1; k >= 0; k-- {
		row[k] = 0
	}
	return row
}

// pop drops logical slot 0; the caller has released its row's sketches.
func (r *ring) pop(st int) {
	r.start += int32(st)
	if int(r.start) == len(r.w) {
		r.start = 0
	}
	r.n--
	if r.n == 0 {
		r.start = 0
	}
}

// fit gives back memory a key held for busier times, once it uses under a quarter of it.
func (r *ring) fit(st int) {
	if len(r.w) > 64*st && 4*r.len()*st < len(r.w) {
		r.resize(st, r.len()+r.len()/4+4)
	}
}

// resize moves the slots to a new array of c slots, in logical order from 0.
func (r *ring) resize(st, c int) {
	w := make([]uint64, c*st)
	for i := range r.len() {
		o := r.off(st, i)
		copy(w[i*st:(i+1)*st], r.w[o:o+st])
	}
	r.w, r.start = w, 0
}

// find returns the logical position of slice idx in slots [lo, len) (or where to insert it),
// searching from the end since events mostly land in the newest slices.
func (r *ring) find(st, lo int, idx int64) (int, bool) {
	return r.findIn(st, lo, r.len(), idx)
}

// findIn is find over slots [lo, hi).
func (r *ring) findIn(st, lo, hi int, idx int64) (int, bool) {
	i := hi
	for i > lo && r.idx(st, i-1) > idx {
		i--
		if hi-i > 8 {
			// Far from the newest: binary search the rest.
			a, b := lo, i
			for a < b {
				m := int(uint(a+b) >> 1)
				if r.idx(st, m) < idx {
					a = m + 1
				} else {
					b = m
				}
			}
			return a, a < i && r.idx(st, a) == idx
		}
	}
	if i > lo && r.idx(st, i-1) == idx {
		return i - 1, true
	}
	return i, false
}
