//go:build unix

package azure_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/view/viewtest"
	"github.com/eddyhq/eddy/internal/standin"
)

// writeViews fills a file:// view store with the views of function "press" (three keys, one
// firing decision) and returns its URL.
func writeViews(t *testing.T) string {
	u := "file://" + t.TempDir()
	viewtest.Sample(t, u)
	return u
}

// The custom handler of a function with its dashboard, started as the Functions host starts it,
// answers the dashboard both ways the host calls an HTTP-triggered function (forwarded requests
// under /api/dashboard/, and invocations POSTed to /Dashboard), and still answers the function's
// own invocations (a tick).
func TestDashboardCustomHandler(t *testing.T) {
	app := t.TempDir()
	bin := filepath.Join(app, "handler")
	if out, err := exec.Command("go", "build", "-o", bin, "./internal/testdash").CombinedOutput(); err != nil {
		t.Fatalf("build the handler: %v\n%s", err, out)
	}
	port := standin.FreePort(t)
	cmd := exec.Command(bin)
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port), "FUNCTIONS_APP_ROOT_PATH="+app,
		"EDDY_STATE_URL=mem://", "EDDY_VIEW_STORE="+writeViews(t))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: &logs}, &lockedWriter{w: &logs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://")); err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("handler exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("handler not listening after 60s:\n%s", logs.String())
		}
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// Forwarded: the request as the browser sent it (the host checked ?code= already).
	if r, b := do("GET", "/api/dashboard/?code=KEY", ""); r.StatusCode != 200 || !strings.Contains(b, "<title>eddy dashboard</title>") {
		t.Errorf("forwarded page: %d %.200s", r.StatusCode, b)
	}
	if r, b := do("GET", "/api/dashboard/api/functions/press/views/latest/rows?sort=-avg&code=KEY", ""); r.StatusCode != 200 || !strings.Contains(b, `"total":3`) ||
		strings.Index(b, `"m3"`) > strings.Index(b, `"m2"`) {
		t.Errorf("forwarded rows: %d %s", r.StatusCode, b)
	}
	if r, _ := do("GET", "/api/dashboard?code=KEY", ""); r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/api/dashboard/?code=KEY" {
		t.Errorf("no trailing slash: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r, b := do("GET", "/api/dashboard/api/events?code=KEY", ""); r.StatusCode != 200 || !strings.HasPrefix(b, "retry: 10000\nevent: hello\n") {
		t.Errorf("forwarded events: %d %q", r.StatusCode, b)
	}

	// Invoked: the host's HTTP invocation body, and the "res" output in the reply.
	invoke := func(u string) (int, string) {
		t.Helper()
		inv, _ := json.Marshal(map[string]any{"Data": map[string]any{"req": map[string]any{
			"Url": u, "Method": "GET", "Query": map[string]string{"code": "KEY"}, "Headers": map[string][]string{"Accept": {"*/*"}}, "Params": map[string]string{}, "Body": ""}},
			"Metadata": map[string]any{"sys": map[string]any{"MethodName": "Dashboard"}}})
		r, b := do("POST", "/Dashboard", string(inv))
		if r.StatusCode != 200 {
			t.Fatalf("invocation: %d %s", r.StatusCode, b)
		}
		var rep struct {
			Outputs struct {
				Res struct {
					StatusCode int               `json:"statusCode"`
					Headers    map[string]string `json:"headers"`
					Body       string            `json:"body"`
				} `json:"res"`
			}
		}
		if err := json.Unmarshal([]byte(b), &rep); err != nil {
			t.Fatalf("reply: %v: %s", err, b)
		}
		return rep.Outputs.Res.StatusCode, rep.Outputs.Res.Body
	}
	app1 := "https://press-app.azurewebsites.net"
	if code, b := invoke(app1 + "/api/dashboard/?code=KEY"); code != 200 || !strings.Contains(b, "<title>eddy dashboard</title>") {
		t.Errorf("invoked page: %d %.200s", code, b)
	}
	if code, b := invoke(app1 + "/api/dashboard/api/functions/press/firing?code=KEY"); code != 200 || !strings.Contains(b, `"m2"`) {
		t.Errorf("invoked firing: %d %s", code, b)
	}
	if code, b := invoke(app1 + "/api/dashboard/api/functions/nope/firing"); code != 404 {
		t.Errorf("invoked unknown function: %d %s", code, b)
	}
	if r, b := do("POST", "/Dashboard", "{not json"); r.StatusCode != 400 || !strings.Contains(b, "Dashboard invocation") {
		t.Errorf("bad invocation: %d %s", r.StatusCode, b)
	}

	// The function's own invocations still reach it.
	if r, b := do("POST", "/Tick", `{"Data":{},"Metadata":{}}`); r.StatusCode != 200 {
		t.Errorf("tick: %d %s\n%s", r.StatusCode, b, logs.String())
	}
}
