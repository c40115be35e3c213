package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runEnv(t *testing.T, stdin string, tty bool, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, stdinTTY: tty}
	code := run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// On a terminal, new asks for what the flags leave out (and asks again after a bad answer);
// elsewhere it never prompts and names the missing flag.
func TestNewPrompts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	code, _, stderr := runEnv(t, "Bad_Name\npress-monitor\ngcp, aws\nexample.com/acme/press\n", true,
		"new", "--dir", dir, "--no-tidy", "--eddy-path", "../..")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Project name", `name "Bad_Name"`, "Clouds (aws, gcp, azure, all) [all]", "Go module path [press-monitor]"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for path, want := range map[string]bool{"cmd/aws/main.go": true, "gcpfunction/function.go": true, "cmd/azure/main.go": false,
		"testdata/aws-kinesis-event.json": true, "testdata/gcp-pubsub-cloudevents.http": true, "deploy/azure/host.json": false} {
		if _, err := os.Stat(filepath.Join(dir, path)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", path, err == nil, want)
		}
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if !strings.HasPrefix(string(gomod), "module example.com/acme/press\n") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	// The directory is not empty now: new refuses without --force.
	if code, _, stderr := runEnv(t, "", false, "new", "press-monitor", "--cloud", "aws", "--dir", dir, "--no-tidy", "--eddy-path", "../.."); code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("existing directory: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runEnv(t, "", false, "new", "press-monitor", "--cloud", "azure", "--dir", dir, "--no-tidy", "--eddy-path", "../..", "--force"); code != 0 {
		t.Errorf("--force: exit %d: %s", code, stderr)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"new"}, "NAME"},
		{[]string{"new", "press-monitor"}, "--cloud"},
		{[]string{"new", "press-monitor", "--cloud", "aws", "--eddy-path", t.TempDir()}, "eddy checkout"},
		{[]string{"new", "press-monitor", "--cloud", "aws", "--eddy-path", "../..", "--eddy-version", "v1.0.0"}, "exclude"},
	} {
		code, _, stderr := runEnv(t, "press-monitor\naws\n", false, append(c.args, "--dir", filepath.Join(t.TempDir(), "x"), "--no-tidy")...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "Project name") {
			t.Errorf("%q: exit %d, stderr %q (want %q, no prompt)", c.args, code, stderr, c.want)
		}
	}
}
