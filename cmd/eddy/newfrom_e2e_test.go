package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// eddy new --from functions/threshold writes a project around that function that passes its own
// tests (the function over the events new made up for it, the Lambda entry point on its sample
// trigger), whose decisions under eddy dev are the ones recorded in testdata/expected.ndjson, and
// which eddy deploy --dry-run builds into a Lambda zip.
func TestNewFromAndDeploy(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "hot-devices")
	r := eddyIn(t, ".", nil, "new", "hot-devices", "--cloud", "aws", "--from", filepath.Join(repo, "functions/threshold"), "--dir", dir, "--eddy-path", repo)
	if r.code != 0 {
		t.Fatalf("eddy new: exit %d: %s", r.code, r.stderr)
	}
	checkGoMod(t, filepath.Join(dir, "go.mod"), repo)
	spec, err := os.ReadFile(filepath.Join(dir, "eddy.yaml"))
	if err != nil || !strings.Contains(string(spec), "\nname: hot-devices\n") || !strings.Contains(string(spec), "when: avg > 80.0 && readings >= 5") {
		t.Fatalf("eddy.yaml: %v\n%s", err, spec)
	}
	out := runIn(t, dir, []string{"GOFLAGS=-mod=mod"}, "go", "test", "-v", "./...")
	for _, test := range []string{"TestSampleOutputs", "TestSpec", "TestKinesisEvent"} {
		if !strings.Contains(out, "--- PASS: "+test) {
			t.Errorf("go test ran no passing %s:\n%s", test, out)
		}
	}
	expected, err := os.ReadFile(filepath.Join(dir, "testdata/expected.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	want, wantRaw := decisions(t, string(expected))
	if len(want) == 0 {
		t.Fatalf("no decisions recorded in testdata/expected.ndjson:\n%s", expected)
	}
	dev := eddyIn(t, dir, nil, "dev", "--input", "testdata/events.ndjson")
	got, gotRaw := decisions(t, dev.stdout)
	if dev.code != 0 || !slices.Equal(got, want) || !slices.Equal(gotRaw, wantRaw) {
		t.Fatalf("eddy dev: exit %d, decisions %q, want %q\n%s", dev.code, got, want, dev.stderr)
	}
	r = eddyIn(t, dir, nil, "deploy", "--cloud", "aws", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "Dry run: nothing was deployed") || !strings.Contains(r.stdout, "hot-devices") {
		t.Fatalf("deploy --dry-run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	checkLambdaZip(t, filepath.Join(dir, ".eddy/build/aws/function.zip"))
	checkSAM(t, filepath.Join(dir, "deploy/aws/template.yaml"))
}
