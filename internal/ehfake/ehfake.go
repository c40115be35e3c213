//go:build unix

// Package ehfake starts ehfake.js, an in-memory stand-in for the Azure Event Hubs AMQP 1.0
// endpoint (on the rhea library from tools/standins), for tests of code that talks to Event Hubs
// through azeventhubs/v2: producers, partition clients and the Processor. No Event Hubs emulator
// can be installed where eddy's tests run; ehfake.js implements the parts of the protocol the Go
// SDK uses (see the script's header). A missing node or rhea fails the test with the command that
// installs it: tests never skip because a tool is missing.
package ehfake

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/internal/standin"
)

//go:embed ehfake.js
var script []byte

// Start starts the fake on a free loopback port with the given hubs ("name:partitions,...", e.g.
// "in:4,out:1"), stops it when the test ends, and returns a connection string for it. Set
// EHFAKE_DEBUG=1 to see its log on stderr.
func Start(t testing.TB, hubs string) string {
	t.Helper()
	mods := filepath.Join(standin.Root(t), "tools", "standins", "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "rhea", "package.json")); err != nil {
		t.Fatalf("rhea is missing from %s: run `bash tools/standins/install.sh` from the repository root", mods)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH: install Node 20 (Debian package nodejs) and run tools/standins/install.sh")
	}
	path := filepath.Join(t.TempDir(), "ehfake.js")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("node", path, fmt.Sprint(port), hubs)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &lockedWriter{w: &stderr}
	if os.Getenv("EHFAKE_DEBUG") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the Event Hubs fake: %v", err)
	}
	done := make(chan struct{})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.HasPrefix(sc.Text(), "listening ") {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("the Event Hubs fake exited before it was ready: %s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the Event Hubs fake was not ready after 30s: %s", stderr.String())
	}
	return ConnString(port)
}

// ConnString is the connection string of a fake listening on port.
func ConnString(port int) string {
	return fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=k;SharedAccessKey=k;UseDevelopmentEmulator=true", port)
}

// lockedWriter serializes writes from a child's output pipe.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
