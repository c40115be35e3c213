package viewhttp

import (
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyhq/eddy/core"
)

// DefaultClientBuffer is how many messages a Hub queues per client before it drops the client.
const DefaultClientBuffer = 256

// ClientBytes bounds the bytes queued per client: a client whose queue would grow beyond it is
// dropped. Messages are shared, so all clients together hold at most one copy of each.
const ClientBytes = 1 << 20

// chunkBytes bounds one "outputs" event: a batch's outputs go out in events of at most this much
// JSON (or one output, if larger), so a large batch does not exceed a client's budget alone.
const chunkBytes = 128 << 10

// Hub fans a running function's outputs and partition status out to Server-Sent Events clients.
// Publishing never blocks: each client has a bounded queue (DefaultClientBuffer messages and
// ClientBytes bytes), and a client whose queue is full (a slow or stalled browser) is dropped; its
// page reconnects and reloads from the API. Queued messages are shared by all clients, so a Hub
// holds at most ClientBytes per client, and in practice one copy of the last messages.
type Hub struct {
	buf     int
	mu      sync.Mutex
	clients map[*client]struct{}
	n       atomic.Int32
	dropped atomic.Int64
	sent    atomic.Int64
	peak    atomic.Int64 // most bytes queued over all clients at once
	status  map[[2]string]*PartitionStatus
}

type client struct {
	ch     chan []byte
	gone   chan struct{}
	queued atomic.Int64 // bytes in ch
}

// NewHub returns a Hub that queues up to buffer messages per client (DefaultClientBuffer if
// buffer <= 0).
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultClientBuffer
	}
	return &Hub{buf: buffer, clients: map[*client]struct{}{}, status: map[[2]string]*PartitionStatus{}}
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

// HubStats counts a Hub's clients and messages.
type HubStats struct {
	Clients int   `json:"clients"`
	Sent    int64 `json:"sent"`
	Dropped int64 `json:"dropped"`
	// PeakQueued is the most bytes queued for all clients together, counting a message once
	// per client that held it (an upper bound of the memory the queues held).
	PeakQueued int64 `json:"peak_queued_bytes"`
}

// Stats returns the Hub's counters.
func (h *Hub) Stats() HubStats {
	return HubStats{Clients: int(h.n.Load()), Sent: h.sent.Load(), Dropped: h.dropped.Load(), PeakQueued: h.peak.Load()}
}

func (h *Hub) subscribe() *client {
	c := &client{ch: make(chan []byte, h.buf), gone: make(chan struct{})}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	h.n.Add(1)
	return c
}

func (h *Hub) unsubscribe(c *client) {
	h.mu.Lock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.gone)
		h.n.Add(-1)
	}
	h.mu.Unlock()
}

// broadcast queues msgs for every client, dropping those whose queue is full.
func (h *Hub) broadcast(msgs [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		for _, m := range msgs {
			if c.queued.Load()+int64(len(m)) <= ClientBytes {
				select {
				case c.ch <- m:
					c.queued.Add(int64(len(m)))
					h.sent.Add(1)
					continue
				default:
				}
			}
			delete(h.clients, c)
			close(c.gone)
			h.n.Add(-1)
			h.dropped.Add(1)
			break
		}
	}
	var total int64
	for c := range h.clients {
		total += c.queued.Load()
	}
	if total > h.peak.Load() {
		h.peak.Store(total)
	}
}

// sse formats one Server-Sent Event.
func sse(event string, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(event)+16)
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, '\n', '\n')
}

// PublishOutputs sends a batch's outputs to the clients as "outputs" events, each a JSON array of
// outputs in the output contract's JSON, of at most 128 KiB. It costs nothing when no client is
// connected. Its signature fits view.WriterOptions.OnWrite.
func (h *Hub) PublishOutputs(outs []core.Output) {
	if h.n.Load() == 0 || len(outs) == 0 {
		return
	}
	var msgs [][]byte
	b := []byte("event: outputs\ndata: [")
	n := 0
	for _, o := range outs {
		if n > 0 && len(b) > chunkBytes {
			msgs = append(msgs, append(b, "]\n\n"...))
			b, n = []byte("event: outputs\ndata: ["), 0
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = o.AppendJSON(b)
		n++
	}
	msgs = append(msgs, append(b, "]\n\n"...))
	h.broadcast(msgs)
}

// ObserveBatch records a partition batch's result (its watermark, events, late events and dead
// letters) and sends the partition's status to the clients as a "status" event.
func (h *Hub) ObserveBatch(function, partition string, res *core.Result, now time.Time) {
	h.mu.Lock()
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
	snap := *st
	h.mu.Unlock()
	if h.n.Load() == 0 {
		return
	}
	b, _ := json.Marshal(&snap)
	h.broadcast([][]byte{sse("status", b)})
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
