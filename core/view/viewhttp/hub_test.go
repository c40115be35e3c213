package viewhttp

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// BenchmarkPublishOutputs measures what publishing a batch of 1,000 window results costs the
// pipeline with one client of each stream connected (the cost does not grow with clients): ns and
// allocations per output.
//
//	go test ./core/view/viewhttp -run '^$' -bench PublishOutputs -benchmem
func BenchmarkPublishOutputs(b *testing.B) {
	t0 := time.Unix(0, 0).UTC()
	outs := make([]core.Output, 1000)
	for k := range outs {
		outs[k] = &core.WindowResult{Function: "w1", Key: fmt.Sprintf("sensor-%04d", k), Start: t0, End: t0.Add(time.Minute),
			Values: []core.NamedValue{{Name: "count", Num: 17}, {Name: "sum", Num: 800.25}, {Name: "avg", Num: 47.07}, {Name: "min", Num: 0.25}, {Name: "max", Num: 99.75}}}
	}
	for _, c := range []struct {
		name   string
		latest bool
	}{{"newest_per_key", true}, {"all", false}} {
		b.Run(c.name, func(b *testing.B) {
			h := NewHub(&HubOptions{Interval: time.Hour})
			cl := h.subscribe(c.latest)
			defer h.unsubscribe(cl, false)
			buf := make([]byte, clientChunk)
			b.ReportAllocs()
			for i := range b.N {
				h.PublishOutputs(outs)
				if i%16 == 15 { // a tick every 16 batches; the client reads it all
					h.mu.Lock()
					if c.latest {
						h.seal(time.Now())
					}
					h.mu.Unlock()
					for {
						n, behind := h.read(cl, buf)
						if behind {
							b.Fatal("behind")
						}
						if n == 0 {
							break
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(outs)), "ns/output")
		})
	}
}

// BenchmarkTick50 measures what one tick of the dashboard's stream costs the process, in CPU time,
// with 50 clients reading it over loopback HTTP in the same process (their reading included): a
// tick of 1,000 keys' newest windows (about 250 KB) written to each client. Multiplied by the ticks
// a second (at most 4, and at most TickRate bytes a second), it is what 50 dashboards cost.
//
//	go test ./core/view/viewhttp -run '^$' -bench Tick50 -benchtime 20x
func BenchmarkTick50(b *testing.B) {
	const clients = 50
	h := NewHub(&HubOptions{Interval: time.Millisecond, TickRate: 1 << 30})
	srv := httptest.NewServer((&Server{Hub: h}).Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var read atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := resp.Body.Read(buf)
				read.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	for h.Stats().Clients < clients {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the hellos
	t0 := time.Unix(0, 0).UTC()
	outs := make([]core.Output, 1000)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	var bytes int64
	b.ResetTimer()
	for i := range b.N {
		for k := range outs {
			s := t0.Add(time.Duration(i) * time.Minute)
			outs[k] = &core.WindowResult{Function: "w1", Key: fmt.Sprintf("sensor-%04d", k), Start: s, End: s.Add(time.Minute),
				Values: []core.NamedValue{{Name: "count", Num: 17}, {Name: "sum", Num: 800.25}, {Name: "avg", Num: 47.07}, {Name: "min", Num: 0.25}, {Name: "max", Num: 99.75}}}
		}
		before := read.Load()
		h.PublishOutputs(outs)
		// Wait for the tick, then until every client has it.
		var tick int64
		for tick <= bytes {
			time.Sleep(100 * time.Microsecond)
			h.mu.Lock()
			tick = int64(h.latest.head)
			h.mu.Unlock()
		}
		for read.Load() < before+clients*(tick-bytes) {
			time.Sleep(100 * time.Microsecond)
		}
		bytes = tick
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu_ms/tick")
	b.ReportMetric(float64(bytes)/float64(b.N)/1024, "KiB/tick/client")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(bytes*clients), "cpu_ns/byte")
	cancel()
	srv.CloseClientConnections()
	wg.Wait()
}

// A tick keeps each partition's newest status and each key's newest output; only replaced
// outputs count in the "conflated" event.
func TestTickNewest(t *testing.T) {
	h := NewHub(&HubOptions{Interval: time.Hour})
	c := h.subscribe(true)
	defer h.unsubscribe(c, false)
	t0 := time.Unix(0, 0).UTC()
	win := func(key string, i int) core.Output {
		s := t0.Add(time.Duration(i) * time.Minute)
		return &core.WindowResult{Function: "fn", Key: key, Start: s, End: s.Add(time.Minute), Values: []core.NamedValue{{Name: "count", Num: float64(i)}}}
	}
	h.ObserveBatch("fn", "p0", &core.Result{Stats: core.Stats{Events: 1}}, t0)
	h.PublishOutputs([]core.Output{win("a", 1), win("b", 1)})
	h.ObserveBatch("fn", "p0", &core.Result{Stats: core.Stats{Events: 2}}, t0)
	h.PublishOutputs([]core.Output{win("a", 2)})
	h.mu.Lock()
	h.seal(t0)
	h.mu.Unlock()
	buf := make([]byte, clientChunk)
	n, behind := h.read(c, buf)
	if behind {
		t.Fatal("behind")
	}
	got := string(buf[:n])
	if strings.Count(got, "event: status") != 1 || !strings.Contains(got, `"batches":2`) {
		t.Errorf("want one status event, the newest:\n%s", got)
	}
	if !strings.Contains(got, "event: conflated\ndata: {\"outputs\":1}\n\n") {
		t.Errorf("want one output replaced:\n%s", got)
	}
	if strings.Count(got, `"type":"window"`) != 2 || !strings.Contains(got, `"count":2`) {
		t.Errorf("want a's second window and b's:\n%s", got)
	}
}
