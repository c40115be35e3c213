//go:build unix

package aws_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/viewtest"
)

// writeViews fills a file:// view store with the views of function "press" (three keys, one
// firing decision) and returns its URL.
func writeViews(t *testing.T) string {
	u := "file://" + t.TempDir()
	viewtest.Sample(t, u)
	return u
}

// urlEvent is aws-lambda-go's function URL test event (events/testdata/lambda-urls-request.json,
// copied into testdata) turned into a GET of path?query.
func urlEvent(t *testing.T, path, query string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/lambda-urls-request.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["rawPath"], ev["rawQueryString"], ev["body"] = path, query, ""
	ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "GET"
	ev["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = path
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The dashboard Lambda, built as Lambda runs it and started by the Runtime Interface Emulator,
// answers function URL events over a view store holding rows: the page, its script, the JSON API
// and an event stream that ends at once (a function URL buffers) telling the page to poll.
func TestDashboardLambda(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a bootstrap and runs the Lambda RIE")
	}
	rie := ensureRIE(t)
	dir := t.TempDir()
	boot := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", boot, "./internal/testdash")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build dashboard bootstrap: %v\n%s", err, out)
	}
	em := &emulator{t: t, rie: rie, boot: boot, env: []string{"EDDY_VIEW_STORE=" + writeViews(t),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret"}}
	em.start()
	defer em.kill()

	get := func(path, query string) events.LambdaFunctionURLResponse {
		t.Helper()
		body, ok := em.invoke(urlEvent(t, path, query))
		if !ok {
			t.Fatalf("GET %s: function failed: %s\n%s", path, body, em.output())
		}
		var r events.LambdaFunctionURLResponse
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
		if r.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			r.Body = string(b)
		}
		return r
	}
	page := get("/", "")
	if page.StatusCode != 200 || !strings.Contains(page.Body, "<title>eddy dashboard</title>") || !strings.HasPrefix(page.Headers["Content-Type"], "text/html") {
		t.Errorf("page: %d %v %.200s", page.StatusCode, page.Headers, page.Body)
	}
	if js := get("/app.js", ""); js.StatusCode != 200 || js.IsBase64Encoded || !strings.Contains(js.Body, "EventSource") {
		t.Errorf("app.js: %d base64=%t %.100s", js.StatusCode, js.IsBase64Encoded, js.Body)
	}
	var cats []view.Catalog
	if r := get("/api/functions", ""); r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &cats) != nil || len(cats) != 1 || cats[0].Function != "press" {
		t.Errorf("functions: %d %s", r.StatusCode, r.Body)
	}
	r := get("/api/functions/press/views/latest/rows", "sort=-avg&limit=2")
	var rows struct {
		Rows []struct {
			Key string `json:"key"`
		} `json:"rows"`
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(r.Body), &rows); err != nil || r.StatusCode != 200 {
		t.Fatalf("rows: %d %v %s", r.StatusCode, err, r.Body)
	}
	if got := fmt.Sprintln(rows.Total, len(rows.Rows), rows.Rows[0].Key, rows.Rows[1].Key); got != "3 2 m3 m2\n" {
		t.Errorf("rows sorted by -avg, limit 2: got total, count, keys %s, want 3 2 m3 m2: %s", strings.TrimSpace(got), r.Body)
	}
	if f := get("/api/functions/press/firing", ""); f.StatusCode != 200 || !strings.Contains(f.Body, `"m2"`) {
		t.Errorf("firing: %d %s", f.StatusCode, f.Body)
	}
	if nf := get("/api/functions/nope/views/latest/rows", ""); nf.StatusCode != 404 {
		t.Errorf("unknown function: %d %s", nf.StatusCode, nf.Body)
	}
	ev := get("/api/events", "")
	if ev.StatusCode != 200 || ev.Headers["Content-Type"] != "text/event-stream" || !strings.HasPrefix(ev.Body, "retry: 10000\nevent: hello\n") {
		t.Errorf("events: %d %v %q", ev.StatusCode, ev.Headers, ev.Body)
	}
}

// FunctionURLHandler rebuilds the request (base64 bodies, cookies, query) and encodes non-text
// responses in base64.
func TestFunctionURLHandler(t *testing.T) {
	var got struct{ method, path, query, cookie, body, header string }
	h := aws.FunctionURLHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		got.method, got.path, got.query, got.cookie, got.body, got.header = r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Cookie"), string(b[:n]), r.Header.Get("Header2")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Add("Set-Cookie", "a=1")
		w.WriteHeader(201)
		_, _ = w.Write([]byte{0, 1, 2})
	}))
	raw, err := os.ReadFile("testdata/lambda-urls-request.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte("Hello")), true
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := struct{ method, path, query, cookie, body, header string }{"POST", "/my/path", "parameter1=value1&parameter1=value2&parameter2=value", "cookie1; cookie2", "Hello", "value1,value2"}
	if got != want {
		t.Errorf("request %+v, want %+v", got, want)
	}
	if resp.StatusCode != 201 || !resp.IsBase64Encoded || resp.Body != "AAEC" || len(resp.Cookies) != 1 || resp.Cookies[0] != "a=1" {
		t.Errorf("response %+v", resp)
	}
	ev.Body = "%%%"
	if resp, _ := h(context.Background(), ev); resp.StatusCode != 400 || !strings.Contains(resp.Body, "body") {
		t.Errorf("bad base64 body: %+v", resp)
	}
}
