package viewhttp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/memview"
	"github.com/eddyhq/eddy/core/view/viewhttp"
	"github.com/eddyhq/eddy/core/view/viewtest"
)

var defs = []view.Def{
	{Name: "latest", Kind: view.Latest},
	{Name: "chart", Kind: view.History, Windows: 10},
	{Name: "alerts", Kind: view.Firing},
	{Name: "log", Kind: view.Decisions},
}

func setup(t *testing.T, hub *viewhttp.Hub) (*view.Writer, *httptest.Server) {
	t.Helper()
	store := view.NewStore(memview.New(), nil)
	ctx := context.Background()
	if err := store.PutCatalog(ctx, &view.Catalog{Function: "fn", Views: defs, Aggregates: []string{"count", "avg"}}); err != nil {
		t.Fatal(err)
	}
	var opts *view.WriterOptions
	if hub != nil {
		opts = &view.WriterOptions{OnWrite: hub.PublishOutputs}
	}
	w, err := view.NewWriter(store, "fn", defs, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&viewhttp.Server{Store: store, Hub: hub, Poll: 50 * time.Millisecond}).Handler())
	t.Cleanup(srv.Close)
	return w, srv
}

// openEvents opens an event stream; the test's end closes it.
func openEvents(t *testing.T, url string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

func TestAPI(t *testing.T) {
	w, srv := setup(t, nil)
	ctx := context.Background()
	var outs []core.Output
	for k := range 7 {
		// avg of key k at window 3 is 3 for every key; count varies: 30+k*... use revisions.
		r := viewtest.Win("fn", fmt.Sprintf("k%d", k), 3, 0)
		r.Values[1].Num = float64((k * 5) % 7) // avg: 0 5 3 1 6 4 2
		outs = append(outs, viewtest.Win("fn", fmt.Sprintf("k%d", k), 2, 0), r)
	}
	outs = append(outs, viewtest.Dec("fn", "hot", "k1", 3, "firing"), viewtest.Dec("fn", "hot", "k2", 3, "firing"), viewtest.Dec("fn", "hot", "k2", 4, "resolved"))
	if err := w.Emit(ctx, outs); err != nil {
		t.Fatal(err)
	}
	var page viewhttp.Page
	getJSON(t, srv.URL+"/api/functions/fn/views/latest/rows?sort=-avg&limit=3", &page)
	var got []string
	for _, r := range page.Rows {
		var l view.LatestRow
		_ = json.Unmarshal(r, &l)
		got = append(got, l.Key)
	}
	if strings.Join(got, ",") != "k4,k1,k5" || page.Total != 7 || page.Next != "3" {
		t.Errorf("sorted by -avg, first page = %v total %d next %q; want k4,k1,k5 of 7, next 3", got, page.Total, page.Next)
	}
	page = viewhttp.Page{}
	getJSON(t, srv.URL+"/api/functions/fn/views/latest/rows?sort=-avg&limit=3&cursor=6", &page)
	if len(page.Rows) != 1 || page.Next != "" {
		t.Errorf("last page has %d rows, next %q; want 1 and none", len(page.Rows), page.Next)
	}
	var h view.HistoryRow
	if code := getJSON(t, srv.URL+"/api/functions/fn/views/chart/rows/k3", &h); code != 200 || len(h.Windows) != 2 {
		t.Errorf("history of k3: %d, %+v", code, h)
	}
	var firing []view.DecisionRow
	getJSON(t, srv.URL+"/api/functions/fn/firing", &firing)
	if len(firing) != 1 || firing[0].Key != "k1" || firing[0].Severity != "critical" {
		t.Errorf("firing = %+v, want k1 only (k2 resolved)", firing)
	}
	var decs []view.DecisionRow
	getJSON(t, srv.URL+"/api/functions/fn/decisions?limit=2", &decs)
	if len(decs) != 2 || decs[0].State != "resolved" {
		t.Errorf("decisions = %+v, want the newest 2, the resolution first", decs)
	}
	for url, want := range map[string]int{
		"/api/functions/nope/views/latest/rows":        404,
		"/api/functions/fn/views/nope/rows":            404,
		"/api/functions/fn/views/latest/rows/zz":       404,
		"/api/functions/fn/views/latest/rows?limit=0":  400,
		"/api/functions/fn/views/alerts/rows?sort=avg": 400,
	} {
		if code := getJSON(t, srv.URL+url, nil); code != want {
			t.Errorf("GET %s = %d, want %d", url, code, want)
		}
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "uPlot.iife.min.js") {
		t.Error("the dashboard page does not load uPlot")
	}
}

// readEvents reads SSE events from r until n events of type typ arrived.
func readEvents(t *testing.T, r *bufio.Reader, typ string, n int) []string {
	t.Helper()
	var out []string
	event := ""
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d %s events: %v", len(out), typ, err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: ") && event == typ:
			out = append(out, line[6:])
		}
	}
	return out
}

