package viewhttp

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyhq/eddy/core"
)

// DefaultLogBytes bounds each of a Hub's two logs of encoded events.
const DefaultLogBytes = 8 << 20

// DefaultInterval is the least time between two writes to one client: 4 updates a second, which
// is what a person watching a dashboard can follow.
const DefaultInterval = 250 * time.Millisecond

// DefaultTickRate bounds the bytes per second the newest-per-key stream sends each client. A tick
// of 1,000 keys' windows (about 240 KiB) then comes about every 2 s: the page shows a table of
// 50 keys and one key's chart, which it refetches from the API. 50 pages reading 256 KiB/s each
// cost the pipeline +4.0% and +8.0% CPU on two cores in two runs of BenchmarkW1View50Pages,
// against +3.2% and -2.2% at 128 KiB/s.
const DefaultTickRate = 128 << 10

// DefaultWriteTimeout bounds one write to a client; a client that takes longer is dropped.
const DefaultWriteTimeout = 30 * time.Second

// clientChunk is the bytes a client copies out of a log per write (a tick of 1,000 keys' windows
// is about 250 KB: one write). Clients take a buffer only while they write.
const clientChunk = 256 << 10

// chunks holds clients' write buffers between writes.
var chunks = sync.Pool{New: func() any { return new([clientChunk]byte) }}

// tickOutputs bounds the newest outputs a Hub holds for one interval: more seal the tick early.
const tickOutputs = 4096

// chunkBytes bounds one "outputs" event: outputs go out in events of at most this much JSON (or
// one output, if larger).
const chunkBytes = 128 << 10

// HubOptions tunes a Hub; zero values take the defaults.
type HubOptions struct {
	// LogBytes bounds each of the Hub's two logs (every output; the newest output per key), which
	// all clients read from: DefaultLogBytes if 0. A client more than LogBytes behind is dropped.
	LogBytes int
	// Interval is the least time between two writes to one client, and the newest-per-key
	// stream's tick: DefaultInterval if 0.
	Interval time.Duration
	// TickRate bounds the bytes per second of the newest-per-key stream: after a tick of n bytes
	// the next one comes no sooner than n/TickRate seconds (and Interval) later, so that what the
	// dashboard's clients cost does not grow with the number of keys updating. DefaultTickRate if
	// 0.
	TickRate int
	// WriteTimeout bounds one write to a client: DefaultWriteTimeout if 0.
	WriteTimeout time.Duration
}

// Hub fans a running function's outputs and partition status out to Server-Sent Events clients.
//
// Publishing is one append to a shared log of encoded events, bounded in bytes, and one wake-up,
// whatever the number of clients; it never blocks on a client. There are two logs: every output
// ("/api/events?all=1"), and the newest output per function, type and key (rule and key for
// decisions) and newest status per partition, sealed in ticks at most once per Interval and at
// most TickRate bytes a second, which is what the dashboard reads ("/api/events"). Each client
// keeps a cursor into its log and writes what is pending at most once per Interval, in one flush;
// a client that falls more than LogBytes behind (a slow or stalled browser) gets a "dropped"
// event, its stream ends, and its page reconnects and reloads from the API.
//
// Memory: the logs are allocated when the first client of each kind connects and freed when the
// last one leaves; a Hub holds at most 2×LogBytes for the logs, 5 MiB of buffers, the newest
// outputs of one tick (at most 4,096) and 256 KiB per client while it writes (see HubStats.Bound).
type Hub struct {
	opts    HubOptions
	mu      sync.Mutex
	all     eventLog // every output and status, in order
	latest  eventLog // the newest output per key and status per partition, sealed each tick
	changed chan struct{}
	clients map[*client]struct{}
	n       atomic.Int32
	dropped atomic.Int64
	written atomic.Int64
	writing atomic.Int64 // clients holding a write buffer
	peakW   atomic.Int64 // the most at once
	peak    int64        // most bytes a client was behind its log's head

	// The tick being gathered for the newest-per-key log: outputs are kept as clones and encoded
	// when the tick is sealed, so that outputs replaced within a tick cost the pipeline no
	// encoding.
	tick    []byte // encoded statuses
	entries []tickEntry
	index   map[tickKey]int
	// Window results of one function, nearly all outputs, are indexed by key alone: hashing one
	// string is half the cost of gathering an output.
	winFn    string
	winIndex map[string]int
	replaced int
	seq      int
	free     []*core.WindowResult // window results to reuse, at most tickOutputs
	sealed   time.Time
	gap      time.Duration // from the last tick to the next
	enc      []byte        // scratch for encoding frames

	status map[[2]string]*PartitionStatus
}

