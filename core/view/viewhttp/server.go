// Package viewhttp serves a function's materialized views over HTTP as JSON, a Server-Sent Events
// stream of its live outputs, and the dashboard page (embedded; uPlot 1.6.32 vendored under
// assets/uplot), so `go install` needs no npm.
//
// Routes (all GET, JSON unless said):
//
//	/                                         the dashboard
//	/api/functions                            the catalogs: each function's views, aggregates, rules
//	/api/functions/{fn}/views/{view}/rows     a view's rows: ?sort=key|NAME|-NAME&limit=50&cursor=C
//	/api/functions/{fn}/views/{view}/rows/{key}  one row (a latest window, a key's history...)
//	/api/functions/{fn}/firing                the pending and firing alerts of every firing view
//	/api/functions/{fn}/decisions?limit=100   the newest decisions of the first decisions view
//	/api/status                               partition status (watermark, lag, late, dead letters)
//	/api/events                               text/event-stream: "outputs" events (a JSON array of
//	                                          outputs in the output contract's JSON), "status",
//	                                          "conflated", "dropped" and "refresh" events; the
//	                                          newest output per key each tick, or with ?all=1
//	                                          every output (see Hub)
package viewhttp

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
)

//go:embed assets
var assets embed.FS

// Server serves the API and the dashboard over a view store.
type Server struct {
	// Store holds the views.
	Store *view.Store
	// Hub, if set, streams a live function's outputs and partition status; without it the event
	// stream sends a "refresh" event every Poll so pages reload from the store.
	Hub *Hub
	// Poll is the refresh interval without a Hub (default 5s).
	Poll time.Duration
	// MaxRows bounds the rows one list request reads from the store (default 100,000): sorting by
	// an aggregate reads the whole view.
	MaxRows int
	// Logger gets request errors (slog.Default() if nil).
	Logger *slog.Logger
	// CacheFor, if positive, lets one read of the store answer every identical view request (same
	// path and query: the catalogs, a view's rows, one row, firing, decisions) for that long, and
	// requests that arrive while it is read wait for it. Open dashboards refetch the same tables
	// after the same tick of the event stream, so fifty pages then cost one scan of a view rather
	// than fifty. Answers are at most CacheFor older than the store; the cache holds at most 4 MiB
	// of answers. Zero: every request reads the store.
	CacheFor time.Duration
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /", http.FileServerFS(sub))
	read := func(h http.HandlerFunc) http.HandlerFunc { return h }
	if s.CacheFor > 0 {
		read = newRespCache(s.CacheFor).wrap
	}
	mux.HandleFunc("GET /api/functions", read(s.functions))
	mux.HandleFunc("GET /api/functions/{fn}/views/{view}/rows", read(s.rows))
	mux.HandleFunc("GET /api/functions/{fn}/views/{view}/rows/{key...}", read(s.row))
	mux.HandleFunc("GET /api/functions/{fn}/firing", read(s.firing))
	mux.HandleFunc("GET /api/functions/{fn}/decisions", read(s.decisions))
	mux.HandleFunc("GET /api/status", s.status)
	mux.HandleFunc("GET /api/events", s.events)
	return mux
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code >= 500 {
		s.logger().ErrorContext(r.Context(), "view API", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func (s *Server) functions(w http.ResponseWriter, r *http.Request) {
	cs, err := s.Store.Catalogs(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, cs)
}

// catalog finds fn's catalog and the named view in it.
func (s *Server) catalog(ctx context.Context, fn string) (*view.Catalog, error) {
	cs, err := s.Store.Catalogs(ctx)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].Function == fn {
			return &cs[i], nil
		}
	}
	return nil, nil
}

func (s *Server) viewOf(w http.ResponseWriter, r *http.Request) (view.Def, bool) {
	fn, name := r.PathValue("fn"), r.PathValue("view")
	c, err := s.catalog(r.Context(), fn)
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err)
		return view.Def{}, false
	}
	if c == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Errorf("no function %q in the view store", fn))
		return view.Def{}, false
	}
	d, ok := c.View(name)
	if !ok {
		s.fail(w, r, http.StatusNotFound, fmt.Errorf("function %q has no view %q", fn, name))
		return view.Def{}, false
	}
	return d, true
}

