package window

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// TestKeyStateLayout keeps what an event reads of a key in its first cache line and what a firing
// reads in the first two, and the state's size a multiple of 64 bytes so that those lines are
// aligned (see slicedKey).
func TestKeyStateLayout(t *testing.T) {
	var ks slicedKey
	if end := unsafe.Offsetof(ks.floor) + unsafe.Sizeof(ks.floor); end > 64 || unsafe.Offsetof(ks.tIdx) > 64 {
		t.Errorf("what an event reads ends at byte %d, past one cache line", end)
	}
	if end := unsafe.Offsetof(ks.back) + unsafe.Sizeof(ks.back.w); end > 128 {
		t.Errorf("what a firing reads ends at byte %d, past two cache lines", end)
	}
	if size := unsafe.Sizeof(ks); size%64 != 0 {
		t.Errorf("slicedKey is %d bytes, not a multiple of 64", size)
	}
}

// TestFiringOrder checks the documented order of firings: by window end, then key. Without allowed
// lateness that is the order of every result; with it, a window's first event may come after the
// watermark passed its end and fire it on arrival, so only the watermark's firings keep the order.
func TestFiringOrder(t *testing.T) {
	for _, spec := range []Spec{
		{Kind: Tumbling, Size: 10 * time.Second},
		{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second},
		{Kind: Sliding, Size: 30 * time.Second, Slide: time.Second},
		{Kind: Session, Gap: 3 * time.Second},
	} {
		for _, tm := range []Time{{OutOfOrder: 2 * time.Second}, {OutOfOrder: 0}} {
			r := rand.New(rand.NewPCG(5, 5))
			evs := genStream(r, 2000, 12, 2500, 20000)
			ems, _, _ := runEngine(t, spec, tm, evs, []int{500, 1500})
			var last emission
			n := 0
			for _, e := range ems {
				if n > 0 && (e.end < last.end || e.end == last.end && e.key <= last.key) {
					t.Fatalf("%s %+v: %s ending %d fired after %s ending %d", spec.Kind, tm, e.key, e.end, last.key, last.end)
				}
				last = e
				n++
			}
			if n < 100 {
				t.Fatalf("%s: only %d firings", spec.Kind, n)
			}
		}
	}
}

// TestStride pads ring slots only for windows of few slices.
func TestStride(t *testing.T) {
	for _, c := range []struct {
		width  int
		slices int64
		want   int
	}{{2, 300, 3}, {5, 300, 6}, {1, 1, 2}, {2, 1, 4}, {3, 1, 4}, {5, 1, 8}, {8, 5, 16}} {
		if got := stride(c.width, c.slices); got != c.want {
			t.Errorf("stride(%d, %d) = %d, want %d", c.width, c.slices, got, c.want)
		}
	}
}

// TestKeyHeadEarly keeps a key's two early-firing states apart in their one word.
func TestKeyHeadEarly(t *testing.T) {
	var h keyHead
	h.init("k")
	h.setInDirtyKeys(true)
	h.setEarlyEvents(7)
	if !h.inDirtyKeys() || h.earlyEvents() != 7 {
		t.Fatalf("dirty %v, events %d; want true, 7", h.inDirtyKeys(), h.earlyEvents())
	}
	h.setEarlyEvents(1<<31 | 3) // a count past 31 bits keeps its low bits and leaves the mark
	h.setInDirtyKeys(false)
	if h.inDirtyKeys() || h.earlyEvents() != 3 {
		t.Fatalf("dirty %v, events %d; want false, 3", h.inDirtyKeys(), h.earlyEvents())
	}
}
