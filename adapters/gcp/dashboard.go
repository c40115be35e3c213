package gcp

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	_ "gocloud.dev/docstore/gcpfirestore" // firestore:// views

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core/view"
	_ "github.com/eddyhq/eddy/core/view/docview"  // firestore:// views
	_ "github.com/eddyhq/eddy/core/view/fileview" // file:// views (tests)
	_ "github.com/eddyhq/eddy/core/view/memview"  // mem:// views (tests)
	"github.com/eddyhq/eddy/core/view/viewhttp"
)

// EnvViewStore names the view store the function writes its views to and the dashboard reads,
// e.g. "firestore://projects/P/databases/(default)/documents/NAME-views?name_field=id".
const EnvViewStore = env.VarViewStore

// DashboardEntryPoint is the dashboard's HTTP function: the --entry-point of NAME-dashboard.
const DashboardEntryPoint = "Dashboard"

// RegisterDashboard registers the HTTP function name serving the dashboard and view API (package
// viewhttp) over the view store EDDY_VIEW_STORE names. Deploy it as its own function from the
// function's source (--entry-point name, --trigger-http) without --allow-unauthenticated and
// without an allUsers invoker: Cloud Run then lets in only identity tokens of principals with
// roles/run.invoker (`gcloud run services proxy NAME-dashboard` opens it on localhost). Cloud Run
// streams responses, so the page updates over the event stream.
func RegisterDashboard(name string) {
	functions.HTTP(name, DashboardHandler(func(ctx context.Context) (*view.Store, error) {
		u := os.Getenv(EnvViewStore)
		if u == "" {
			return nil, fmt.Errorf("no view store: set %s (e.g. firestore://projects/P/databases/(default)/documents/C?name_field=id)", EnvViewStore)
		}
		return view.Open(ctx, u)
	}).ServeHTTP)
}

// DashboardHandler serves the dashboard over the store open returns, opened on the first request
// (an HTTP function is registered in init, where no context or error handling exist); while it
// fails, requests get 503 with the error and the next one tries again.
func DashboardHandler(open func(ctx context.Context) (*view.Store, error)) http.Handler {
	var (
		mu sync.Mutex
		h  http.Handler
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if h == nil {
			store, err := open(r.Context())
			if err != nil {
				mu.Unlock()
				http.Error(w, "gcp: dashboard: open the view store: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			h = (&viewhttp.Server{Store: store}).Handler()
		}
		mu.Unlock()
		h.ServeHTTP(w, r)
	})
}