// Page is one page of a view's rows.
type Page struct {
	// Rows are the rows' JSON (view.LatestRow, view.HistoryRow or view.DecisionRow).
	Rows []json.RawMessage `json:"rows"`
	// Total is the number of rows in the view.
	Total int `json:"total"`
	// Next is the cursor of the next page ("" on the last).
	Next string `json:"next,omitempty"`
}

// sortValue reads a row's value of the aggregate name: a latest row's, or a history row's newest
// window's. Missing and null values are NaN, sorted last.
func sortValue(data json.RawMessage, name string) float64 {
	var row struct {
		Values  map[string]json.RawMessage `json:"values"`
		Windows []struct {
			Values map[string]json.RawMessage `json:"values"`
		} `json:"windows"`
	}
	if json.Unmarshal(data, &row) != nil {
		return math.NaN()
	}
	vals := row.Values
	if n := len(row.Windows); n > 0 {
		vals = row.Windows[n-1].Values
	}
	f, err := strconv.ParseFloat(string(vals[name]), 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

func (s *Server) scan(ctx context.Context, fn, name string) ([]view.Row, error) {
	rows, err := s.Store.Scan(ctx, fn, name)
	if err != nil {
		return nil, err
	}
	if max := cmp.Or(s.MaxRows, 100_000); len(rows) > max {
		return nil, fmt.Errorf("view %s/%s has %d rows, over this server's limit of %d", fn, name, len(rows), max)
	}
	return rows, nil
}

func (s *Server) rows(w http.ResponseWriter, r *http.Request) {
	d, ok := s.viewOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, http.StatusBadRequest, fmt.Errorf("limit %q: want 1..1000", v))
			return
		}
		limit = n
	}
	offset := 0
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, r, http.StatusBadRequest, fmt.Errorf("cursor %q: not a cursor from this API", v))
			return
		}
		offset = n
	}
	rows, err := s.scan(r.Context(), r.PathValue("fn"), d.Name)
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err)
		return
	}
	sortBy := q.Get("sort")
	desc := strings.HasPrefix(sortBy, "-")
	sortBy = strings.TrimPrefix(sortBy, "-")
	switch {
	case sortBy == "" || sortBy == "key":
		if desc {
			slices.Reverse(rows)
		}
	case d.Kind == view.Firing || d.Kind == view.Decisions:
		if sortBy != "time" {
			s.fail(w, r, http.StatusBadRequest, fmt.Errorf("sort %q: a %s view sorts by key or time", sortBy, d.Kind))
			return
		}
		sortRows(rows, desc, func(r view.Row) float64 { return float64(decisionTime(r.Data).UnixNano()) })
	default:
		sortRows(rows, desc, func(r view.Row) float64 { return sortValue(r.Data, sortBy) })
	}
	p := Page{Total: len(rows), Rows: []json.RawMessage{}}
	for i := offset; i < len(rows) && i < offset+limit; i++ {
		p.Rows = append(p.Rows, rows[i].Data)
	}
	if offset+limit < len(rows) {
		p.Next = strconv.Itoa(offset + limit)
	}
	writeJSON(w, p)
}

// sortRows sorts by value (NaN last), ties by key, stably.
func sortRows(rows []view.Row, desc bool, value func(view.Row) float64) {
	vals := make(map[string]float64, len(rows))
	for _, r := range rows {
		vals[r.ID] = value(r)
	}
	slices.SortStableFunc(rows, func(a, b view.Row) int {
		va, vb := vals[a.ID], vals[b.ID]
		switch an, bn := math.IsNaN(va), math.IsNaN(vb); {
		case an && bn:
			return strings.Compare(a.Key, b.Key)
		case an:
			return 1
		case bn:
			return -1
		}
		c := cmp.Compare(va, vb)
		if desc {
			c = -c
		}
		if c == 0 {
			return strings.Compare(a.Key, b.Key)
		}
		return c
	})
}