// eventLog is a ring of encoded SSE events, read by byte offsets: its bytes [head-len(buf), head)
// are readable.
type eventLog struct {
	buf     []byte
	head    uint64
	clients int
}

func (l *eventLog) append(p []byte) {
	if len(p) > len(l.buf) {
		// An event larger than the log cannot be delivered whole; skip it rather than drop every
		// client.
		return
	}
	for len(p) > 0 {
		i := int(l.head % uint64(len(l.buf)))
		n := copy(l.buf[i:], p)
		p = p[n:]
		l.head += uint64(n)
	}
}

type tickKey struct {
	kind    byte // 'w' window, 'd' decision, 'l' late, 's' status, 'o' another output (never conflated)
	seq     uint64
	a, b, c string
}

// tickEntry is an output (out) or an encoded status (tick[off:off+len]).
type tickEntry struct {
	out      core.Output
	off, len int
	seq      int // the order of the last update
}

type client struct {
	log    *eventLog
	cursor uint64
	// atBoundary is whether the bytes written so far end with a whole event.
	atBoundary bool
}

// NewHub returns a Hub with the options o (nil: the defaults).
func NewHub(o *HubOptions) *Hub {
	h := &Hub{changed: make(chan struct{}), clients: map[*client]struct{}{}, index: map[tickKey]int{}, winIndex: map[string]int{}, status: map[[2]string]*PartitionStatus{}}
	if o != nil {
		h.opts = *o
	}
	if h.opts.LogBytes <= 0 {
		h.opts.LogBytes = DefaultLogBytes
	}
	if h.opts.Interval <= 0 {
		h.opts.Interval = DefaultInterval
	}
	if h.opts.TickRate <= 0 {
		h.opts.TickRate = DefaultTickRate
	}
	if h.opts.WriteTimeout <= 0 {
		h.opts.WriteTimeout = DefaultWriteTimeout
	}
	return h
}

// PartitionStatus is what the dashboard shows per partition of a live function.
type PartitionStatus struct {
	Function  string    `json:"function"`
	Partition string    `json:"partition"`
	Watermark time.Time `json:"watermark,omitzero"`
	// LagMS is how far the watermark trails processing time, at the last batch, in milliseconds.
	LagMS       int64     `json:"lag_ms"`
	Batches     int64     `json:"batches"`
	Events      int64     `json:"events"`
	Late        int64     `json:"late"`
	DeadLetters int64     `json:"dead_letters"`
	Updated     time.Time `json:"updated"`
}

// HubStats counts a Hub's clients and bytes.
type HubStats struct {
	Clients int `json:"clients"`
	// Written is the bytes written to clients.
	Written int64 `json:"written_bytes"`
	// Dropped counts the clients dropped for falling behind or timing out on a write.
	Dropped int64 `json:"dropped"`
	// PeakBehind is the most bytes a client was behind its log's head when it read: a client is
	// dropped beyond LogBytes.
	PeakBehind int64 `json:"peak_behind_bytes"`
	// Pending is the bytes the slowest client has not read yet (unsealed newest outputs count).
	Pending int64 `json:"pending_bytes"`
	// Held is the memory the Hub holds for streaming now: its allocated logs, the newest outputs
	// not sealed yet, and each client's write buffer.
	Held int64 `json:"held_bytes"`
	// PeakHeld is Held with the most write buffers held at once so far.
	PeakHeld int64 `json:"peak_held_bytes"`
	// Bound is the most Held can be with the clients connected now:
	// 2×LogBytes + 5 MiB + 256 KiB per client (each holds a buffer only while it writes).
	Bound int64 `json:"bound_bytes"`
}

