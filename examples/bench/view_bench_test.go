package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/memview"
	"github.com/eddyhq/eddy/core/view/viewhttp"
)

// lineSink writes each output as a JSON line to a discarding writer, as eddy replay does.
type lineSink struct {
	w   *bufio.Writer
	buf []byte
}

func (s *lineSink) Emit(_ context.Context, outs []core.Output) error {
	for _, o := range outs {
		s.buf = append(o.AppendJSON(s.buf[:0]), '\n')
		s.w.Write(s.buf)
	}
	return nil
}

type emitter interface {
	Emit(ctx context.Context, outs []core.Output) error
}

// cpuTime is the process's user and system CPU time so far: on a machine shared with other jobs
// it drifts less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runW1Sink runs W1 over recs in batches of 10,000, handing each batch's outputs to sink at once
// as the Runner does, and returns the elapsed time.
func runW1Sink(b *testing.B, recs []core.Record, sink emitter) time.Duration {
	return runW1Batches(b, len(recs), func(_ []core.Record, i, j int) []core.Record { return recs[i:j] }, sink, nil)
}

// runW1Batches runs W1 over n records that batch gives (records i..j-1, appended to dst or sliced)
// in batches of 10,000, handing each batch's outputs to sink at once as the Runner does, and each
// batch's result to observe if set; it returns the elapsed time.
func runW1Batches(b *testing.B, n int, batch func(dst []core.Record, i, j int) []core.Record, sink emitter, observe func(*core.Result)) time.Duration {
	p, err := Build(W1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var outs []core.Output
	collect := func(o core.Output) { outs = append(outs, core.CloneOutput(o)) }
	start := time.Now()
	var recs []core.Record
	for i := 0; i < n; i += 10000 {
		outs = outs[:0]
		recs = batch(recs[:0], i, min(i+10000, n))
		res, err := p.Run(ctx, core.Batch{Partition: "p0", Records: recs, Now: time.Unix(0, 0)}, collect)
		if err != nil {
			b.Fatal(err)
		}
		if err := sink.Emit(ctx, outs); err != nil {
			b.Fatal(err)
		}
		if observe != nil {
			observe(&res)
		}
	}
	outs = outs[:0]
	if _, err := p.Flush(ctx, collect); err != nil {
		b.Fatal(err)
	}
	if err := sink.Emit(ctx, outs); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkW1View runs W1 (1 M events, 1,000 keys, batches of 10,000) four ways, alternating so
// that a loaded machine's drift hits all alike: results written as JSON lines only ("off"); also
// kept in a latest and a 60-window history view in memory, written per batch as under a Runner
// ("views"), or in the latest view alone ("latest_only"); the same through a view.Buffer flushed at the end, as a replay may
// ("replay_buffered_views"); and written per batch and streamed to 50 Server-Sent Events clients
// reading over loopback HTTP ("views+50sse"). It reports the median events/s of
// each and the slowdowns, the store round trips per batch, and the heap growth with the clients.
//
//	go test ./examples/bench -run '^$' -bench W1View -benchtime 1x
func BenchmarkW1View(b *testing.B) {
	recs := Records(Generate(1, 1_000_000, 1000))
	const rounds = 5
	lines := func() *lineSink { return &lineSink{w: bufio.NewWriterSize(io.Discard, 1<<20)} }
	defs := []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "history", Kind: view.History}}
	var off, on, sse, buffered []time.Duration
	var offCPU, onCPU, bufCPU, latestCPU, latest []time.Duration
	var st view.Stats
	var heapGrowth uint64
	var hubStats viewhttp.HubStats
	for range b.N {
		for range rounds {
			c0 := cpuTime()
			off = append(off, runW1Sink(b, recs, lines()))
			offCPU = append(offCPU, cpuTime()-c0)

			store := view.NewStore(memview.New(), nil)
			w, err := view.NewWriter(store, "w1", defs, nil)
			if err != nil {
				b.Fatal(err)
			}
			c0 = cpuTime()
			on = append(on, runW1Sink(b, recs, view.Tee(lines(), w)))
			onCPU = append(onCPU, cpuTime()-c0)
			st = store.Stats()

			store1 := view.NewStore(memview.New(), nil)
			w1, err := view.NewWriter(store1, "w1", defs[:1], nil)
			if err != nil {
				b.Fatal(err)
			}
			c0 = cpuTime()
			latest = append(latest, runW1Sink(b, recs, view.Tee(lines(), w1)))
			latestCPU = append(latestCPU, cpuTime()-c0)

			store = view.NewStore(memview.New(), nil)
			if w, err = view.NewWriter(store, "w1", defs, nil); err != nil {
				b.Fatal(err)
			}
			buf := view.NewBuffer(w, 0)
			start, c0 := time.Now(), cpuTime()
			runW1Sink(b, recs, view.Tee(lines(), buf))
			if err := buf.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			buffered = append(buffered, time.Since(start))
			bufCPU = append(bufCPU, cpuTime()-c0)

			d, g, hs := runWithClients(b, recs, lines, defs, 50)
			sse = append(sse, d)
			heapGrowth = max(heapGrowth, g)
			hubStats = hs
		}
	}
	evs := func(d time.Duration) float64 { return float64(len(recs)) / d.Seconds() }
	mo, mv, ms := median(off), median(on), median(sse)
	b.ReportMetric(evs(mo), "off_events/s")
	b.ReportMetric(evs(mv), "views_events/s")
	b.ReportMetric(evs(ms), "views+50sse_events/s")
	b.ReportMetric(100*(mv.Seconds()/mo.Seconds()-1), "views_slowdown_%")
	b.ReportMetric(100*(median(buffered).Seconds()/mo.Seconds()-1), "replay_buffered_views_slowdown_%")
	b.ReportMetric(100*(ms.Seconds()/mv.Seconds()-1), "50sse_slowdown_%")
	b.ReportMetric(100*(median(onCPU).Seconds()/median(offCPU).Seconds()-1), "views_cpu_%")
	b.ReportMetric(100*(median(bufCPU).Seconds()/median(offCPU).Seconds()-1), "replay_buffered_views_cpu_%")
	b.ReportMetric(100*(median(latestCPU).Seconds()/median(offCPU).Seconds()-1), "latest_only_cpu_%")
	b.ReportMetric(100*(median(latest).Seconds()/mo.Seconds()-1), "latest_only_slowdown_%")
	b.ReportMetric(float64(st.RoundTrips)/float64(st.Applies), "round_trips/batch")
	b.ReportMetric(float64(st.Written)/float64(st.Applies), "rows_written/batch")
	b.ReportMetric(float64(heapGrowth)/(1<<20), "50sse_heap_growth_MiB")
	b.ReportMetric(float64(hubStats.Written)/50/(1<<10), "sse_KiB/client")
	b.ReportMetric(float64(hubStats.PeakBehind)/(1<<20), "sse_behind_peak_MiB")
	b.ReportMetric(float64(hubStats.Dropped), "sse_dropped")
}

