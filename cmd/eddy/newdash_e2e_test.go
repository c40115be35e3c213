package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// eddy new --cloud all --dashboard writes a project that builds (the dashboard's Lambda command,
// the GCP function registering the dashboard, the Azure handler serving it) and passes its tests;
// eddy deploy --dry-run then builds the dashboard's Lambda package beside the function's, passes it
// to Terraform, and puts the dashboard's function.json into the Azure app package.
func TestNewDashboardBuilds(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "press-monitor")
	r := eddyIn(t, ".", nil, "new", "press-monitor", "--cloud", "all", "--dashboard", "--dir", dir, "--eddy-path", repo)
	if r.code != 0 {
		t.Fatalf("eddy new --dashboard: exit %d: %s", r.code, r.stderr)
	}
	runIn(t, dir, []string{"GOFLAGS=-mod=mod"}, "go", "build", "./...")
	runIn(t, dir, []string{"GOFLAGS=-mod=mod"}, "go", "vet", "./cmd/awsdashboard", "./cmd/azure", "./gcpfunction")
	runIn(t, dir, []string{"GOFLAGS=-mod=mod"}, "go", "test", "-count=1", "./...")

	r = eddyIn(t, dir, nil, "deploy", "--cloud", "aws", "--tool", "terraform", "--dry-run")
	if r.code != 0 {
		t.Fatalf("deploy --cloud aws --dry-run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	zr, _ := readZip(t, awsDashboardArtifact(dir))
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Errorf("dashboard.zip holds %v, want bootstrap", zr.File)
	}
	if !strings.Contains(r.stdout, "dashboard_artifact="+awsDashboardArtifact(dir)) {
		t.Errorf("the Terraform plan does not pass the dashboard's package:\n%s", r.stdout)
	}
	if err := checkLinks(filepath.Join(dir, ".eddy/build/aws/dashboard/bootstrap"), "cloud.google.com/", "github.com/GoogleCloudPlatform/", "github.com/Azure/"); err != nil {
		t.Error(err)
	}

	r = eddyIn(t, dir, nil, "deploy", "--cloud", "azure", "--dry-run")
	if r.code != 0 {
		t.Fatalf("deploy --cloud azure --dry-run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	zr, _ = readZip(t, filepath.Join(dir, ".eddy/build/azure/app.zip"))
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !slices.Contains(names, "Dashboard/function.json") {
		t.Errorf("app.zip holds %v, without Dashboard/function.json", names)
	}
	_, host := zipEntry(t, zr, "host.json")
	if !strings.Contains(string(host), `"enableForwardingHttpRequest": true`) {
		t.Errorf("the packaged host.json does not forward HTTP requests:\n%s", host)
	}
	if _, err := os.Stat(filepath.Join(dir, "deploy", "eddy-deploy.yaml")); err != nil {
		t.Error(err)
	}
}