func TestEvents(t *testing.T) {
	hub := viewhttp.NewHub(nil)
	w, srv := setup(t, hub)
	resp := openEvents(t, srv.URL+"/api/events")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	readEvents(t, br, "hello", 1)
	for hub.Stats().Clients != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := w.Emit(context.Background(), []core.Output{viewtest.Win("fn", "a", 1, 0), viewtest.Dec("fn", "hot", "a", 1, "firing")}); err != nil {
		t.Fatal(err)
	}
	hub.ObserveBatch("fn", "p0", &core.Result{Watermark: time.Unix(100, 0), Stats: core.Stats{Events: 5, Late: 1, Failed: 2}}, time.Unix(103, 0))
	got := readEvents(t, br, "outputs", 1)
	var outs []map[string]any
	if err := json.Unmarshal([]byte(got[0]), &outs); err != nil || len(outs) != 2 || outs[0]["type"] != "window" || outs[1]["type"] != "decision" {
		t.Errorf("outputs event = %s (%v), want the window and the decision", got[0], err)
	}
	st := readEvents(t, br, "status", 1)
	var ps viewhttp.PartitionStatus
	if err := json.Unmarshal([]byte(st[0]), &ps); err != nil || ps.LagMS != 3000 || ps.Late != 1 || ps.DeadLetters != 2 {
		t.Errorf("status event %s (%v): want lag 3000 ms, 1 late, 2 dead letters", st[0], err)
	}
}

// A client that reads nothing is dropped once it falls a log behind or a write times out, and
// publishing never blocks.
func TestSlowClientDropped(t *testing.T) {
	hub := viewhttp.NewHub(&viewhttp.HubOptions{LogBytes: 1 << 20, WriteTimeout: 200 * time.Millisecond})
	_, srv := setup(t, hub)
	openEvents(t, srv.URL+"/api/events?all=1")
	for hub.Stats().Clients != 1 {
		time.Sleep(time.Millisecond)
	}
	// Big outputs fill the socket buffers, then lap the log; the client never reads.
	big := viewtest.Win("fn", strings.Repeat("k", 64<<10), 1, 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			hub.PublishOutputs([]core.Output{big})
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("publishing blocked on a slow client")
	}
	s := hub.Stats()
	for i := 0; i < 3000 && s.Clients != 0; i++ {
		time.Sleep(10 * time.Millisecond)
		s = hub.Stats()
	}
	if s.Dropped != 1 || s.Clients != 0 {
		t.Errorf("hub stats %+v, want the slow client dropped", s)
	}
}

