package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/term"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
)

// defaultSpec is the spec file commands look for in the current directory.
const defaultSpec = "eddy.yaml"

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// loadSpec loads and compiles the spec at path (defaultSpec when empty). Spec errors come back as
// they are, one per line, each with file:line:column.
func loadSpec(path string) (*spec.Function, *spec.Compiled, error) {
	if path == "" {
		path = defaultSpec
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			wd, _ := os.Getwd()
			return nil, nil, fmt.Errorf("no %s in %s: run eddy in a project directory, or pass --spec FILE (for example --spec examples/bench/w1.yaml)", defaultSpec, wd)
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("load spec: %s: no such file in %s: %s", path, workDir(),
			"pass the path of a spec, e.g. --spec examples/iot/meters/eddy.yaml, or run eddy in a project made by `eddy new`")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load spec: %w", err)
	}
	return parseSpec(path, data)
}

// parseSpec parses and compiles a spec, its problems as a specError.
func parseSpec(path string, data []byte) (*spec.Function, *spec.Compiled, error) {
	f, err := spec.Parse(path, data)
	if err != nil {
		var es spec.Errors
		if errors.As(err, &es) {
			return nil, nil, specError{es}
		}
		return nil, nil, fmt.Errorf("load spec: %w", err)
	}
	c, err := f.Compile(spec.Options{})
	if err != nil {
		var es spec.Errors
		if errors.As(err, &es) {
			// Compile reports paths without positions; the file name still helps.
			for _, e := range es {
				if e.File == "" {
					e.File = path
				}
			}
			return nil, nil, specError{es}
		}
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, c, nil
}

// specError is a spec's problems, printed one per line.
type specError struct{ es spec.Errors }

func (e specError) Error() string {
	n := len(e.es)
	s := "spec has 1 problem:\n"
	if n != 1 {
		s = fmt.Sprintf("spec has %d problems:\n", n)
	}
	return s + e.es.Error()
}

func (e specError) Unwrap() error { return e.es }

// workDir names the working directory in errors about relative paths.
func workDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "the working directory"
	}
	return wd
}

// openInput opens a file, or stdin for "-".
func openInput(e *env, path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(e.stdin), -1, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("input: %s: no such file in %s: %s", path, workDir(),
			"pass newline-delimited events, e.g. --input examples/iot/meters/events.ndjson, - for stdin, or --generate for generated ones")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("input: %w", err)
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, nil
}

// openOutput creates a file (its directory must exist), or returns stdout for "" and "-".
func openOutput(e *env, path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return e.stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("output: %w (does %s exist?)", err, filepath.Dir(path))
	}
	return f, f.Close, nil
}

// lineSink writes outputs as the spec's outputs section says, one per line, and flushes after
// each batch so that `eddy dev` shows them live. It is a runner.Sink, safe for concurrent use.
type lineSink struct {
	mu  sync.Mutex
	c   *spec.Compiled
	w   *bufio.Writer
	buf []byte
	n   [3]int // windows, decisions, late
}

func newLineSink(c *spec.Compiled, w io.Writer) *lineSink {
	return &lineSink{c: c, w: bufio.NewWriterSize(w, 64<<10)}
}

func (s *lineSink) Emit(_ context.Context, outs []core.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range outs {
		s.count(o)
		var ok bool
		if s.buf, ok = s.c.AppendOutput(s.buf[:0], o); ok {
			s.buf = append(s.buf, '\n')
			if _, err := s.w.Write(s.buf); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func (s *lineSink) count(o core.Output) {
	switch o.Type() {
	case "window":
		s.n[0]++
	case "decision":
		s.n[1]++
	case "late":
		s.n[2]++
	}
}

// failureSink writes dead-lettered records: as JSON lines to a file, or in words to stderr. It is
// a runner.FailureSink, safe for concurrent use.
type failureSink struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	n    int
	buf  []byte
}

func (s *failureSink) EmitFailures(_ context.Context, fs []*core.Failure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range fs {
		s.n++
		if s.json {
			s.buf = append(f.AppendJSON(s.buf[:0]), '\n')
		} else {
			s.buf = fmt.Appendf(s.buf[:0], "dead letter: %v\n", f)
		}
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("write dead letter: %w", err)
		}
	}
	return nil
}

func (s *failureSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