// Stats returns the Hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := int64(len(h.clients))
	s := HubStats{Clients: int(n), Written: h.written.Load(), Dropped: h.dropped.Load(), PeakBehind: h.peak,
		Held:  int64(len(h.all.buf)+len(h.latest.buf)+cap(h.tick)+cap(h.enc)) + h.writing.Load()*clientChunk,
		Bound: int64(2*h.opts.LogBytes+hubScratch) + n*clientChunk}
	s.PeakHeld = s.Held + (h.peakW.Load()-h.writing.Load())*clientChunk
	for c := range h.clients {
		s.Pending = max(s.Pending, h.behind(c))
	}
	if h.latest.clients > 0 {
		s.Pending += int64(len(h.tick))
	}
	return s
}

// takeChunk lends a client a write buffer.
func (h *Hub) takeChunk() *[clientChunk]byte {
	n := h.writing.Add(1)
	for p := h.peakW.Load(); n > p && !h.peakW.CompareAndSwap(p, n); p = h.peakW.Load() {
	}
	return chunks.Get().(*[clientChunk]byte)
}

func (h *Hub) returnChunk(b *[clientChunk]byte) {
	chunks.Put(b)
	h.writing.Add(-1)
}

// hubScratch bounds a Hub's buffers besides its logs: the tick's statuses (at most 2 MiB, in a
// buffer that may double) and the encoding scratch (a chunk and one output). The tick's outputs
// (at most tickOutputs) are not counted.
const hubScratch = 5 << 20

// behind reports the bytes c has not read; callers hold h.mu.
func (h *Hub) behind(c *client) int64 { return int64(c.log.head - c.cursor) }

func (h *Hub) subscribe(latest bool) *client {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := &h.all
	if latest {
		l = &h.latest
	}
	if l.clients == 0 {
		l.buf = make([]byte, h.opts.LogBytes)
	}
	l.clients++
	h.n.Add(1)
	c := &client{log: l, cursor: l.head, atBoundary: true}
	h.clients[c] = struct{}{}
	return c
}

func (h *Hub) unsubscribe(c *client, dropped bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
	c.log.clients--
	if c.log.clients == 0 {
		c.log.buf = nil
		if c.log == &h.latest {
			h.resetTick()
		}
	}
	h.n.Add(-1)
	if dropped {
		h.dropped.Add(1)
	}
}

// wake tells waiting clients that a log grew; callers hold h.mu.
func (h *Hub) wake() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// poll reports whether c has bytes to read, sealing the tick if it is due. If not, it returns a
// channel closed when a log grows and, if a tick is gathering, when it will be due.
func (h *Hub) poll(c *client, now time.Time) (ready bool, changed <-chan struct{}, due time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.log == &h.latest && len(h.entries) > 0 {
		if due = h.sealed.Add(h.gap); !now.Before(due) {
			h.seal(now)
			due = time.Time{}
		}
	}
	return c.log.head != c.cursor, h.changed, due
}

// read copies the bytes c has not read yet, at most len(p), into p. behind reports that c fell
// more than LogBytes behind: it missed events and must be dropped.
func (h *Hub) read(c *client, p []byte) (n int, behind bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := c.log
	d := h.behind(c)
	h.peak = max(h.peak, d)
	if d > int64(len(l.buf)) {
		return 0, true
	}
	n = int(min(d, int64(len(p))))
	i := int(c.cursor % uint64(len(l.buf)))
	m := copy(p[:n], l.buf[i:])
	copy(p[m:n], l.buf)
	c.cursor += uint64(n)
	return n, false
}