// A client that falls more than the log behind is told so in a "dropped" event, and its stream
// ends (a browser reconnects after the retry hint and the page reloads from the API).
func TestDroppedEvent(t *testing.T) {
	hub := viewhttp.NewHub(&viewhttp.HubOptions{LogBytes: 256 << 10, Interval: 200 * time.Millisecond})
	_, srv := setup(t, hub)
	resp := openEvents(t, srv.URL+"/api/events?all=1")
	br := bufio.NewReader(resp.Body)
	if h := readEvents(t, br, "hello", 1); !strings.Contains(h[0], `"live":true`) {
		t.Errorf("hello %s", h[0])
	}
	for hub.Stats().Clients != 1 {
		time.Sleep(time.Millisecond)
	}
	hub.PublishOutputs([]core.Output{viewtest.Win("fn", "a", 1, 0)})
	readEvents(t, br, "outputs", 1)
	// Within the client's interval, one batch of 1 MiB laps its 256 KiB log.
	outs := make([]core.Output, 1024)
	for i := range outs {
		outs[i] = viewtest.Win("fn", fmt.Sprintf("%01000d", i), 2, 0)
	}
	hub.PublishOutputs(outs)
	if got := readEvents(t, br, "dropped", 1)[0]; !strings.Contains(got, "behind") {
		t.Errorf("dropped event %s", got)
	}
	if rest, err := io.ReadAll(br); err != nil || strings.TrimSpace(string(rest)) != "" {
		t.Errorf("after the dropped event: %q, %v; want the end of the stream", rest, err)
	}
	if s := hub.Stats(); s.Dropped != 1 {
		t.Errorf("hub stats %+v, want one client dropped", s)
	}
}

// The dashboard's stream (the default) sends, per tick, the newest output per key and says how
// many it replaced; ?all=1 sends every output.
func TestEventsNewestPerKey(t *testing.T) {
	hub := viewhttp.NewHub(&viewhttp.HubOptions{Interval: 20 * time.Millisecond})
	_, srv := setup(t, hub)
	open := func(path string) *bufio.Reader {
		br := bufio.NewReader(openEvents(t, srv.URL+path).Body)
		readEvents(t, br, "hello", 1)
		return br
	}
	latest, all := open("/api/events"), open("/api/events?all=1")
	for hub.Stats().Clients != 2 {
		time.Sleep(time.Millisecond)
	}
	hub.PublishOutputs([]core.Output{viewtest.Win("fn", "a", 1, 0), viewtest.Win("fn", "b", 1, 0), viewtest.Win("fn", "a", 2, 0),
		viewtest.Dec("fn", "hot", "a", 1, "pending"), viewtest.Win("fn", "a", 3, 0), viewtest.Dec("fn", "hot", "a", 1, "firing")})
	keys := func(data string) string {
		var outs []struct {
			Type, Key, State string
			End              time.Time
		}
		if err := json.Unmarshal([]byte(data), &outs); err != nil {
			t.Fatalf("outputs %s: %v", data, err)
		}
		var b strings.Builder
		for _, o := range outs {
			fmt.Fprintf(&b, "%s:%s:%s%s ", o.Type, o.Key, o.End.Format("15:04"), o.State)
		}
		return b.String()
	}
	if got, want := keys(readEvents(t, latest, "outputs", 1)[0]), "window:b:12:02 window:a:12:04 decision:a:00:00firing "; got != want {
		t.Errorf("newest per key: %q, want %q", got, want)
	}
	if got := readEvents(t, latest, "conflated", 1)[0]; got != `{"outputs":3}` {
		t.Errorf("conflated event %s, want 3 outputs replaced", got)
	}
	if got, want := keys(readEvents(t, all, "outputs", 1)[0]), "window:a:12:02 window:b:12:02 window:a:12:03 decision:a:00:00pending window:a:12:04 decision:a:00:00firing "; got != want {
		t.Errorf("every output: %q, want %q", got, want)
	}
}

