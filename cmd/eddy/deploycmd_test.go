package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeTools puts scripts named tools on a PATH (with go's directory) that record how they are
// called, and returns the PATH entry and the record file.
func fakeTools(t *testing.T, tools ...string) (string, string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	record := filepath.Join(dir, "calls")
	for _, tool := range tools {
		script := "#!/bin/sh\necho \"" + tool + " $*\" >> " + record + "\n"
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return "PATH=" + dir + string(os.PathListSeparator) + filepath.Dir(goBin) + string(os.PathListSeparator) + "/bin:/usr/bin", record
}

func readCalls(t *testing.T, record string) string {
	t.Helper()
	data, _ := os.ReadFile(record)
	os.Remove(record)
	return string(data)
}

// The deploy command as SAM and gcloud users expect it: --version; checks before building (gcp
// without a project fails at once, without a build); progress while building; a saved
// configuration that later deploy, logs and destroy commands reuse; a build reused while its
// inputs do not change and redone when they do; eddy logs and eddy destroy printing and running
// the cloud CLI's commands; the GCP pull mode chosen at eddy new.
func TestDeployCommand(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	r := eddy(t, "", "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "eddy version ") {
		t.Fatalf("eddy --version: exit %d: %q %q", r.code, r.stdout, r.stderr)
	}

	dir := filepath.Join(t.TempDir(), "press-monitor")
	if r := eddyIn(t, ".", nil, "new", "press-monitor", "--cloud", "aws,gcp", "--mode", "pull", "--dir", dir, "--eddy-path", repo); r.code != 0 {
		t.Fatalf("eddy new: exit %d: %s", r.code, r.stderr)
	}
	path, record := fakeTools(t, "terraform", "gcloud", "sam", "aws")
	noProject := []string{path, "GOOGLE_CLOUD_PROJECT="}

	// GCP without a project: a usage error before anything is built.
	r = eddyIn(t, dir, noProject, "deploy", "--cloud", "gcp")
	if r.code != 2 || !strings.Contains(r.stderr, "needs the project") || strings.Contains(r.stderr, "eddy deploy: building") {
		t.Fatalf("deploy --cloud gcp without a project: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".eddy", "build", "gcp")); err == nil {
		t.Errorf("deploy built before failing on the missing project")
	}

	// The first build reports its steps and their time, and saves the settings.
	r = eddyIn(t, dir, noProject, "deploy", "--cloud", "aws", "--region", "eu-west-1", "--dry-run", "--progress-interval", "1ms")
	if r.code != 0 {
		t.Fatalf("deploy --dry-run: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"eddy deploy: go build ./cmd/aws (linux/arm64, -tags lambda.norpc) ...", "so far", "done in", "built press-monitor for aws in"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("deploy's progress lacks %q:\n%s", want, r.stderr)
		}
	}
	saved, err := os.ReadFile(filepath.Join(dir, "deploy", "eddy-deploy.yaml"))
	if err != nil || !strings.Contains(string(saved), "cloud: aws") || !strings.Contains(string(saved), "region: eu-west-1") || !strings.Contains(string(saved), "mode: pull") {
		t.Fatalf("saved configuration: %v\n%s", err, saved)
	}
	boot := filepath.Join(dir, ".eddy", "build", "aws", "bootstrap")
	st1, err := os.Stat(boot)
	if err != nil {
		t.Fatal(err)
	}

	// Again without flags: the saved cloud and region, and the build reused.
	r = eddyIn(t, dir, noProject, "deploy", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "to aws with sam, region eu-west-1") || !strings.Contains(r.stderr, "unchanged since the last build") {
		t.Fatalf("deploy with saved settings: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if st2, err := os.Stat(boot); err != nil || !st2.ModTime().Equal(st1.ModTime()) {
		t.Errorf("the unchanged function was rebuilt")
	}
	// A changed source rebuilds.
	f, err := os.OpenFile(filepath.Join(dir, "function.go"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n// changed\n")
	f.Close()
	time.Sleep(10 * time.Millisecond)
	r = eddyIn(t, dir, noProject, "deploy", "--dry-run")
	if r.code != 0 || strings.Contains(r.stderr, "unchanged") || !strings.Contains(r.stderr, "building press-monitor for aws") {
		t.Fatalf("deploy after a change: exit %d\n%s", r.code, r.stderr)
	}

	// The real thing, with the (recording) tools: the saved settings, the planned command.
	r = eddyIn(t, dir, noProject, "deploy")
	if calls := readCalls(t, record); r.code != 0 || !strings.Contains(calls, "sam deploy --template-file deploy/aws/template.yaml --stack-name press-monitor --region eu-west-1") {
		t.Fatalf("deploy: exit %d, calls %q\n%s", r.code, calls, r.stderr)
	}

	// logs and destroy: printed, then run through the cloud's CLI.
	r = eddyIn(t, dir, noProject, "logs")
	wantLogs := "aws logs tail /aws/lambda/press-monitor --follow --region eu-west-1"
	if calls := readCalls(t, record); r.code != 0 || !strings.Contains(r.stdout, wantLogs) || strings.TrimSpace(calls) != wantLogs {
		t.Fatalf("logs: exit %d, calls %q\n%s\n%s", r.code, calls, r.stdout, r.stderr)
	}
	r = eddyIn(t, dir, noProject, "destroy", "--dry-run")
	if calls := readCalls(t, record); r.code != 0 || !strings.Contains(r.stdout, "sam delete --stack-name press-monitor --region eu-west-1 --no-prompts") || calls != "" {
		t.Fatalf("destroy --dry-run: exit %d, calls %q\n%s", r.code, calls, r.stdout)
	}
	r = eddyIn(t, dir, noProject, "destroy")
	if calls := readCalls(t, record); r.code != 0 || strings.TrimSpace(calls) != "sam delete --stack-name press-monitor --region eu-west-1 --no-prompts" {
		t.Fatalf("destroy: exit %d, calls %q\n%s", r.code, calls, r.stderr)
	}
	// Without the CLI: the command, and what to install.
	r = eddyIn(t, dir, []string{"PATH=/nonexistent"}, "logs")
	if r.code != 1 || !strings.Contains(r.stderr, "aws not installed") || !strings.Contains(r.stderr, wantLogs) {
		t.Fatalf("logs without aws: exit %d: %s", r.code, r.stderr)
	}

	// GCP in pull mode (chosen at eddy new): the registry first, the image built by Cloud Build
	// from the bundle's pull command, then the rest with that image.
	r = eddyIn(t, dir, noProject, "deploy", "--cloud", "gcp", "--project", "my-project")
	calls := readCalls(t, record)
	if r.code != 0 {
		t.Fatalf("deploy --cloud gcp (pull): exit %d\n%s", r.code, r.stderr)
	}
	want := []string{
		"terraform -chdir=deploy/gcp init -input=false",
		"-var mode=pull -var pull_image=us-central1-docker.pkg.dev/my-project/press-monitor/pull:",
		"-target=google_artifact_registry_repository.images",
		"gcloud builds submit " + filepath.Join(dir, ".eddy/build/gcp/source") + " --project my-project --region us-central1 --pack image=us-central1-docker.pkg.dev/my-project/press-monitor/pull:",
	}
	for _, w := range want {
		if !strings.Contains(calls, w) {
			t.Errorf("gcp pull deploy: calls lack %q:\n%s", w, calls)
		}
	}
	if n := len(lines(calls)); n != 4 {
		t.Errorf("gcp pull deploy: %d calls, want 4 (init, apply the registry, build, apply):\n%s", n, calls)
	}
	if _, err := os.Stat(filepath.Join(dir, ".eddy/build/gcp/source/pull/main.go")); err != nil {
		t.Errorf("the bundle has no pull command: %v", err)
	}
	r = eddyIn(t, dir, noProject, "logs", "--print")
	if r.code != 0 || !strings.Contains(r.stdout, "gcloud beta run services logs tail press-monitor-pull --project my-project --region us-central1") {
		t.Errorf("gcp logs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// eddy new refuses a name too long for a chosen cloud's resources, naming the limit and a name
// that fits; deploy does the same with the project id, which bucket names include.
func TestNewNameLimits(t *testing.T) {
	code, _, stderr := runEnv(t, "", false, "new", "press-monitor-with-a-rather-long-name-for-cloud-run", "--cloud", "gcp", "--dir", t.TempDir(), "--no-tidy")
	if code != 2 || !strings.Contains(stderr, "Cloud Run function and service name") || !strings.Contains(stderr, "over the limit of 49") ||
		!strings.Contains(stderr, `for example "press-monitor-with-a-rather-long-name-for"`) {
		t.Errorf("exit %d: %s", code, stderr)
	}
	// The same name is fine for AWS alone.
	if code, _, stderr := runEnv(t, "", false, "new", "press-monitor-with-a-rather-long-name-for-cloud-run", "--cloud", "aws", "--dir", t.TempDir(), "--no-tidy", "--eddy-path", "../.."); code != 0 {
		t.Errorf("aws: exit %d: %s", code, stderr)
	}
}
