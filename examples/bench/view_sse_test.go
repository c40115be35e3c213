package bench

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/memview"
	"github.com/eddyhq/eddy/core/view/viewhttp"
)

// sseRun is one W1 run with views and SSE clients.
type sseRun struct {
	d, cpu     time.Duration
	heapGrowth uint64 // peak heap in use over the run, less the heap before it
	bytes      int64  // bytes all clients read
	calls      int64  // API calls the page clients made
	hub        viewhttp.HubStats
}

// runSSE runs W1 with views written per batch and n clients reading path (an /api/events URL)
// over loopback HTTP, as `eddy dev --ui` serves them. With n = 0 no hub publishes. With page, each
// client also makes the API calls the dashboard page makes (see pageClient).
func runSSE(b *testing.B, recs *eventLines, defs []view.Def, n int, path string, page bool) sseRun {
	hub := viewhttp.NewHub(nil)
	store := view.NewStore(memview.New(), nil)
	w, err := view.NewWriter(store, "w1", defs, &view.WriterOptions{OnWrite: hub.PublishOutputs})
	if err != nil {
		b.Fatal(err)
	}
	// As eddy dev --ui does: the catalog is what the page's API calls look views up in.
	if err := store.PutCatalog(context.Background(), &view.Catalog{Function: "w1", Views: defs,
		Aggregates: []string{"count", "sum", "avg", "min", "max"}}); err != nil {
		b.Fatal(err)
	}
	// As eddy dev --ui serves them (cmd/eddy/ui.go).
	srv := httptest.NewServer((&viewhttp.Server{Store: store, Hub: hub, CacheFor: viewhttp.DefaultInterval}).Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var read, calls, failed atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			if page {
				read.Add(pageClient(ctx, srv.URL, resp.Body, &calls, &failed))
				return
			}
			// Read as a browser does, up to 64 KiB a time (io.Copy to io.Discard reads 8 KiB).
			buf := make([]byte, 64<<10)
			for {
				m, err := resp.Body.Read(buf)
				read.Add(int64(m))
				if err != nil {
					return
				}
			}
		}()
	}
	for hub.Stats().Clients < n {
		time.Sleep(time.Millisecond)
	}
	heapGrowth := sampleHeap()
	lines := &lineSink{w: bufio.NewWriterSize(io.Discard, 1<<20)}
	c0 := cpuTime()
	// Each batch's status goes to the hub, as eddy dev reports it.
	d := runW1Batches(b, recs.len(), recs.batch, view.Tee(lines, w), func(res *core.Result) {
		hub.ObserveBatch("w1", "p0", res, time.Now())
	})
	cpu := cpuTime() - c0
	growth := heapGrowth()
	// Let the clients read what is still pending before counting.
	for deadline := time.Now().Add(2 * time.Second); n > 0 && time.Now().Before(deadline) && hub.Stats().Pending > 0; {
		time.Sleep(5 * time.Millisecond)
	}
	hs := hub.Stats()
	cancel()
	srv.CloseClientConnections()
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d page API calls did not answer 200", failed.Load(), calls.Load())
	}
	return sseRun{d: d, cpu: cpu, heapGrowth: growth, bytes: read.Load(), calls: calls.Load(), hub: hs}
}

// BenchmarkW1View50SSE is the gate "50 concurrent dashboard clients with bounded memory, pipeline
// speed unchanged within 5%": W1 (1 M events, 1,000 keys, batches of 10,000) with a latest and a
// 60-window history view written per batch and a hub publishing outputs and partition status,
// run in alternating pairs without clients and with 50 clients reading the dashboard's stream
// (/api/events as the page opens it) over loopback HTTP in the same process. It reports the
// median of the per-pair wall-time ratios (and CPU-time ratios), the bytes each client read, the
// hub's peak of bytes held for the clients, its bound, and the heap growth with the clients.
//
//	go test ./examples/bench -run '^$' -bench W1View50SSE -benchtime 1x -cpu 2
func BenchmarkW1View50SSE(b *testing.B) {
	benchSSE(b, "/api/events", false)
}

// BenchmarkW1View50Pages is BenchmarkW1View50SSE with clients that also make the page's API
// calls as the dashboard page does (pageClient): after outputs, the keys table (a page of 50 rows
// of the latest view, sorted), after a conflated tick, the chart key's history row; at most once
// per 400 ms each, as the page debounces them.
//
//	go test ./examples/bench -run '^$' -bench W1View50Pages -benchtime 1x -cpu 2
func BenchmarkW1View50Pages(b *testing.B) {
	benchSSE(b, "/api/events", true)
}

// BenchmarkW1View50SSEFull is BenchmarkW1View50SSE with clients reading the full stream (every
// output of every batch, as API clients may ask for).
func BenchmarkW1View50SSEFull(b *testing.B) {
	benchSSE(b, "/api/events?all=1", false)
}

