package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/eddyhq/eddy/core/sink/filesink"
)

// openAppend opens path for `eddy dev`'s outputs and dead letters: a restart appends (what the
// runs before it wrote stays: it was committed, and the copies a restart re-emits carry the same
// ids), after cutting a torn last line a kill left. "" or "-" is stdout.
func openAppend(e *env, path, what string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return e.stdout, func() error { return nil }, nil
	}
	cut, err := filesink.CutTornTail(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w (does %s exist?)", what, err, filepath.Dir(path))
	}
	if cut > 0 {
		fmt.Fprintf(e.stderr, "eddy dev: %s: cut a torn last line (%d bytes) left by a killed run\n", path, cut)
	}
	return f, f.Close, nil
}
