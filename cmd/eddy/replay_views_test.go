package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/codec"

	"github.com/eddyhq/eddy/core/view"
)

// eddy replay --view-store writes the backtest's views (here the views eddy dev keeps, as the
// spec declares none): each key's newest window, every window in its history, every decision and
// each alert's last transition, the same for any number of workers and exactly what the replay
// printed.
func TestReplayViewStore(t *testing.T) {
	ctx := context.Background()
	var stores []*view.Store
	for _, workers := range []string{"1", "3"} {
		dir := t.TempDir()
		r := eddy(t, "", "replay", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson", "--workers", workers, "--view-store", "file://"+dir)
		if r.code != 0 {
			t.Fatalf("workers %s: exit %d: %s", workers, r.code, r.stderr)
		}
		store, err := view.Open(ctx, "file://"+dir)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		stores = append(stores, store)

		type out struct {
			Type, Key, ID, Rule, State string
			End                        string          `json:"end"`
			Values                     json.RawMessage `json:"values"`
		}
		newest, windows, decisions := map[string]out{}, map[string]int{}, 0
		for _, l := range lines(r.stdout) {
			var o out
			if err := json.Unmarshal([]byte(l), &o); err != nil {
				t.Fatal(err)
			}
			switch o.Type {
			case "window":
				windows[o.Key]++
				if o.End > newest[o.Key].End {
					newest[o.Key] = o
				}
			case "decision":
				decisions++
			}
		}
		latest, err := store.Scan(ctx, "alarms", "latest")
		if err != nil || len(latest) != len(newest) || len(newest) == 0 {
			t.Fatalf("workers %s: %d latest rows (%v), want %d", workers, len(latest), err, len(newest))
		}
		for _, row := range latest {
			var l view.LatestRow
			if err := json.Unmarshal(row.Data, &l); err != nil {
				t.Fatal(err)
			}
			want := newest[row.Key]
			if l.End.Format("2006-01-02T15:04:05.000Z") != want.End || string(l.Values) != string(want.Values) {
				t.Errorf("workers %s: latest of %s: %s, want the window ending %s with %s", workers, row.Key, row.Data, want.End, want.Values)
			}
			h, ok, err := store.Get(ctx, "alarms", "history", row.Key)
			var hr view.HistoryRow
			if err != nil || !ok || json.Unmarshal(h.Data, &hr) != nil || len(hr.Windows) != windows[row.Key] {
				t.Errorf("workers %s: history of %s has %d windows, want %d", workers, row.Key, len(hr.Windows), windows[row.Key])
			}
		}
		if ds, err := store.Scan(ctx, "alarms", "decisions"); err != nil || len(ds) != decisions || decisions == 0 {
			t.Errorf("workers %s: %d decision rows (%v), want the %d printed", workers, len(ds), err, decisions)
		}
		if cats, err := store.Catalogs(ctx); err != nil || len(cats) != 1 || len(cats[0].Views) != 4 {
			t.Errorf("workers %s: catalogs %+v %v", workers, cats, err)
		}
	}
	for _, v := range []string{"latest", "history", "firing", "decisions"} {
		a, _ := stores[0].Scan(ctx, "alarms", v)
		b, _ := stores[1].Scan(ctx, "alarms", v)
		if len(a) != len(b) {
			t.Fatalf("view %s: %d rows with 1 worker, %d with 3", v, len(a), len(b))
		}
		for i := range a {
			if a[i].Key != b[i].Key || string(a[i].Data) != string(b[i].Data) {
				t.Errorf("view %s row %s: 1 worker %s, 3 workers %s", v, a[i].Key, a[i].Data, b[i].Data)
			}
		}
	}
}

// An unknown view store is an error before anything runs, naming the flag.
func TestReplayViewStoreErrors(t *testing.T) {
	r := eddy(t, "", "replay", "--spec", "testdata/alarms.yaml", "--input", "testdata/readings.ndjson", "--view-store", "redis://cache/views")
	if r.code == 0 || !strings.Contains(r.stderr, "--view-store") || !strings.Contains(r.stderr, `no driver for scheme "redis"`) || r.stdout != "" {
		t.Errorf("exit %d, stdout %d bytes, stderr %s: want an error naming --view-store and the scheme", r.code, len(r.stdout), r.stderr)
	}
}

// BenchmarkReplayW1View is the views' speed target: `eddy replay` of W1 (1 M events, 1,000 keys,
// in memory, default batch and workers) without views and with --view-store mem:// (W1 declares
// none, so the latest and 120-window history views eddy dev keeps), run alternately so a shared
// machine's drift hits both alike. It reports the CPU time per event of each, the median of the
// per-pair ratios (view_cpu_ratio; the target is at most 1.05), and rows written.
//
//	go test ./cmd/eddy -run '^$' -bench ReplayW1View -benchtime 5x -cpu 1
func BenchmarkReplayW1View(b *testing.B) {
	const n = 1_000_000
	in := w1Input(b)
	f, c, err := loadSpec("../../examples/bench/w1.yaml")
	if err != nil {
		b.Fatal(err)
	}
	workers := runtime.GOMAXPROCS(0)
	bs := defaultBatch(workers)
	heap := newHeapBudget()
	defer heap.restore()
	ctx := context.Background()
	run := func(views *replayViews) time.Duration {
		var tees []func(*splitRun)
		if views != nil {
			tees = append(tees, views.attach)
		}
		cpu0 := cpuTime()
		st, err := runReplayFrom(ctx, c, mustLines(b, in), io.Discard, nil, bs, workers, heap.check, tees...)
		if err == nil && views != nil {
			err = views.flush(ctx)
		}
		if err != nil {
			b.Fatal(err)
		}
		if st.Events != n {
			b.Fatalf("%d events", st.Events)
		}
		return cpuTime() - cpu0
	}
	var off, on []time.Duration
	var ratios []float64
	var written int64
	b.ResetTimer()
	for range b.N {
		o := run(nil)
		views, err := openReplayViews(ctx, f, "mem://")
		if err != nil {
			b.Fatal(err)
		}
		v := run(views)
		written = views.w.Store().Stats().Written
		off, on = append(off, o), append(on, v)
		ratios = append(ratios, v.Seconds()/o.Seconds())
	}
	slices.Sort(ratios)
	b.ReportMetric(float64(median(off).Nanoseconds())/n, "off_cpu-ns/event")
	b.ReportMetric(float64(median(on).Nanoseconds())/n, "view_cpu-ns/event")
	b.ReportMetric(ratios[len(ratios)/2], "view_cpu_ratio")
	b.ReportMetric(float64(written), "rows_written")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func mustLines(b *testing.B, in []byte) recordSource {
	lines, err := codec.NewLines(bytes.NewReader(in), "w1")
	if err != nil {
		b.Fatal(err)
	}
	return lines
}