// runWithClients runs W1 with views and n SSE clients reading /api/events, and returns the
// elapsed time, the growth of the heap in use over the run (sampled), and the hub's counters.
func runWithClients(b *testing.B, recs []core.Record, lines func() *lineSink, defs []view.Def, n int) (time.Duration, uint64, viewhttp.HubStats) {
	hub := viewhttp.NewHub(nil)
	store := view.NewStore(memview.New(), nil)
	w, err := view.NewWriter(store, "w1", defs, &view.WriterOptions{OnWrite: hub.PublishOutputs})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer((&viewhttp.Server{Store: store, Hub: hub}).Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
		}()
	}
	for hub.Stats().Clients < n {
		time.Sleep(time.Millisecond)
	}
	heapGrowth := sampleHeap()
	d := runW1Sink(b, recs, view.Tee(lines(), w))
	growth := heapGrowth()
	hs := hub.Stats()
	cancel()
	srv.CloseClientConnections()
	wg.Wait()
	return d, growth, hs
}

// BenchmarkViewWrite measures one batch's view write as the number of keys it touches grows: the
// store round trips stay at 2 (one batched read, one batched conditional write) and the rows
// written equal the keys touched.
func BenchmarkViewWrite(b *testing.B) {
	for _, keys := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			store := view.NewStore(memview.New(), nil)
			w, err := view.NewWriter(store, "w1", []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "history", Kind: view.History}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Unix(0, 0).UTC()
			outs := make([]core.Output, keys)
			b.ResetTimer()
			for i := range b.N {
				for k := range outs {
					s := t0.Add(time.Duration(i) * time.Minute)
					outs[k] = &core.WindowResult{Function: "w1", Key: fmt.Sprintf("k%05d", k), Start: s, End: s.Add(time.Minute),
						Values: []core.NamedValue{{Name: "count", Num: float64(i)}, {Name: "avg", Num: 1.5}}}
				}
				if err := w.Emit(context.Background(), outs); err != nil {
					b.Fatal(err)
				}
			}
			st := store.Stats()
			b.ReportMetric(float64(st.RoundTrips)/float64(st.Applies), "round_trips/batch")
			b.ReportMetric(float64(st.Written)/float64(st.Applies), "rows/batch")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*keys), "ns/key")
		})
	}
}

// sampleHeap collects garbage, then samples the heap in use every 20 ms until the function it
// returns is called; that returns the peak less the heap at the start.
func sampleHeap() func() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-sampled
		if peak > base {
			return peak - base
		}
		return 0
	}
}
