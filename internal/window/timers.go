package window

import (
	"slices"
	"strings"
)

// timers is a calendar queue of keys by due time. Keys of one function share due times (every key's
// sliding window ends on the same slide boundary), so keys wait in one bucket per distinct time and
// a small heap orders the times: a key's reschedule is O(1), and a bucket is sorted by key once,
// when it comes due, which fixes the order windows fire in (end time, then key) for determinism.
type timers struct {
	buckets map[int64]*bucket
	times   []int64 // min-heap of the buckets' times; a time may outlive its emptied bucket
	// last is the bucket keys were last filed in: firing a window files its key under the next
	// slide, which most keys share, so this saves a map lookup per firing.
	last *bucket
	// spare holds the key array of the bucket taken last, for the next new bucket: every slide
	// creates a bucket as large as the number of keys, which otherwise is garbage a slide later.
	spare []*keyHead
}

type bucket struct {
	time int64
	keys []*keyHead
	// pass is the run of advanceTo that filed the bucket's first key (0: none), unsorted set when
	// keys came from elsewhere too. One run goes through a bucket in key order and files its keys
	// in that order, so a sliding window's buckets need no sort when they come due.
	pass     uint64
	unsorted bool
}

func (t *timers) reset() {
	t.buckets = make(map[int64]*bucket)
	t.times = t.times[:0]
	t.last = nil
}

func (t *timers) bucket(due int64) *bucket {
	if t.last != nil && t.last.time == due {
		return t.last
	}
	b := t.buckets[due]
	if b == nil {
		b = &bucket{time: due, keys: t.spare[:0]}
		t.spare = nil
		t.buckets[due] = b
		t.push(due)
	}
	t.last = b
	return b
}

// add puts ks in the bucket of ks.due. pass is the run of advanceTo filing it, 0 for any other
// caller.
func (t *timers) add(ks *keyHead, pass uint64) {
	b := t.bucket(ks.due)
	if len(b.keys) == 0 {
		b.pass = pass
	} else if pass == 0 || pass != b.pass {
		b.unsorted = true
	}
	ks.bucketIdx = int32(len(b.keys))
	b.keys = append(b.keys, ks)
}

// remove takes ks out of the bucket of time due.
func (t *timers) remove(ks *keyHead, due int64) {
	b := t.bucket(due)
	last := b.keys[len(b.keys)-1]
	b.keys[ks.bucketIdx] = last
	last.bucketIdx = ks.bucketIdx
	if int(ks.bucketIdx) != len(b.keys)-1 {
		b.unsorted = true
	}
	b.keys[len(b.keys)-1] = nil
	b.keys = b.keys[:len(b.keys)-1]
	ks.bucketIdx = -1
}

// next returns the earliest time with a key waiting.
func (t *timers) next() (int64, bool) {
	for len(t.times) > 0 {
		tm := t.times[0]
		if b := t.buckets[tm]; b != nil && len(b.keys) > 0 {
			return tm, true
		}
		t.pop()
		t.drop(tm)
	}
	return 0, false
}

// take removes the bucket of time tm and returns its keys sorted by key.
func (t *timers) take(tm int64) []*keyHead {
	bk := t.buckets[tm]
	b := bk.keys
	t.drop(tm)
	t.pop()
	if bk.unsorted {
		slices.SortFunc(b, func(x, y *keyHead) int { return strings.Compare(x.key, y.key) })
	}
	for _, ks := range b {
		ks.bucketIdx = -1
	}
	return b
}

// recycle hands back the keys take returned, once the caller is done with them.
func (t *timers) recycle(keys []*keyHead) {
	if cap(keys) > cap(t.spare) {
		clear(keys)
		t.spare = keys[:0]
	}
}

func (t *timers) drop(tm int64) {
	delete(t.buckets, tm)
	if t.last != nil && t.last.time == tm {
		t.last = nil
	}
}

func (t *timers) push(v int64) {
	t.times = append(t.times, v)
	i := len(t.times) - 1
	for i > 0 {
		p := (i - 1) / 2
		if t.times[p] <= t.times[i] {
			break
		}
		t.times[p], t.times[i] = t.times[i], t.times[p]
		i = p
	}
}

func (t *timers) pop() {
	n := len(t.times) - 1
	t.times[0] = t.times[n]
	t.times = t.times[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		if r := l + 1; r < n && t.times[r] < t.times[l] {
			l = r
		}
		if t.times[i] <= t.times[l] {
			return
		}
		t.times[i], t.times[l] = t.times[l], t.times[i]
		i = l
	}
}