// PublishOutputs sends a batch's outputs to the clients: to those reading every output as
// "outputs" events now, each a JSON array of outputs in the output contract's JSON, of at most
// 128 KiB; to the others as the newest output per key at the next tick. It costs nothing when no
// client is connected. Its signature fits view.WriterOptions.OnWrite.
func (h *Hub) PublishOutputs(outs []core.Output) {
	if h.n.Load() == 0 || len(outs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.latest.clients > 0 {
		for _, o := range outs {
			h.gatherOutput(o)
		}
	}
	if h.all.clients > 0 {
		b := append(h.enc[:0], "event: outputs\ndata: ["...)
		n := 0
		for _, o := range outs {
			if n > 0 && len(b) > chunkBytes {
				h.all.append(append(b, "]\n\n"...))
				b, n = append(b[:0], "event: outputs\ndata: ["...), 0
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = o.AppendJSON(b)
			n++
		}
		h.all.append(append(b, "]\n\n"...))
		h.enc = b[:0]
		if cap(b) > 2*chunkBytes {
			h.enc = nil
		}
	}
	h.wake()
}

var outputSeq atomic.Uint64

// outputKey is what an output replaces within a tick: the previous window of the same key, the
// previous decision of the same rule and key.
func outputKey(o core.Output) tickKey {
	switch o := o.(type) {
	case *core.WindowResult:
		return tickKey{kind: 'w', a: o.Function, b: o.Key}
	case *core.Decision:
		return tickKey{kind: 'd', a: o.Function, b: o.Rule, c: o.Key}
	case *core.Late:
		return tickKey{kind: 'l', a: o.Function, b: o.Key}
	}
	return tickKey{kind: 'o', seq: outputSeq.Add(1)}
}

// gatherOutput records o as the tick's newest output of its key; callers hold h.mu. Window results,
// nearly all outputs, are copied into results the Hub reuses from tick to tick, so that a tick
// costs the pipeline no allocation.
func (h *Hub) gatherOutput(o core.Output) {
	w, ok := o.(*core.WindowResult)
	if !ok {
		h.gather(outputKey(o), tickEntry{out: core.CloneOutput(o)})
		return
	}
	if h.winFn == "" && len(h.winIndex) == 0 {
		h.winFn = w.Function
	}
	var k tickKey
	var i int
	var found bool
	if w.Function == h.winFn {
		i, found = h.winIndex[w.Key]
	} else {
		k = tickKey{kind: 'w', a: w.Function, b: w.Key}
		i, found = h.index[k]
	}
	if found {
		if dst, ok := h.entries[i].out.(*core.WindowResult); ok {
			copyWindow(dst, w)
			h.seq++
			h.entries[i].seq = h.seq
			h.replaced++
			return
		}
	}
	var dst *core.WindowResult
	if n := len(h.free); n > 0 {
		dst, h.free = h.free[n-1], h.free[:n-1]
	} else {
		dst = new(core.WindowResult)
	}
	copyWindow(dst, w)
	if w.Function == h.winFn {
		h.winIndex[w.Key] = len(h.entries)
		h.add(tickEntry{out: dst})
		return
	}
	h.gather(k, tickEntry{out: dst})
}

// copyWindow makes dst a deep copy of src, reusing dst's values.
func copyWindow(dst, src *core.WindowResult) {
	vals := dst.Values[:0]
	*dst = *src
	dst.Values = append(vals, src.Values...)
	for i, v := range dst.Values {
		if v.Items != nil {
			dst.Values[i].Items = slices.Clone(v.Items)
		}
		if v.Raw != nil {
			dst.Values[i].Raw = slices.Clone(v.Raw)
		}
	}
}

// gather records e as the tick's newest entry for k; callers hold h.mu.
func (h *Hub) gather(k tickKey, e tickEntry) {
	if i, ok := h.index[k]; ok {
		h.seq++
		e.seq = h.seq
		h.entries[i] = e
		if e.out != nil { // a newer status replaces an older one silently
			h.replaced++
		}
		return
	}
	h.index[k] = len(h.entries)
	h.add(e)
}

// add appends a new entry to the tick, sealing it when full; callers hold h.mu.
func (h *Hub) add(e tickEntry) {
	h.seq++
	e.seq = h.seq
	h.entries = append(h.entries, e)
	if len(h.entries) >= tickOutputs || len(h.tick) >= tickOutputs*512 {
		h.seal(time.Now())
	}
}

func (h *Hub) resetTick() {
	for _, e := range h.entries {
		if w, ok := e.out.(*core.WindowResult); ok && len(h.free) < tickOutputs && h.latest.clients > 0 {
			h.free = append(h.free, w)
		}
	}
	if h.latest.clients == 0 {
		h.free = nil
	}
	clear(h.entries) // let go of the outputs
	h.tick, h.entries, h.replaced = h.tick[:0], h.entries[:0], 0
	clear(h.index)
	clear(h.winIndex)
	h.winFn = ""
	if cap(h.enc) > 2*chunkBytes {
		h.enc = nil
	}
}

// seal appends the tick's newest outputs and statuses to the newest-per-key log, in the order
// they were last updated; callers hold h.mu.
func (h *Hub) seal(now time.Time) {
	h.sealed, h.gap = now, h.opts.Interval
	if len(h.entries) == 0 {
		return
	}
	head := h.latest.head
	defer func() {
		h.gap = max(h.gap, time.Duration(h.latest.head-head)*time.Second/time.Duration(h.opts.TickRate))
	}()
	slices.SortFunc(h.entries, func(a, b tickEntry) int { return a.seq - b.seq })
	b := h.enc[:0]
	n := 0
	for _, e := range h.entries {
		if e.out == nil {
			continue
		}
		if n == 0 {
			b = append(b[:0], "event: outputs\ndata: ["...)
		} else {
			b = append(b, ',')
		}
		b = e.out.AppendJSON(b)
		n++
		if len(b) > chunkBytes {
			h.latest.append(append(b, "]\n\n"...))
			n = 0
		}
	}
	if n > 0 {
		h.latest.append(append(b, "]\n\n"...))
	}
	if h.replaced > 0 {
		b = append(b[:0], "event: conflated\ndata: {\"outputs\":"...)
		b = strconv.AppendInt(b, int64(h.replaced), 10)
		h.latest.append(append(b, "}\n\n"...))
	}
	for _, e := range h.entries {
		if e.out == nil {
			h.latest.append(h.tick[e.off : e.off+e.len])
		}
	}
	h.enc = b[:0]
	h.resetTick()
	h.wake()
}

// sse formats one Server-Sent Event.
func sse(event string, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(event)+16)
	return appendSSE(b, event, data)
}

func appendSSE(b []byte, event string, data []byte) []byte {
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, '\n', '\n')
}