func benchSSE(b *testing.B, path string, page bool) {
	events := 1_000_000
	if page {
		// The page's calls come 400 ms after the outputs that prompt them: a run must last
		// several seconds for them to overlap it, as they would on a steady stream.
		events = 8_000_000
	}
	recs := newEventLines(Generate(1, events, 1000))
	defs := []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "history", Kind: view.History}}
	const pairs = 7
	const clients = 50
	var wall, cpu []float64
	var last sseRun
	var heap, heapOff uint64
	var peak, peakHeld int64
	var dropped int64
	for range b.N {
		for i := range pairs {
			var off, on sseRun
			if i%2 == 0 {
				off = runSSE(b, recs, defs, 0, path, page)
				on = runSSE(b, recs, defs, clients, path, page)
			} else {
				on = runSSE(b, recs, defs, clients, path, page)
				off = runSSE(b, recs, defs, 0, path, page)
			}
			wall = append(wall, on.d.Seconds()/off.d.Seconds())
			cpu = append(cpu, on.cpu.Seconds()/off.cpu.Seconds())
			heap, heapOff = max(heap, on.heapGrowth), max(heapOff, off.heapGrowth)
			peak = max(peak, on.hub.PeakBehind)
			peakHeld = max(peakHeld, on.hub.PeakHeld)
			dropped += on.hub.Dropped
			last = on
			b.Logf("pair %d: off %v on %v wall x%.3f cpu x%.3f, %d B/client, behind peak %d B, held %d B (peak %d B), heap +%d MiB (without clients +%d MiB), dropped %d",
				i, off.d.Round(time.Millisecond), on.d.Round(time.Millisecond), wall[len(wall)-1], cpu[len(cpu)-1],
				on.bytes/clients, on.hub.PeakBehind, on.hub.Held, on.hub.PeakHeld, on.heapGrowth>>20, off.heapGrowth>>20, on.hub.Dropped)
		}
	}
	med := func(v []float64) float64 { s := slices.Clone(v); slices.Sort(s); return s[len(s)/2] }
	b.ReportMetric(100*(med(wall)-1), "50sse_slowdown_%")
	b.ReportMetric(100*(med(cpu)-1), "50sse_cpu_%")
	b.ReportMetric(float64(last.bytes)/clients/(1<<10), "KiB/client")
	if page {
		b.ReportMetric(float64(last.calls)/clients, "api_calls/client")
	}
	b.ReportMetric(float64(peak)/(1<<20), "behind_peak_MiB")
	b.ReportMetric(float64(peakHeld)/(1<<20), "held_peak_MiB")
	b.ReportMetric(float64(last.hub.Bound)/(1<<20), "held_bound_MiB")
	b.ReportMetric(float64(heap)/(1<<20), "heap_growth_MiB")
	b.ReportMetric(float64(heapOff)/(1<<20), "heap_growth_noclients_MiB")
	b.ReportMetric(float64(dropped), "dropped")
}

// pageClient reads an event stream as the dashboard page (core/view/viewhttp/assets/app.js) does,
// and makes its API calls: after an "outputs" event it refetches the keys table, after a
// "conflated" event the chart key's history row, each debounced to at most once per 400 ms, as the
// page's schedule() does. It returns the bytes read, the stream's and the calls', and counts the
// calls and those that did not answer 200.
func pageClient(ctx context.Context, base string, body io.Reader, calls, failed *atomic.Int64) int64 {
	var n atomic.Int64
	var mu sync.Mutex
	pending := map[string]bool{}
	var timer *time.Timer
	fetch := func(path string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		m, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		n.Add(m)
		calls.Add(1)
		if resp.StatusCode != http.StatusOK {
			failed.Add(1)
		}
	}
	schedule := func(part string) {
		mu.Lock()
		defer mu.Unlock()
		pending[part] = true
		if timer != nil {
			return
		}
		timer = time.AfterFunc(400*time.Millisecond, func() {
			mu.Lock()
			parts := pending
			pending, timer = map[string]bool{}, nil
			mu.Unlock()
			if parts["keys"] {
				fetch("/api/functions/w1/views/latest/rows?limit=50&sort=key")
			}
			if parts["chart"] {
				fetch("/api/functions/w1/views/history/rows/sensor-0000")
			}
		})
	}
	r := bufio.NewReaderSize(body, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		n.Add(int64(len(line)))
		switch string(line) {
		case "event: outputs\n":
			schedule("keys")
		case "event: conflated\n":
			schedule("chart")
		}
		if err != nil && err != bufio.ErrBufferFull {
			mu.Lock()
			if timer != nil {
				timer.Stop()
			}
			mu.Unlock()
			return n.Load()
		}
	}
}

// eventLines holds events' JSON lines in one pointer-free buffer and makes core.Records of them a
// batch at a time. Millions of core.Records held at once (their ids, slices) are a heap the
// collector scans on every cycle, which eddy dev, reading its input as it comes, never holds; a
// run with clients, which allocate, pays that scan more often than one without, which made the
// ratio the collector's rather than the clients'.
type eventLines struct {
	data []byte
	ends []int
}

func newEventLines(evs []Event) *eventLines {
	l := &eventLines{data: make([]byte, 0, len(evs)*56), ends: make([]int, len(evs))}
	for i, e := range evs {
		l.data = e.AppendJSON(l.data)
		l.ends[i] = len(l.data)
	}
	return l
}

func (l *eventLines) len() int { return len(l.ends) }

// batch appends records i..j-1 to dst, with the ids and offsets Records gives them.
func (l *eventLines) batch(dst []core.Record, i, j int) []core.Record {
	for ; i < j; i++ {
		start := 0
		if i > 0 {
			start = l.ends[i-1]
		}
		off := strconv.Itoa(i + 1)
		dst = append(dst, core.Record{ID: off, Offset: off, Data: l.data[start:l.ends[i]:l.ends[i]]})
	}
	return dst
}
