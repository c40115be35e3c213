package filestate_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/filestate"
	"github.com/eddyhq/eddy/core/state/statetest"
)

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		dir := t.TempDir()
		return func(opts *state.Options) *state.Store {
			d, err := filestate.NewDriver(dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			return state.NewStore(d, opts)
		}
	}, statetest.Config{})
}

func TestOpenURLAndLayout(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nested", "state")
	s, err := state.Open(ctx, "file://"+dir+"?max_value=2048")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "fn/shard-0", make([]byte, 10000), "", nil); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var data, tmp int
	for _, e := range ents {
		switch {
		case strings.HasPrefix(e.Name(), ".tmp-"):
			tmp++
		case strings.HasSuffix(e.Name(), ".v"):
			data++
		}
	}
	if tmp != 0 || data != 1+5 {
		t.Fatalf("directory has %d data files and %d temporary files, want 6 (head + 5 chunks) and 0", data, tmp)
	}
	if _, err := state.Open(ctx, "file://otherhost/x"); err == nil {
		t.Fatal("file URL with a host accepted")
	}
}

// A corrupted file is an error naming the file, never a silently wrong value.
func TestCorruptFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := filestate.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "k", []byte("hello state"), "", nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "k.v")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-6] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, "k")
	if err == nil || !strings.Contains(err.Error(), "checksum") || !strings.Contains(err.Error(), p) {
		t.Fatalf("Get of a corrupted file: %v, want a checksum error naming %s", err, p)
	}
}
