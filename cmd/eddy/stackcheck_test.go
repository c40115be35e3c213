package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The names the generated stacks are checked with: the shortest and the longest eddy new accepts.
var stackCheckNames = []string{"ab", "a-very-long-function-name-for-eddy-check"}

// tfMirror is the local provider mirror of the machine image CI runs on.
const tfMirror = "/opt/tf-plugins"

// newStacks runs eddy new --cloud all (in process, without go mod tidy) and returns the project.
func newStacks(t *testing.T, name string) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if code, _, stderr := runEnv(t, "", false, "new", name, "--cloud", "all", "--dir", dir, "--no-tidy", "--eddy-path", repo); code != 0 {
		t.Fatalf("eddy new %s: exit %d: %s", name, code, stderr)
	}
	return dir
}

// tool runs a validator and fails the test with its output when it fails.
func tool(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// The SAM template of eddy new, packaged as sam package/sam deploy would package it (its CodeUri
// must be a literal path to the artifact eddy deploy builds, which becomes an s3:// URI), passes
// the SAM transform (aws-sam-translator) and cfn-lint, before and after packaging.
func TestStackAWSSAM(t *testing.T) {
	for _, name := range stackCheckNames {
		t.Run(name, func(t *testing.T) {
			dir := newStacks(t, name)
			tpl := filepath.Join(dir, "deploy", "aws", "template.yaml")
			// sam package reads the artifact: put one where eddy deploy --cloud aws builds it.
			art := awsArtifact(dir)
			if err := os.MkdirAll(filepath.Dir(art), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(art, []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o644); err != nil {
				t.Fatal(err)
			}
			script, err := filepath.Abs("testdata/validate/sampackage.py")
			if err != nil {
				t.Fatal(err)
			}
			packaged := filepath.Join(t.TempDir(), "packaged.json")
			out := tool(t, dir, nil, "python3", script, tpl, packaged)
			if !strings.Contains(out, `"lambda_functions": ["Function"]`) {
				t.Errorf("the transform made no Lambda function: %s", out)
			}
			data, err := os.ReadFile(packaged)
			if err != nil || !strings.Contains(string(data), `"CodeUri": "s3://eddy-packaged-artifacts/`) {
				t.Errorf("packaging did not replace CodeUri with an s3:// URI:\n%s", data)
			}
			tool(t, dir, nil, "cfn-lint", tpl)
			tool(t, dir, nil, "cfn-lint", packaged)
		})
	}
}

// tfEnv is the environment of a terraform run: a CLI configuration that installs providers only
// from the local mirror, and a data directory of the test's own.
func tfEnv(t *testing.T) []string {
	t.Helper()
	tmp := t.TempDir()
	rc := filepath.Join(tmp, "terraformrc")
	conf := "provider_installation {\n  filesystem_mirror {\n    path = \"" + tfMirror + "\"\n  }\n}\n"
	if err := os.WriteFile(rc, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"TF_CLI_CONFIG_FILE=" + rc, "TF_DATA_DIR=" + filepath.Join(tmp, "tfdata"), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}
}

// Every generated Terraform configuration is terraform fmt clean; those whose providers the local
// mirror holds (AWS) pass terraform init against the mirror and terraform validate.
func TestStackTerraform(t *testing.T) {
	for _, name := range stackCheckNames {
		t.Run(name, func(t *testing.T) {
			dir := newStacks(t, name)
			for _, cloud := range []string{"aws", "gcp", "azure"} {
				tool(t, dir, nil, "terraform", "fmt", "-check", "-diff", filepath.Join("deploy", cloud))
			}
			env := tfEnv(t)
			aws := filepath.Join(dir, "deploy", "aws")
			tool(t, aws, env, "terraform", "init", "-input=false", "-backend=false")
			out := tool(t, aws, env, "terraform", "validate", "-no-color")
			if !strings.Contains(out, "The configuration is valid") {
				t.Errorf("terraform validate: %s", out)
			}
		})
	}
}
