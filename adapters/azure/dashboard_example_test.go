package azure_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/adapters/azure"
)

// DashboardHandler serves a handler (the dashboard) at DashboardPath as the Functions host
// forwards its requests, beside the function's own invocations (WithDashboard).
func ExampleDashboardHandler() {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "dashboard at ", r.URL.Path) })
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "function ", r.URL.Path) })
	srv := httptest.NewServer(azure.WithDashboard(fn, azure.DashboardHandler(page)))
	defer srv.Close()
	for _, p := range []string{"/api/dashboard/api/functions?code=KEY", "/Tick"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(b))
	}
	// Output:
	// dashboard at /api/functions
	// function /Tick
}

// Invocation bodies are outside input: any body gets an answer (400 for what is not an HTTP
// invocation), never a panic.
func FuzzDashboardInvocation(f *testing.F) {
	f.Add(`{"Data":{"req":{"Url":"https://a/api/dashboard/?code=K","Method":"GET","Headers":{"A":["b"]},"Body":""}}}`)
	f.Add(`{"Data":{"req":{"Url":"%zz","Method":"GET","Body":{"x":1}}}}`)
	f.Add(`{"Data":{"req":{"Url":"/api/dashboard","Method":"G E T"}}}`)
	f.Add(`not json`)
	h := azure.DashboardHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) }))
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/"+azure.DashboardFunction, strings.NewReader(body)))
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}
