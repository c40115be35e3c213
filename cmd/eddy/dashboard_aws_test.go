package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/internal/standin"
)

// eddy dashboard --aws URL serves a deployed AWS dashboard on localhost, signing each request with
// the AWS credentials of the environment for the lambda service in the given region; what the
// function URL answers comes back.
func TestDashboardAWSProxy(t *testing.T) {
	var mu sync.Mutex
	var auths []string
	fnURL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			http.Error(w, `{"Message":"Forbidden"}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	defer fnURL.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", standin.FreePort(t))
	cmd := exec.Command(eddyBin, "dashboard", "--aws", fnURL.URL+"/", "--region", "eu-central-1", "--listen", addr)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	var body []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/api/functions")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("proxied: %d %s", resp.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("eddy dashboard --aws did not answer within 30s")
		}
	}
	if string(body) != `{"path":"/api/functions"}` {
		t.Errorf("proxied body %s", body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auths) != 1 || !strings.Contains(auths[0], "Credential=AKIDEXAMPLE/") || !strings.Contains(auths[0], "/eu-central-1/lambda/aws4_request") {
		t.Errorf("the function URL got Authorization %q, want SigV4 for lambda in eu-central-1", auths)
	}
	if r := eddy(t, "", "dashboard", "--aws", "https://x.lambda-url.us-east-1.on.aws/", "--view", "mem://"); r.code == 0 {
		t.Errorf("--aws with --view accepted")
	}
}
