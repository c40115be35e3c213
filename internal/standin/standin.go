//go:build unix

// Package standin starts local stand-ins for cloud services for tests: dynalite (DynamoDB), Azurite
// (Azure Blob) and kinesalite (Kinesis), each a child process on a free 127.0.0.1 port, run from
// tools/standins/node_modules. A missing stand-in fails the test with the command that installs it:
// tests never skip because a tool is missing.
package standin

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AzuriteConnString is Azurite's well-known development account with the blob endpoint filled in.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// AzuriteAccount and AzuriteKey are Azurite's well-known development credentials.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = azuriteKey
)

// Root returns the repository root (the directory holding go.mod), found from the working directory.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("standin: no go.mod above the working directory")
		}
		dir = parent
	}
}

func modules(t testing.TB) string {
	t.Helper()
	return filepath.Join(Root(t), "tools", "standins", "node_modules")
}

func need(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("standin: %s is missing: run `npm ci --prefix tools/standins` (or tools/standins/install.sh) from the repository root", path)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("standin: node is not on PATH: install Node 20 (Debian package nodejs) and run tools/standins/install.sh")
	}
}

// FreePort asks the kernel for a free loopback port, for tests that start servers of their own.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a child's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 64<<10 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a child in its own process group, waits until ready reports true, and kills the
// group when the test ends.
func start(t testing.TB, name string, cmd *exec.Cmd, ready func() bool) {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("standin: start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		select {
		case <-done:
			t.Fatalf("standin: %s exited before it was ready; output:\n%s", name, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("standin: %s not ready after 60s; output:\n%s", name, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func answersHTTP(url string) func() bool {
	c := &http.Client{Timeout: time.Second}
	return func() bool {
		resp, err := c.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
}

// Dynalite starts dynalite and returns its endpoint ("http://127.0.0.1:PORT").
func Dynalite(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(modules(t), ".bin", "dynalite")
	need(t, bin)
	port := FreePort(t)
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "5", "--deleteTableMs", "5", "--updateTableMs", "5")
	ep := fmt.Sprintf("http://127.0.0.1:%d", port)
	start(t, "dynalite", cmd, answersHTTP(ep))
	return ep
}

// Azurite starts Azurite's blob service (in memory, telemetry off, no API version check) and
// returns the blob endpoint for the development account ("http://127.0.0.1:PORT/devstoreaccount1").
func Azurite(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(modules(t), ".bin", "azurite-blob")
	need(t, bin)
	port := FreePort(t)
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
		"--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck")
	// Azurite refuses --location with --inMemoryPersistence, and otherwise writes its files into
	// the working directory: keep them out of the repository.
	cmd.Dir = t.TempDir()
	ep := fmt.Sprintf("http://127.0.0.1:%d/%s", port, AzuriteAccount)
	start(t, "azurite", cmd, answersHTTP(ep+"?comp=list"))
	return ep
}

// AzuriteTable starts Azurite's table service (in memory) and returns its endpoint for the
// development account ("http://127.0.0.1:PORT/devstoreaccount1").
func AzuriteTable(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(modules(t), ".bin", "azurite-table")
	need(t, bin)
	port := FreePort(t)
	cmd := exec.Command(bin, "--tableHost", "127.0.0.1", "--tablePort", strconv.Itoa(port),
		"--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck")
	cmd.Dir = t.TempDir()
	ep := fmt.Sprintf("http://127.0.0.1:%d/%s", port, AzuriteAccount)
	start(t, "azurite-table", cmd, answersHTTP(ep+"/Tables"))
	return ep
}

// AzuriteTableConnString returns the connection string of the development account's table
// service at endpoint.
func AzuriteTableConnString(endpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=" + AzuriteAccount + ";AccountKey=" + azuriteKey + ";TableEndpoint=" + endpoint + ";"
}

// AzuriteConnString returns the connection string of the development account at endpoint.
func AzuriteConnString(endpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=" + AzuriteAccount + ";AccountKey=" + azuriteKey + ";BlobEndpoint=" + endpoint + ";"
}

// Kinesalite starts kinesalite bound to 127.0.0.1 (its command line has no host flag, so it is
// started through its library) and returns its endpoint.
func Kinesalite(t testing.TB) string {
	t.Helper()
	mod := filepath.Join(modules(t), "kinesalite")
	need(t, mod)
	port := FreePort(t)
	js := fmt.Sprintf(`require(%q)({createStreamMs:5,deleteStreamMs:5,updateStreamMs:5,shardLimit:100}).listen(%d,"127.0.0.1")`, mod, port)
	cmd := exec.Command("node", "-e", js)
	ep := fmt.Sprintf("http://127.0.0.1:%d", port)
	start(t, "kinesalite", cmd, answersHTTP(ep))
	return ep
}

// FauxqsCLI returns the script of fauxqs, the SNS/SQS stand-in (1.9.2, the last release that runs on
// Node 20), for tests that start it with their own init config.
func FauxqsCLI(t testing.TB) string {
	t.Helper()
	cli := filepath.Join(modules(t), "fauxqs", "dist", "cli.js")
	need(t, cli)
	return cli
}
