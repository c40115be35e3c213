//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eddyhq/eddy/internal/standin"
)

const browserSpec = `name: press-line
input: {key: key, time: ts, time_format: unix_ms, out_of_order: 500ms}
window: {tumbling: 1s}
aggregates:
  - {name: avg, avg: value}
  - {name: max, max: value}
  - {name: n, count: true}
rules:
  - {name: overheat, when: avg > 90.0, severity: critical}
views:
  - {name: latest, kind: latest, ttl: 1h}
  - {name: chart, kind: history, windows: 120, aggregates: [avg, max]}
  - {name: alerts, kind: firing}
  - {name: log, kind: decisions, ttl: 24h}
`

// browserEvents returns n seconds of events for keys, 5 per key and second, from base: key
// press-03 runs hot (values above 90), the others between 20 and 80.
func browserEvents(base time.Time, from, n, keys int) string {
	var b strings.Builder
	for s := from; s < from+n; s++ {
		for i := range 5 {
			for k := range keys {
				v := 20 + float64((s*7+i*13+k*29)%60)
				if k == 3 {
					v = 91 + float64((s+i)%8)
				}
				ts := base.Add(time.Duration(s)*time.Second + time.Duration(i)*200*time.Millisecond).UnixMilli()
				fmt.Fprintf(&b, "{\"key\":\"press-%02d\",\"ts\":%d,\"value\":%g}\n", k, ts, v)
			}
		}
	}
	return b.String()
}

// artifactDir is where the test keeps its screenshot: $EDDY_ARTIFACTS, else testdata/out
// (git-ignored).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("EDDY_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDashboardInBrowser runs eddy dev --listen --ui, opens the dashboard in headless Chromium
// (Debian's package, installed by .ci/run), posts events to the ingest endpoint and waits for the
// page to show them as table rows, chart points and a firing decision.
func TestDashboardInBrowser(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "eddy.yaml")
	if err := os.WriteFile(specPath, []byte(browserSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	ingest := fmt.Sprintf("127.0.0.1:%d", standin.FreePort(t))
	ui := fmt.Sprintf("127.0.0.1:%d", standin.FreePort(t))
	cmd := exec.Command(eddyBin, "dev", "--spec", specPath, "--listen", ingest, "--ui", "--ui-addr", ui, "--max-wait", "20ms", "--partitions", "4")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = nil, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("eddy dev stderr:\n%s", stderr.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + ui + "/api/functions")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard did not answer within 30s:\n%s", stderr.String())
		}
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.NoSandbox,
		chromedp.Flag("headless", "new"),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1100),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+ui+"/")); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	eval := func(expr string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
		if err != nil {
			t.Fatalf("page: %s: %v", expr, err)
		}
		return n
	}
	for eval(`document.querySelectorAll('#fn option[value="press-line"]').length`) == 0 {
		time.Sleep(50 * time.Millisecond)
	}

	const keys = 8
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	post := func(body string) {
		resp, err := http.Post("http://"+ingest+"/events", "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST /events: %s", resp.Status)
		}
	}
	sent := time.Now()
	post(browserEvents(base, 0, 20, keys))

	// The page must show every key as a row, chart points for the selected key and the hot key's
	// firing alert. The bound is the test's context; the measured latency is logged.
	var rows, points, firing int
	for {
		rows = eval(`document.querySelectorAll("#keys tbody tr").length`)
		points = eval(`Number(document.querySelector("#chart").dataset.points)`)
		firing = eval(`document.querySelectorAll('#firing tbody tr[data-rule="overheat"][data-key="press-03"]').length`)
		if rows == keys && points >= 10 && firing == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("events to page: %d rows, %d chart points, the firing alert after %s", rows, points, time.Since(sent).Round(time.Millisecond))

	// Live updates: more events move the chart on without a reload.
	sent = time.Now()
	// With an undecodable record (a dead letter) and an event far behind the watermark (late).
	post(browserEvents(base, 20, 10, keys) + "not json\n" + fmt.Sprintf("{\"key\":\"press-00\",\"ts\":%d,\"value\":1}\n", base.UnixMilli()))
	for before := points; points < before+5; time.Sleep(50 * time.Millisecond) {
		points = eval(`Number(document.querySelector("#chart").dataset.points)`)
	}
	t.Logf("live: chart at %d points %s after the second post", points, time.Since(sent).Round(time.Millisecond))
	for eval(`Number(document.querySelector("#late-total").textContent)`) != 1 || eval(`Number(document.querySelector("#dl-total").textContent)`) != 1 {
		time.Sleep(50 * time.Millisecond)
	}
	txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#firing tbody`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt, "critical") || !strings.Contains(txt, "press-03") {
		t.Errorf("firing table %q: want press-03's critical overheat", txt)
	}
	// Sorting by avg, descending, puts the hot key first.
	// The table re-renders after a click, and a header's handler knows the sort it was drawn with:
	// click, wait for the new header, click again.
	eval(`(document.querySelector("#keys thead th:nth-child(3)").click(), 1)`)
	for eval(`document.querySelector("#keys thead th.sorted:nth-child(3):not(.desc)") ? 1 : 0`) == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	eval(`(document.querySelector("#keys thead th:nth-child(3)").click(), 1)`)
	for eval(`document.querySelector("#keys thead th.sorted.desc:nth-child(3)") ? 1 : 0`) == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	first := ""
	for range 200 {
		first, err = chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#keys tbody tr")||{dataset:{}}).dataset.key || ""`))
		if err != nil {
			t.Fatal(err)
		}
		if first == "press-03" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if first != "press-03" {
		t.Errorf("sorted by avg descending, the first row is %q, want press-03", first)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; below, JPEG
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(artifactDir(t), "dashboard.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))
}

// TestDashboardOverFileStore: eddy dev keeps the views in a directory, and eddy dashboard serves
// them from another process.
func TestDashboardOverFileStore(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "eddy.yaml")
	if err := os.WriteFile(specPath, []byte(browserSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	store := "file://" + filepath.Join(dir, "views")
	r := eddy(t, browserEvents(time.Unix(1_700_000_000, 0), 0, 5, 4), "dev", "--spec", specPath, "--view-store", store)
	if r.code != 0 {
		t.Fatalf("eddy dev: %d\n%s", r.code, r.stderr)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", standin.FreePort(t))
	cmd := exec.Command(eddyBin, "dashboard", "--view", store, "--listen", addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	var body []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/api/functions/press-line/views/latest/rows?sort=-avg")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("eddy dashboard did not answer within 30s")
		}
	}
	var page struct {
		Rows []struct {
			Key string `json:"key"`
		} `json:"rows"`
		Total int `json:"total"`
	}
	if err := json.Unmarshal(body, &page); err != nil || page.Total != 4 || page.Rows[0].Key != "press-03" {
		t.Fatalf("rows over the file store: %s (%v), want 4 keys, press-03 (the hot one) first by avg", body, err)
	}
	if r := eddy(t, "", "dashboard", "--view", store, "--listen", "0.0.0.0:0"); r.code == 0 || !strings.Contains(r.stderr, "localhost only") {
		t.Errorf("dashboard on 0.0.0.0: code %d, %s", r.code, r.stderr)
	}
}
