//go:build unix

package filestate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// lock takes an exclusive advisory lock on key's lock file. The lock file is never renamed or
// removed, so every process locks the same inode; the kernel drops the lock if the process dies.
//
// It waits for a lock another process holds only as long as ctx allows and at most the driver's
// LockTimeout, then fails with an error naming the holder: the holder writes its pid, host and
// when it took the lock into the lock file, so a stopped process (Ctrl-Z, a debugger) is found.
func (d *Driver) lock(ctx context.Context, key string) (func(), error) {
	p := filepath.Join(d.dir, escape(key)+lockSuffix)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("filestate: lock %s: %w", p, err)
	}
	timeout := d.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	deadline := time.Now().Add(timeout)
	wait := 100 * time.Microsecond
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EINTR && err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("filestate: lock %s: %w", p, err)
		}
		if err == syscall.EINTR {
			continue
		}
		if cerr := ctx.Err(); cerr != nil {
			holder := readHolder(f)
			f.Close()
			return nil, fmt.Errorf("filestate: lock %s (held by %s): %w", p, holder, cerr)
		}
		if time.Now().After(deadline) {
			holder := readHolder(f)
			f.Close()
			return nil, fmt.Errorf("filestate: lock %s: held by %s for more than %s: is another eddy process stopped or stuck on this state directory? end it, or use another -state directory", p, holder, timeout)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, 20*time.Millisecond)
	}
	// Say who holds the lock, for whoever waits on it. The lock file's content is only this note.
	host, _ := os.Hostname()
	note := fmt.Sprintf("pid %d on host %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339Nano))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(note), 0)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// readHolder reads the note the holder of the lock wrote.
func readHolder(f *os.File) string {
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	s := strings.TrimSpace(string(b[:n]))
	if s == "" {
		return "an unknown process (no note in the lock file)"
	}
	return s
}
