package pattern

// evItem orders buffered events by (time, arrival).
type evItem struct {
	t    int64
	seq  uint64
	slot int32
}

func (a evItem) less(b evItem) bool { return a.t < b.t || (a.t == b.t && a.seq < b.seq) }

// evHeap is a binary min-heap, written out rather than through container/heap to avoid its
// interface calls on the per-event path.
type evHeap []evItem

func (h *evHeap) push(x evItem) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !x.less(s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = x
}

func (h *evHeap) pop() evItem {
	s := *h
	top := s[0]
	n := len(s) - 1
	x := s[n]
	s = s[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s[c+1].less(s[c]) {
			c++
		}
		if !s[c].less(x) {
			break
		}
		s[i] = s[c]
		i = c
	}
	if n > 0 {
		s[i] = x
	}
	*h = s
	return top
}

// timerItem is an absence deadline of run id in key ks; ties fire in run creation order.
type timerItem struct {
	deadline int64
	id       uint64
	ks       *keyState
}

func (a timerItem) less(b timerItem) bool {
	return a.deadline < b.deadline || (a.deadline == b.deadline && a.id < b.id)
}

type timerHeap []timerItem

func (h *timerHeap) push(x timerItem) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !x.less(s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = x
}

func (h *timerHeap) pop() timerItem {
	s := *h
	top := s[0]
	n := len(s) - 1
	x := s[n]
	s[n] = timerItem{}
	s = s[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s[c+1].less(s[c]) {
			c++
		}
		if !s[c].less(x) {
			break
		}
		s[i] = s[c]
		i = c
	}
	if n > 0 {
		s[i] = x
	}
	*h = s
	return top
}
