package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// builder runs the steps of a build, saying what each is and how long it has taken: a cold Go
// build of a cloud's SDK takes minutes.
type builder struct {
	e     *env
	every time.Duration // how often a running step reports its time
	verb  string        // the command, for the messages ("deploy")
	mu    sync.Mutex
}

func (b *builder) printf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.e.stderr, "eddy "+b.verb+": "+format+"\n", args...)
}

// run runs one step, printing what it is, its elapsed time every b.every while it runs, and how
// long it took.
func (b *builder) run(what string, f func() error) error {
	start := time.Now()
	b.printf("%s ...", what)
	done := make(chan struct{})
	var wg sync.WaitGroup
	if b.every > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(b.every)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					b.printf("%s: %s so far", what, time.Since(start).Round(time.Second))
				}
			}
		}()
	}
	err := f()
	close(done)
	wg.Wait()
	if err != nil {
		b.printf("%s: failed after %s", what, time.Since(start).Round(time.Millisecond))
		return err
	}
	b.printf("%s: done in %s", what, time.Since(start).Round(time.Millisecond))
	return nil
}

// buildStamp is the file in a cloud's build directory that records the content hash of the
// inputs it was built from.
const buildStamp = "inputs.sha256"

// cachedBuild builds c's artifacts into build unless the last build there was made from the same
// inputs (the hash of inputHash) and its artifacts are all still there. It returns the artifacts
// and the inputs' hash.
func cachedBuild(ctx context.Context, c cloud, p *project, b *builder, build string, rebuild bool) ([]artifact, string, error) {
	var hash string
	if err := b.run("hashing the build's inputs", func() (err error) {
		hash, err = inputHash(ctx, p, c.name())
		return err
	}); err != nil {
		return nil, "", err
	}
	stamp := filepath.Join(build, buildStamp)
	if old, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(old)) == hash && !rebuild {
		if arts, ok := builtArtifacts(build); ok {
			b.printf("%s is unchanged since the last build (inputs %s): reusing %s", p.name, hash[:12], rel(p.root, build))
			return arts, hash, nil
		}
	}
	if err := os.RemoveAll(build); err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(build, 0o755); err != nil {
		return nil, "", err
	}
	start := time.Now()
	b.printf("building %s for %s in %s", p.name, c.name(), rel(p.root, build))
	arts, err := c.build(ctx, p, b, build)
	if err != nil {
		return nil, "", err
	}
	b.printf("built %s for %s in %s", p.name, c.name(), time.Since(start).Round(time.Millisecond))
	if err := os.WriteFile(stamp, []byte(hash+"\n"), 0o644); err != nil {
		return nil, "", err
	}
	if err := saveArtifacts(build, arts); err != nil {
		return nil, "", err
	}
	return arts, hash, nil
}

// The artifact list of a build, saved beside it so that a reused build prints the same plan.
const artifactList = "artifacts.txt"

func saveArtifacts(build string, arts []artifact) error {
	var b strings.Builder
	for _, a := range arts {
		fmt.Fprintf(&b, "%s\t%s\n", rel(build, a.path), a.what)
	}
	return os.WriteFile(filepath.Join(build, artifactList), []byte(b.String()), 0o644)
}

func builtArtifacts(build string) ([]artifact, bool) {
	data, err := os.ReadFile(filepath.Join(build, artifactList))
	if err != nil {
		return nil, false
	}
	var arts []artifact
	for l := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		path, what, ok := strings.Cut(l, "\t")
		if !ok {
			return nil, false
		}
		full := filepath.Join(build, filepath.FromSlash(path))
		st, err := os.Stat(full)
		if err != nil {
			return nil, false
		}
		if st.IsDir() {
			arts = append(arts, dirStat(full, what))
		} else {
			arts = append(arts, stat(full, what))
		}
	}
	return arts, len(arts) > 0
}

// inputHash is the SHA-256 of everything a cloud's build is made from: the project's sources (not
// its build output, infrastructure state or version control; deploy/CLOUD's JSON files, which the
// Azure package holds), the eddy checkout its go.mod replaces eddy with, this eddy binary (its
// embedded bundle templates), the Go toolchain's version and the cloud.
func inputHash(ctx context.Context, p *project, cloudName string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "cloud %s\n", cloudName)
	goVer, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	fmt.Fprintf(h, "go %s", goVer)
	if exe, err := os.Executable(); err == nil {
		if err := hashFile(h, "eddy", exe); err != nil {
			return "", err
		}
	}
	skip := []string{".eddy", ".git", ".terraform", ".aws-sam", "vendor", "node_modules"}
	err = hashTree(h, p.root, func(r string, d fs.DirEntry) bool {
		if d.IsDir() {
			return slices.Contains(skip, d.Name()) || r == "deploy"
		}
		return strings.HasSuffix(r, ".zip") || strings.HasSuffix(r, ".tfstate") || r == "bootstrap"
	})
	if err != nil {
		return "", err
	}
	appDir := filepath.Join(p.root, "deploy", cloudName)
	if _, err := os.Stat(appDir); err == nil {
		err = hashTree(h, appDir, func(r string, d fs.DirEntry) bool {
			return d.IsDir() && strings.HasPrefix(d.Name(), ".") || !d.IsDir() && !strings.HasSuffix(r, ".json")
		})
		if err != nil {
			return "", err
		}
	}
	if p.data.EddyPath != "" {
		err = hashTree(h, p.data.EddyPath, func(r string, d fs.DirEntry) bool {
			if d.IsDir() {
				return slices.Contains(skip, d.Name()) || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && r != "."
			}
			return !(strings.HasSuffix(r, ".go") && !strings.HasSuffix(r, "_test.go") || d.Name() == "go.mod" || d.Name() == "go.sum")
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashTree hashes the names and contents of the regular files under root that skip keeps, in
// lexical order; skip on a directory leaves it out whole.
func hashTree(h io.Writer, root string, skip func(rel string, d fs.DirEntry) bool) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r := filepath.ToSlash(rel(root, path))
		if path != root && skip(r, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		return hashFile(h, r, path)
	})
}

func hashFile(h io.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "file %s\n", name)
	_, err = io.Copy(h, f)
	return err
}

// eddyVersion is what eddy --version prints: the module version it was installed at, or the
// VCS revision of a build from a checkout.
func eddyVersion() string {
	if v := builtVersion(); v != "" {
		return v
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel (" + bi.GoVersion + ")"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return "devel " + rev + " (" + bi.GoVersion + ")"
}
