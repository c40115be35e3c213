package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// eddyTags are the build tags eddy is installed with (`make install`, the README), with
// CGO_ENABLED=0: the tests run the binary users run.
const eddyTags = "disable_grpc_modules"

// The installed eddy is the lean build. It leaves out the gRPC DirectPath modules of
// cloud.google.com/go/storage (xDS, Envoy's APIs, the RLS balancer), whose init functions alone
// held 8-13 MB of replay's resident memory (their code and tables are scattered through the
// binary, and every init faults its pages in), and it is static (CGO_ENABLED=0: no libc and dynamic
// loader mapped, 1-1.5 MB). This fails if a new storage version renames its opt-out tag or another
// dependency brings the modules back, and if the README or Makefile install eddy otherwise.
func TestLeanBuild(t *testing.T) {
	bi, err := buildinfo.ReadFile(eddyBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range bi.Deps {
		for _, m := range []string{"github.com/envoyproxy/", "github.com/cncf/xds/"} {
			if strings.HasPrefix(dep.Path, m) {
				t.Errorf("eddy links %s %s; want none of the gRPC DirectPath modules (go mod why -m %s, built with -tags %s)", dep.Path, dep.Version, dep.Path, eddyTags)
			}
		}
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-tags"] != eddyTags {
		t.Errorf("eddy built with CGO_ENABLED=%q -tags %q; want 0 and %s", settings["CGO_ENABLED"], settings["-tags"], eddyTags)
	}
	for _, f := range []string{"../../README.md", "../../Makefile"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		installs := 0
		for _, line := range strings.Split(string(b), "\n") {
			cmd := strings.TrimPrefix(strings.TrimSpace(line), "CGO_ENABLED=0 ")
			if !strings.HasPrefix(cmd, "go install") && !strings.HasPrefix(cmd, "$(GO) install") || !strings.Contains(cmd, "./cmd/eddy") {
				continue
			}
			installs++
			if !strings.Contains(line, "CGO_ENABLED=0 ") || !strings.Contains(cmd, "-tags "+eddyTags) && !strings.Contains(cmd, "-tags $(EDDY_TAGS)") {
				t.Errorf("%s installs eddy without CGO_ENABLED=0 and -tags %s: %q", f, eddyTags, line)
			}
		}
		if installs == 0 {
			t.Errorf("%s: no line installs eddy", f)
		}
	}
	mk, _ := os.ReadFile("../../Makefile")
	if !strings.Contains(string(mk), "EDDY_TAGS ?= "+eddyTags+"\n") {
		t.Errorf("Makefile: want EDDY_TAGS ?= %s", eddyTags)
	}
}

// What every eddy process pays before it does anything: the packages it links that run an init
// function, and what those allocate. Each such package costs a replay about 0.1 MB of resident
// memory (its init code, the tables it reads and the runtime metadata it walks are faulted in, 64 KB
// around each page touched) and its heap stays live, so the collector marks it in every cycle:
// 479 packages and 4.6 MB when this test was written, against 578 and 6.2 MB before. A new
// dependency that crosses a bound here should be worth it to every command, not only the one that
// needs it (go mod why -m MODULE; GODEBUG=inittrace=1 eddy --version lists them).
func TestStartupCost(t *testing.T) {
	const maxInits, maxInitHeap = 520, 5 << 20
	cmd := exec.Command(eddyBin, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("eddy --version: %v\n%s", err, errOut.String())
	}
	inits, heap := 0, 0
	type cost struct {
		pkg   string
		bytes int
	}
	var top cost
	sc := bufio.NewScanner(&errOut)
	for sc.Scan() {
		// init github.com/x/y @1.2 ms, 0.05 ms clock, 4096 bytes, 12 allocs
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", sc.Text(), err)
		}
		inits++
		heap += n
		if n > top.bytes {
			top = cost{f[1], n}
		}
	}
	t.Logf("%d packages run an init function, allocating %.2f MB (most: %s, %d bytes)", inits, float64(heap)/1e6, top.pkg, top.bytes)
	if inits < 100 {
		t.Fatalf("inittrace listed %d packages; did its format change?\n%s", inits, errOut.String())
	}
	if inits > maxInits {
		t.Errorf("eddy runs %d package inits, want at most %d", inits, maxInits)
	}
	if heap > maxInitHeap {
		t.Errorf("eddy's package inits allocate %d bytes, want at most %d", heap, maxInitHeap)
	}
}