// 50 clients of the dashboard's stream all see every key's newest window while a producer
// publishes far faster than they are written to; none is dropped, and the Hub holds no more than
// its bound.
func TestManyClients(t *testing.T) {
	hub := viewhttp.NewHub(&viewhttp.HubOptions{Interval: 10 * time.Millisecond})
	_, srv := setup(t, hub)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const clients, keys, rounds = 50, 100, 200
	type seen struct {
		last map[string]time.Time
		err  error
	}
	results := make(chan seen, clients)
	for range clients {
		go func() {
			sn := seen{last: map[string]time.Time{}}
			defer func() { results <- sn }()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				sn.err = err
				return
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			event := ""
			for len(sn.last) < keys || !allAt(sn.last, rounds) {
				line, err := br.ReadString('\n')
				if err != nil {
					sn.err = fmt.Errorf("after %d keys: %w", len(sn.last), err)
					return
				}
				switch {
				case strings.HasPrefix(line, "event: "):
					event = strings.TrimSpace(line[7:])
				case strings.HasPrefix(line, "data: ") && event == "outputs":
					var outs []struct {
						Key string
						End time.Time
					}
					if err := json.Unmarshal([]byte(line[6:]), &outs); err != nil {
						sn.err = err
						return
					}
					for _, o := range outs {
						sn.last[o.Key] = o.End
					}
				}
			}
		}()
	}
	for hub.Stats().Clients != clients {
		time.Sleep(time.Millisecond)
	}
	var peak int64
	for i := 1; i <= rounds; i++ {
		outs := make([]core.Output, keys)
		for k := range outs {
			outs[k] = viewtest.Win("fn", fmt.Sprintf("k%03d", k), i, 0)
		}
		hub.PublishOutputs(outs)
		hub.ObserveBatch("fn", "p0", &core.Result{Stats: core.Stats{Events: keys}}, time.Now())
		if s := hub.Stats(); s.Held > s.Bound {
			t.Fatalf("round %d: the hub holds %d bytes, over its bound %d", i, s.Held, s.Bound)
		} else {
			peak = max(peak, s.Held)
		}
	}
	for range clients {
		if sn := <-results; sn.err != nil {
			t.Fatal(sn.err)
		}
	}
	s := hub.Stats()
	if s.Dropped != 0 {
		t.Errorf("%d clients dropped", s.Dropped)
	}
	t.Logf("%d clients: %d bytes written, the hub held at most %d bytes (bound %d), a client at most %d bytes behind",
		clients, s.Written, peak, s.Bound, s.PeakBehind)
}

// allAt reports whether every key's newest window is window i's.
func allAt(last map[string]time.Time, i int) bool {
	want := viewtest.Win("fn", "", i, 0).End
	for _, e := range last {
		if !e.Equal(want) {
			return false
		}
	}
	return true
}

// Without a hub (a dashboard over a cloud store) the stream tells pages to reload.
func TestEventsPoll(t *testing.T) {
	_, srv := setup(t, nil)
	resp, err := http.Get(srv.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if h := readEvents(t, br, "hello", 1); h[0] != `{"live":false}` {
		t.Errorf("hello = %s", h[0])
	}
	readEvents(t, br, "refresh", 2)
}

// bufferedWriter is a ResponseWriter without http.Flusher, as a host that buffers the whole
// response (a Lambda function URL) gives.
type bufferedWriter struct {
	h    http.Header
	code int
	body strings.Builder
}

func (b *bufferedWriter) Header() http.Header         { return b.h }
func (b *bufferedWriter) WriteHeader(code int)        { b.code = code }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }

// Where responses cannot stream, the event stream ends after the hello with the poll interval as
// the retry hint, so that browsers poll by reconnecting.
func TestEventsBuffered(t *testing.T) {
	store := view.NewStore(memview.New(), nil)
	h := (&viewhttp.Server{Store: store, Poll: 7 * time.Second}).Handler()
	w := &bufferedWriter{h: http.Header{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/api/events", nil)
	h.ServeHTTP(w, req) // returns at once: a buffered host would otherwise hold it until timeout
	if ctx.Err() != nil {
		t.Fatal("the event stream did not end on a buffered writer")
	}
	if w.code != 200 || w.h.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", w.code, w.h.Get("Content-Type"))
	}
	if want := "retry: 7000\nevent: hello\ndata: {\"live\":false,\"once\":true}\n\n"; w.body.String() != want {
		t.Errorf("body %q, want %q", w.body.String(), want)
	}
}
