package gcp_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core/view/viewtest"
)

func init() { gcp.RegisterDashboard(gcp.DashboardEntryPoint) }

// writeViews fills a file:// view store with the views of function "press" (three keys, one
// firing decision) and returns its URL.
func writeViews(t *testing.T) string {
	u := "file://" + t.TempDir()
	viewtest.Sample(t, u)
	return u
}

// The dashboard's HTTP function, served by the functions framework as Cloud Run runs it
// (FUNCTION_TARGET=Dashboard), answers the page and the API over a view store holding rows, and
// streams events. Without a view store it answers 503 naming the variable, and opens the store on
// a later request once it is there.
func TestDashboardFunction(t *testing.T) {
	t.Setenv(gcp.EnvViewStore, "")
	base := serve(t, gcp.DashboardEntryPoint)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := get("/api/functions"); code != 503 || !strings.Contains(b, gcp.EnvViewStore) {
		t.Errorf("without a store: %d %s", code, b)
	}
	t.Setenv(gcp.EnvViewStore, writeViews(t))
	if code, b := get("/"); code != 200 || !strings.Contains(b, "<title>eddy dashboard</title>") {
		t.Errorf("page: %d %.200s", code, b)
	}
	if code, b := get("/api/functions/press/views/latest/rows?sort=-avg&limit=2"); code != 200 || !strings.Contains(b, `"total":3`) ||
		!strings.Contains(b, `"m3"`) || strings.Contains(b, `"m1"`) {
		t.Errorf("rows sorted by -avg, limit 2: %d %s", code, b)
	}
	if code, b := get("/api/functions/press/firing"); code != 200 || !strings.Contains(b, `"m2"`) {
		t.Errorf("firing: %d %s", code, b)
	}
	// Cloud Run streams: the event stream stays open and sends refresh events.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var events []string
	for len(events) < 2 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream after %v: %v", events, err)
		}
		if ev, ok := strings.CutPrefix(strings.TrimSpace(line), "event: "); ok {
			events = append(events, ev)
		}
	}
	if events[0] != "hello" || events[1] != "refresh" {
		t.Errorf("events %v, want hello then refresh", events)
	}
}
