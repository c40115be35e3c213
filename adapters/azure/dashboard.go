package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	_ "github.com/eddyhq/eddy/adapters/azure/tableview" // azuretable:// views
	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core/view"
	_ "github.com/eddyhq/eddy/core/view/fileview" // file:// views (tests)
	_ "github.com/eddyhq/eddy/core/view/memview"  // mem:// views (tests)
	"github.com/eddyhq/eddy/core/view/viewhttp"
)

// EnvViewStore names the view store the function writes its views to and the dashboard reads,
// e.g. "azuretable://NAMEviews".
const EnvViewStore = env.VarViewStore

// DashboardFunction is the HTTP-triggered function serving the dashboard
// (deploy/azure/Dashboard/function.json: authLevel "function", route DashboardRoute+"/{*path}").
const DashboardFunction = "Dashboard"

// DashboardPath is where the dashboard is served in the function app: the host's route prefix
// "api" and the function's route "dashboard". Open it at https://APP.azurewebsites.net/api/dashboard/?code=KEY.
const DashboardPath = "/api/dashboard"

// DashboardPoll is how often an open page reloads from the store. The host buffers a custom
// handler's responses, so the page polls instead of streaming.
const DashboardPoll = 10 * time.Second

// OpenDashboard opens the view store EDDY_VIEW_STORE names and returns the dashboard's custom
// handler routes over it (DashboardHandler). Close the returned closer when done.
func OpenDashboard(ctx context.Context) (http.Handler, func() error, error) {
	u := os.Getenv(EnvViewStore)
	if u == "" {
		return nil, nil, fmt.Errorf("azure: dashboard: no view store: set %s (e.g. azuretable://TABLE)", EnvViewStore)
	}
	store, err := view.Open(ctx, u)
	if err != nil {
		return nil, nil, fmt.Errorf("azure: dashboard: %s: %w", EnvViewStore, err)
	}
	s := &viewhttp.Server{Store: store, Poll: DashboardPoll}
	return DashboardHandler(s.Handler()), store.Close, nil
}

// DashboardHandler serves h (the dashboard, package viewhttp) as the custom handler's routes of
// DashboardFunction, in both ways the Functions host calls an HTTP-triggered function:
//
//   - forwarded (host.json's enableForwardingHttpRequest, as eddy's stacks set it): the host checks
//     the function key, then sends the request as it came, at DashboardPath/...;
//   - as an invocation: POST /Dashboard with {"Data":{"req":{Url, Method, Headers, Body}}},
//     answered with {"Outputs":{"res":{statusCode, headers, body}}}.
//
// Other paths get 404, so that it can sit beside the Event Hubs handler on one mux.
func DashboardHandler(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /"+DashboardFunction, func(w http.ResponseWriter, r *http.Request) { invokeHTTP(h, w, r) })
	mux.HandleFunc(DashboardPath, func(w http.ResponseWriter, r *http.Request) {
		// The page addresses the API relative to itself: it must be served at a path ending in "/".
		u := *r.URL
		u.Path = DashboardPath + "/"
		http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
	})
	// The host reads a forwarded response whole before it answers: hide the writer's Flusher so
	// that the page's event stream ends at once and the page polls.
	buffered := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(noFlush{w}, r) })
	mux.Handle(DashboardPath+"/", http.StripPrefix(DashboardPath, buffered))
	return mux
}

// noFlush is a ResponseWriter without http.Flusher.
type noFlush struct{ w http.ResponseWriter }

func (n noFlush) Header() http.Header         { return n.w.Header() }
func (n noFlush) Write(p []byte) (int, error) { return n.w.Write(p) }
func (n noFlush) WriteHeader(code int)        { n.w.WriteHeader(code) }

// httpInvocation is the host's invocation body of an HTTP-triggered function whose trigger binding
// is named "req".
type httpInvocation struct {
	Data struct {
		Req struct {
			URL     string              `json:"Url"`
			Method  string              `json:"Method"`
			Headers map[string][]string `json:"Headers"`
			Body    json.RawMessage     `json:"Body"`
		} `json:"req"`
	} `json:"Data"`
}