func decisionTime(data json.RawMessage) time.Time {
	var d struct {
		Time time.Time `json:"time"`
	}
	_ = json.Unmarshal(data, &d)
	return d.Time
}

func (s *Server) row(w http.ResponseWriter, r *http.Request) {
	d, ok := s.viewOf(w, r)
	if !ok {
		return
	}
	key := r.PathValue("key")
	row, found, err := s.Store.Get(r.Context(), r.PathValue("fn"), d.Name, key)
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err)
		return
	}
	if !found {
		s.fail(w, r, http.StatusNotFound, fmt.Errorf("view %s has no row for key %q", d.Name, key))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(row.Data)
}

var severityRank = map[string]int{"critical": 0, "error": 1, "warning": 2, "info": 3}

func (s *Server) firing(w http.ResponseWriter, r *http.Request) {
	fn := r.PathValue("fn")
	c, err := s.catalog(r.Context(), fn)
	if err != nil || c == nil {
		s.fail(w, r, http.StatusNotFound, cmp.Or(err, fmt.Errorf("no function %q in the view store", fn)))
		return
	}
	out := []view.DecisionRow{}
	for _, d := range c.Views {
		if d.Kind != view.Firing {
			continue
		}
		rows, err := s.scan(r.Context(), fn, d.Name)
		if err != nil {
			s.fail(w, r, http.StatusBadGateway, err)
			return
		}
		for _, row := range rows {
			var dr view.DecisionRow
			if err := json.Unmarshal(row.Data, &dr); err != nil {
				s.fail(w, r, http.StatusBadGateway, fmt.Errorf("row %s: %w", row.ID, err))
				return
			}
			if dr.State != core.StateResolved {
				out = append(out, dr)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b view.DecisionRow) int {
		ra, oka := severityRank[a.Severity]
		rb, okb := severityRank[b.Severity]
		if !oka {
			ra = 9
		}
		if !okb {
			rb = 9
		}
		return cmp.Or(cmp.Compare(ra, rb), a.Since.Compare(b.Since), strings.Compare(a.Rule+"/"+a.Key, b.Rule+"/"+b.Key))
	})
	writeJSON(w, out)
}

func (s *Server) decisions(w http.ResponseWriter, r *http.Request) {
	fn := r.PathValue("fn")
	c, err := s.catalog(r.Context(), fn)
	if err != nil || c == nil {
		s.fail(w, r, http.StatusNotFound, cmp.Or(err, fmt.Errorf("no function %q in the view store", fn)))
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= 10000 {
			limit = n
		}
	}
	out := []view.DecisionRow{}
	for _, d := range c.Views {
		if d.Kind != view.Decisions {
			continue
		}
		rows, err := s.scan(r.Context(), fn, d.Name)
		if err != nil {
			s.fail(w, r, http.StatusBadGateway, err)
			return
		}
		for _, row := range rows {
			var dr view.DecisionRow
			if json.Unmarshal(row.Data, &dr) == nil {
				out = append(out, dr)
			}
		}
		break
	}
	slices.SortStableFunc(out, func(a, b view.DecisionRow) int {
		return cmp.Or(b.Time.Compare(a.Time), strings.Compare(a.ID, b.ID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	writeJSON(w, out)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := struct {
		Live       bool              `json:"live"`
		Partitions []PartitionStatus `json:"partitions"`
		Stream     HubStats          `json:"stream"`
		Store      view.Stats        `json:"store"`
	}{Partitions: []PartitionStatus{}, Store: s.Store.Stats()}
	if s.Hub != nil {
		st.Live, st.Partitions, st.Stream = true, s.Hub.Status(), s.Hub.Stats()
	}
	writeJSON(w, st)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	fl, ok := w.(http.Flusher)
	if !ok {
		// A host that buffers the whole response (a Lambda function URL, an Azure custom handler)
		// cannot stream: answer the hello alone with Poll as the retry interval, so that the
		// browser's EventSource reconnects every Poll and the page reloads from the store.
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprintf(w, "retry: %d\nevent: hello\ndata: {\"live\":false,\"once\":true}\n\n", cmp.Or(s.Poll, 5*time.Second).Milliseconds())
		return
	}
	w.WriteHeader(http.StatusOK)
	// The retry hint makes a dropped browser come back soon and reload from the API.
	_, _ = fmt.Fprintf(w, "retry: 2000\nevent: hello\ndata: {\"live\":%t}\n\n", s.Hub != nil)
	fl.Flush()
	if s.Hub == nil {
		poll := time.NewTicker(cmp.Or(s.Poll, 5*time.Second))
		defer poll.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-poll.C:
				if _, err := w.Write(sse("refresh", []byte("{}"))); err != nil {
					return
				}
				fl.Flush()
			}
		}
	}
	s.stream(w, r, fl)
}

// stream writes the Hub's events to one client: what is pending, in one flush at most once per
// Interval, until the client goes away or falls behind.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, fl http.Flusher) {
	h := s.Hub
	c := h.subscribe(r.URL.Query().Get("all") == "")
	dropped := false
	defer func() { h.unsubscribe(c, dropped) }()
	rc := http.NewResponseController(w)
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return false
		case <-t.C:
			return true
		}
	}
	// write writes p within the write timeout; a client that cannot take it in time is dropped.
	write := func(p []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
		n, err := w.Write(p)
		h.written.Add(int64(n))
		if err != nil {
			dropped = errors.Is(err, os.ErrDeadlineExceeded)
			return false
		}
		return true
	}
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
		if err := rc.Flush(); err != nil {
			dropped = errors.Is(err, os.ErrDeadlineExceeded)
			return false
		}
		return true
	}
	var last time.Time // the last flush
	for {
		// Wait for something to send.
		for {
			ready, changed, due := h.poll(c, time.Now())
			if ready {
				break
			}
			var tick <-chan time.Time
			if !due.IsZero() {
				// The tick seals at due: until then more outputs only join it, so they need not
				// wake this client. Unstopped timers are collected once unreachable (Go 1.23).
				tick, changed = time.After(time.Until(due)), nil
			}
			select {
			case <-r.Context().Done():
				return
			case <-changed:
			case <-tick:
			case <-keepalive.C:
				if !write([]byte(": keepalive\n\n")) || !flush() {
					return
				}
			}
		}
		// At most one flush per interval: what arrives meanwhile goes out with it.
		if d := time.Until(last.Add(h.opts.Interval)); d > 0 {
			if !sleep(d) {
				return
			}
			h.poll(c, time.Now())
		}
		chunk := h.takeChunk()
		ok := s.drain(c, chunk[:], write, flush, &dropped)
		h.returnChunk(chunk)
		if !ok {
			return
		}
		last = time.Now()
	}
}

// drain writes what c has pending, a buffer at a time, and flushes; false means the stream must
// end.
func (s *Server) drain(c *client, buf []byte, write func([]byte) bool, flush func() bool, dropped *bool) bool {
	for {
		n, behind := s.Hub.read(c, buf)
		if behind {
			*dropped = true
			if c.atBoundary {
				// Tell API clients why the stream ends; the page just reconnects and reloads.
				_ = write([]byte("event: dropped\ndata: {\"reason\":\"fell behind the stream\"}\n\n"))
				_ = flush()
			}
			return false
		}
		if n == 0 {
			break
		}
		if !write(buf[:n]) {
			return false
		}
		c.atBoundary = n >= 2 && buf[n-2] == '\n' && buf[n-1] == '\n'
	}
	return flush()
}
