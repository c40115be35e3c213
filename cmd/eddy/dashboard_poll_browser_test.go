//go:build unix

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/memview"
	"github.com/eddyhq/eddy/core/view/viewhttp"
	"github.com/eddyhq/eddy/core/view/viewtest"
)

// The dashboard as the clouds serve it in a stack of eddy new --dashboard, opened in Chromium:
// under a path prefix (Azure's /api/dashboard/), behind a key every request must carry (as the
// Functions host checks ?code=), over a host that cannot stream (the event stream ends after its
// hello, as behind a Lambda function URL or an Azure custom handler). The page finds its API
// relative to itself, passes the key on, and shows rows written after it loaded by polling.
func TestDashboardPollsInBrowser(t *testing.T) {
	ctx := context.Background()
	store := view.NewStore(memview.New(), nil)
	defs := []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "alerts", Kind: view.Firing}}
	if err := store.PutCatalog(ctx, &view.Catalog{Function: "press", Views: defs, Aggregates: []string{"count", "avg"}}); err != nil {
		t.Fatal(err)
	}
	w, err := view.NewWriter(store, "press", defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	emit := func(keys ...string) {
		var outs []core.Output
		for _, k := range keys {
			outs = append(outs, viewtest.Win("press", k, 1, 0))
		}
		if err := w.Emit(ctx, outs); err != nil {
			t.Fatal(err)
		}
	}
	emit("m1", "m2")

	var streams, keyless atomic.Int64
	dash := azure.DashboardHandler((&viewhttp.Server{Store: store, Poll: 300 * time.Millisecond}).Handler())
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("code") != "KEY" { // the Functions host's key check
			if r.URL.Path != "/favicon.ico" { // the browser's own request, not the page's
				keyless.Add(1)
				t.Logf("request without the key: %s", r.URL)
			}
			http.Error(rw, "401", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/api/events") {
			streams.Add(1)
		}
		dash.ServeHTTP(rw, r)
	}))
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.NoSandbox,
		chromedp.Flag("headless", "new"),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancelT := context.WithTimeout(bctx, 2*time.Minute)
	defer cancelT()
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/api/dashboard/?code=KEY")); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("page: %s: %v (streams %d, keyless requests %d)", expr, err, streams.Load(), keyless.Load())
		}
		return v
	}
	rows := `String(document.querySelectorAll("#keys tbody tr").length)`
	for eval(rows) != "2" {
		time.Sleep(50 * time.Millisecond)
	}
	written := time.Now()
	emit("m3", "m4", "m5")
	for eval(rows) != "5" {
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("rows written after the page loaded shown %v later (poll 300 ms), over %d event streams", time.Since(written).Round(10*time.Millisecond), streams.Load())
	if n := streams.Load(); n < 2 {
		t.Errorf("%d event streams: the page did not reconnect to poll", n)
	}
	if n := keyless.Load(); n != 0 {
		t.Errorf("%d requests without the key", n)
	}
	if badge := eval(`document.querySelector("#live").textContent`); badge != "polling the view store" {
		t.Errorf("badge %q", badge)
	}
}
