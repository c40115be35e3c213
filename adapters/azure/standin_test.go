//go:build unix

package azure_test

import (
	"bufio"
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

// eventHubs starts the Event Hubs AMQP fake (testdata/ehfake.js on rhea) on a free loopback port
// with the given hubs ("name:partitions,...") and returns a connection string for it.
func eventHubs(t testing.TB, hubs string) string {
	t.Helper()
	mods := filepath.Join(standin.Root(t), "tools", "standins", "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "rhea", "package.json")); err != nil {
		t.Fatalf("rhea is missing from %s: run `bash tools/standins/install.sh` from the repository root", mods)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH: install Node 20 (Debian package nodejs) and run tools/standins/install.sh")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	script, err := filepath.Abs(filepath.Join("testdata", "ehfake.js"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, fmt.Sprint(port), hubs)
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
