// Package filesink is the file sink driver: file://PATH appends each message's body as one line
// (JSON lines) to the file PATH, creating it if needed.
//
// A restart appends: outputs written before it stay (consumers drop the copies a restart re-emits
// by their ids). Writes are whole lines: each Send is one write(2) of whole lines on a file opened
// with O_APPEND, so concurrent Sends never interleave within a line. A process killed in the middle
// of a write can still leave a torn last line; opening the file cuts it back to its last complete
// line, so a reader never sees half a line followed by a whole one.
//
// Durability (the sync URL parameter): sync=batch (the default) fsyncs after every Send, so an
// output the Runner reported emitted survives a machine crash; sync=none leaves flushing to the OS
// (faster, and a process crash still loses nothing the kernel has).
//
//	file:///var/eddy/out.jsonl
//	file://out.jsonl?sync=none     (a relative path)
package filesink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Scheme is the URL scheme filesink registers with the default mux.
const Scheme = "file"

func init() {
	sink.DefaultURLMux().Register(Scheme, sink.URLOpenerFunc(func(_ context.Context, u *url.URL) (driver.Sink, error) {
		path := u.Host + u.Path
		if path == "" {
			return nil, errors.New("filesink: no path (file:///abs/path or file://rel/path)")
		}
		var o Options
		switch s := u.Query().Get("sync"); s {
		case "", "batch":
		case "none":
			o.NoSync = true
		default:
			return nil, fmt.Errorf("filesink: parameter sync=%q: want batch or none", s)
		}
		return Open(path, &o)
	}))
}

// Options tune a File.
type Options struct {
	// NoSync skips the fsync after each Send.
	NoSync bool
}

// File is an append-only JSON-lines file. It is a driver.Sink, safe for concurrent use.
type File struct {
	mu   sync.Mutex
	f    *os.File
	sync bool
	buf  []byte
	// Cut is how many bytes of a torn last line Open removed.
	Cut int64
}

// Open opens (creating it if needed) the file at path for appending, first cutting a torn last line.
func Open(path string, o *Options) (*File, error) {
	if o == nil {
		o = &Options{}
	}
	cut, err := CutTornTail(path)
	if err != nil {
		return nil, fmt.Errorf("filesink: %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("filesink: %w", err)
	}
	return &File{f: f, sync: !o.NoSync, Cut: cut}, nil
}

// CutTornTail truncates the file at path after its last newline, returning the bytes it cut: what a
// writer killed in the middle of a line left. A missing file is fine.
func CutTornTail(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		return 0, err
	}
	// Read backwards, a block at a time, to the last newline: constant memory for any file.
	const block = 64 << 10
	buf := make([]byte, block)
	end := size
	for end > 0 {
		start := max(0, end-block)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep == size {
				return 0, nil
			}
			return size - keep, truncate(f, keep)
		}
		end = start
	}
	return size, truncate(f, 0)
}

func truncate(f *os.File, n int64) error {
	if err := f.Truncate(n); err != nil {
		return err
	}
	return f.Sync()
}

// Send implements driver.Sink: the messages' bodies, one per line, in one write.
func (s *File) Send(ctx context.Context, msgs []*driver.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf[:0]
	for _, m := range msgs {
		body := bytes.TrimRight(m.Body, "\n")
		if bytes.IndexByte(body, '\n') >= 0 {
			return fmt.Errorf("filesink: message %s has a newline in its body: not one JSON line", m.ID)
		}
		b = append(append(b, body...), '\n')
	}
	s.buf = b
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("filesink: %w", err)
	}
	if s.sync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("filesink: fsync: %w", err)
		}
	}
	return nil
}

// Limits implements driver.Sink: none.
func (s *File) Limits() driver.Limits { return driver.Limits{} }

// Close implements driver.Sink.
func (s *File) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
