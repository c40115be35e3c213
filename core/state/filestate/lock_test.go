//go:build unix

package filestate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/state/filestate"
)

// holdLock takes key's lock as another process would (flock on its own open file) and writes the
// holder's note.
func holdLock(t *testing.T, dir, key, note string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, key+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(note); err != nil {
		t.Fatal(err)
	}
}

// TestLockTimesOutNamingTheHolder: a write whose key another process keeps locked fails after the
// lock timeout, naming that process, instead of waiting forever.
func TestLockTimesOutNamingTheHolder(t *testing.T) {
	dir := t.TempDir()
	d, err := filestate.NewDriver(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	d.LockTimeout = 200 * time.Millisecond
	holdLock(t, dir, "k", "pid 4242 on host build-7 since 2026-12-07T16:00:00Z\n")
	done := make(chan error, 1)
	go func() {
		_, err := d.Put(context.Background(), "k", []byte("v"), "", time.Time{})
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Put still waiting for the lock after a minute")
	}
	if err == nil || !strings.Contains(err.Error(), "held by pid 4242 on host build-7 since 2026-12-07T16:00:00Z") || !strings.Contains(err.Error(), "k.lock") {
		t.Fatalf("Put under a held lock: %v, want an error naming the holder and the lock file", err)
	}
}

// TestLockHonoursContext: the wait for a held lock ends when the context does (SIGINT cancels it
// in the CLI), with the context's error.
func TestLockHonoursContext(t *testing.T) {
	dir := t.TempDir()
	d, err := filestate.NewDriver(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	d.LockTimeout = time.Hour
	holdLock(t, dir, "k", "")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := d.Put(ctx, "k", []byte("v"), "", time.Time{})
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Put ignored its context")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "unknown process") {
		t.Fatalf("Put with an expiring context: %v", err)
	}
	// Once free, the lock is taken and the note names this process.
	if _, err := d.Put(context.Background(), "other", []byte("v"), "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	note, err := os.ReadFile(filepath.Join(dir, "other.lock"))
	if err != nil || !strings.HasPrefix(string(note), "pid ") {
		t.Fatalf("lock note %q, %v: want the holder's pid", note, err)
	}
}