// httpOutput is the "res" output binding of the reply.
type httpOutput struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func invokeHTTP(h http.Handler, w http.ResponseWriter, r *http.Request) {
	var inv httpInvocation
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&inv); err != nil {
		http.Error(w, fmt.Sprintf("%s invocation: decode body: %v", DashboardFunction, err), http.StatusBadRequest)
		return
	}
	req := inv.Data.Req
	u, err := url.Parse(req.URL)
	if err != nil || req.Method == "" {
		http.Error(w, fmt.Sprintf("%s invocation: Data.req needs a Url and a Method (Url %q: %v)", DashboardFunction, req.URL, err), http.StatusBadRequest)
		return
	}
	// The host serialises strings as JSON strings; a body may also come as an object.
	var body string
	if len(req.Body) > 0 && json.Unmarshal(req.Body, &body) != nil {
		body = string(req.Body)
	}
	// http.NewRequest rather than httptest's, which panics on a bad method.
	in, err := http.NewRequestWithContext(r.Context(), req.Method, "https://function.app/", strings.NewReader(body))
	if err != nil {
		http.Error(w, fmt.Sprintf("%s invocation: %v", DashboardFunction, err), http.StatusBadRequest)
		return
	}
	in.URL, in.Host, in.RequestURI = u, u.Host, u.RequestURI()
	for k, vs := range req.Headers {
		for _, v := range vs {
			in.Header.Add(k, v)
		}
	}
	// The route gives the path as the host saw it (DashboardPath/...).
	if p, ok := strings.CutPrefix(u.Path, DashboardPath); ok {
		in.URL.Path = p
		if in.URL.Path == "" {
			in.URL.Path = "/"
		}
		in.URL.RawPath = ""
	}
	rec := viewhttp.ServeBuffered(h, in)
	out := httpOutput{StatusCode: rec.Code, Headers: map[string]string{}, Body: string(rec.Body)}
	for k, vs := range rec.Header {
		out.Headers[k] = strings.Join(vs, ", ")
	}
	b, err := json.Marshal(Reply{Outputs: map[string]any{"res": out}, Logs: []string{}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// StartWithDashboard is Start with the dashboard (OpenDashboard) served beside the function, as
// DashboardFunction, by the same custom handler.
func StartWithDashboard(fn env.Function) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := env.Read(nil)
	if err != nil {
		return fmt.Errorf("azure: %w", err)
	}
	dash, closeDash, err := OpenDashboard(ctx)
	if err != nil {
		return err
	}
	defer closeDash()
	h, closeFn, err := Open(ctx, cfg, fn)
	if err != nil {
		return err
	}
	defer closeFn()
	return Serve(ctx, WithDashboard(h, dash))
}

// WithDashboard routes the dashboard's requests (DashboardHandler's paths) to dash and the others
// to h.
func WithDashboard(h, dash http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /"+DashboardFunction, dash)
	mux.Handle(DashboardPath, dash)
	mux.Handle(DashboardPath+"/", dash)
	mux.Handle("/", h)
	return mux
}

// DashboardFunctionJSON renders DashboardFunction's function.json: an HTTP trigger with authLevel
// "function" (the host admits only requests carrying a function or host key, in ?code= or the
// x-functions-key header), GET only, at DashboardPath and below, and its HTTP output "res".
func DashboardFunctionJSON() []byte {
	b, _ := json.MarshalIndent(map[string]any{"bindings": []map[string]any{
		{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function", "methods": []string{"get"},
			"route": strings.TrimPrefix(DashboardPath, "/api/") + "/{*path}"},
		{"type": "http", "direction": "out", "name": "res"},
	}}, "", "  ")
	return b
}

// ForwardHTTP sets enableForwardingHttpRequest in a host.json (HostJSON's): the host then passes
// the requests of HTTP-only functions (the dashboard) to the handler as they came, after checking
// their keys. It does not change how other triggers are invoked.
func ForwardHTTP(hostJSON []byte) ([]byte, error) {
	var h map[string]any
	if err := json.Unmarshal(hostJSON, &h); err != nil {
		return nil, fmt.Errorf("azure: host.json: %w", err)
	}
	ch, ok := h["customHandler"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("azure: host.json has no customHandler section")
	}
	ch["enableForwardingHttpRequest"] = true
	return json.MarshalIndent(h, "", "  ")
}
