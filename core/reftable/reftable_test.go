package reftable_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/eddyhq/eddy/core/reftable/reftabletest"
)

// Files pass the loader suite: the source is a path, as eddy dev reads it.
func TestFileLoader(t *testing.T) {
	dir := t.TempDir()
	reftabletest.Run(t, reftabletest.Harness{
		Put: func(t testing.TB, key string, data []byte) {
			// Write then rename, as an editor or a deploy does, so a refresh never reads half a file.
			tmp := filepath.Join(dir, key+".tmp")
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(dir, key)); err != nil {
				t.Fatal(err)
			}
		},
		Delete: func(t testing.TB, key string) {
			if err := os.Remove(filepath.Join(dir, key)); err != nil {
				t.Fatal(err)
			}
		},
		Source: func(key string) string { return filepath.Join(dir, key) },
	})
}