// ObserveBatch records a partition batch's result (its watermark, events, late events and dead
// letters) and sends the partition's status to the clients as a "status" event.
func (h *Hub) ObserveBatch(function, partition string, res *core.Result, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := [2]string{function, partition}
	st := h.status[k]
	if st == nil {
		st = &PartitionStatus{Function: function, Partition: partition}
		h.status[k] = st
	}
	if res.Watermark.After(st.Watermark) {
		st.Watermark = res.Watermark.UTC()
	}
	if !st.Watermark.IsZero() {
		st.LagMS = now.Sub(st.Watermark).Milliseconds()
	}
	st.Batches++
	st.Events += int64(res.Stats.Events)
	st.Late += int64(res.Stats.Late)
	st.DeadLetters += int64(res.Stats.Failed)
	st.Updated = now.UTC()
	if h.n.Load() == 0 {
		return
	}
	data, _ := json.Marshal(st)
	if h.all.clients > 0 {
		h.enc = appendSSE(h.enc[:0], "status", data)
		h.all.append(h.enc)
	}
	if h.latest.clients > 0 {
		off := len(h.tick)
		h.tick = appendSSE(h.tick, "status", data)
		h.gather(tickKey{kind: 's', a: function, b: partition}, tickEntry{off: off, len: len(h.tick) - off})
	}
	h.wake()
}

// Status returns every partition's status, by function then partition.
func (h *Hub) Status() []PartitionStatus {
	h.mu.Lock()
	out := make([]PartitionStatus, 0, len(h.status))
	for _, st := range h.status {
		out = append(out, *st)
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Function != out[j].Function {
			return out[i].Function < out[j].Function
		}
		return out[i].Partition < out[j].Partition
	})
	return slices.Clip(out)
}
