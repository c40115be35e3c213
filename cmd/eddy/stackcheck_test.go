package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The names the generated stacks are checked with: the shortest and the longest eddy new accepts
// for --cloud all (43 characters: Event Hubs namespaces take 50, NAME plus a 7-character suffix).
var stackCheckNames = []string{"ab", "a-long-function-name-at-the-limit-of-clouds"}

// tfMirror is the local provider mirror of the machine image CI runs on.
const tfMirror = "/opt/tf-plugins"

// newStacks runs eddy new --cloud all (in process, without go mod tidy) with the extra flags and
// returns the project.
func newStacks(t *testing.T, name string, flags ...string) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	args := append([]string{"new", name, "--cloud", "all", "--dir", dir, "--no-tidy", "--eddy-path", repo}, flags...)
	if code, _, stderr := runEnv(t, "", false, args...); code != 0 {
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

// tfResources parses a Terraform file into its resource blocks by type, with the source text of
// each block's attributes (nested ones as "block.attr").
func tfResources(t *testing.T, path string) map[string][]map[string]string {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags)
	}
	out := map[string][]map[string]string{}
	var walk func(prefix string, b *hclsyntax.Body, into map[string]string)
	walk = func(prefix string, b *hclsyntax.Body, into map[string]string) {
		for name, a := range b.Attributes {
			r := a.Expr.Range()
			into[prefix+name] = string(f.Bytes[r.Start.Byte:r.End.Byte])
		}
		for _, nb := range b.Blocks {
			into[prefix+nb.Type] = "block"
			walk(prefix+nb.Type+".", nb.Body, into)
		}
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "resource" {
			continue
		}
		attrs := map[string]string{}
		walk("", b.Body, attrs)
		out[b.Labels[0]] = append(out[b.Labels[0]], attrs)
	}
	return out
}

// The Azure stack deploys code the way each plan supports and holds no storage key: on Linux
// Consumption (Y1) the app runs from the package blob (WEBSITE_RUN_FROM_PACKAGE = its URL, read
// with the app's identity), since zip deploy with WEBSITE_RUN_FROM_PACKAGE=1 is not supported there
// and zip_deploy_file without it deploys nothing; Flex Consumption (FC1) is offered and deploys the
// zip into its deployment container; no app holds the storage account's access key.
func TestStackAzureDeploysCode(t *testing.T) {
	dir := newStacks(t, "press-monitor")
	res := tfResources(t, filepath.Join(dir, "deploy", "azure", "main.tf"))
	for _, typ := range []string{"azurerm_linux_function_app", "azurerm_function_app_flex_consumption"} {
		apps := res[typ]
		if len(apps) != 1 {
			t.Fatalf("%d %s, want 1", len(apps), typ)
		}
		app := apps[0]
		if _, ok := app["storage_account_access_key"]; ok {
			t.Errorf("%s holds the storage account key: %s", typ, app["storage_account_access_key"])
		}
		if _, ok := app["storage_access_key"]; ok {
			t.Errorf("%s holds the storage account key: %s", typ, app["storage_access_key"])
		}
		if zip, ok := app["zip_deploy_file"]; ok && typ == "azurerm_linux_function_app" {
			if !regexp.MustCompile(`WEBSITE_RUN_FROM_PACKAGE\s*=\s*"1"|SCM_DO_BUILD_DURING_DEPLOYMENT\s*=\s*"?true`).MatchString(app["app_settings"]) {
				t.Errorf("%s: zip_deploy_file %s without WEBSITE_RUN_FROM_PACKAGE=1 or SCM_DO_BUILD_DURING_DEPLOYMENT=true deploys nothing", typ, zip)
			}
		}
	}
	y1 := res["azurerm_linux_function_app"][0]
	if y1["storage_uses_managed_identity"] != "true" || !strings.Contains(y1["app_settings"], "WEBSITE_RUN_FROM_PACKAGE") ||
		!strings.Contains(y1["app_settings"], "azurerm_storage_blob.app[0].url") || !strings.Contains(y1["app_settings"], "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID") {
		t.Errorf("the Y1 app does not run from its package blob with its identity: %v", y1)
	}
	fc1 := res["azurerm_function_app_flex_consumption"][0]
	if fc1["storage_authentication_type"] != `"SystemAssignedIdentity"` || fc1["zip_deploy_file"] != "var.app_zip" || fc1["runtime_name"] != `"custom"` {
		t.Errorf("the FC1 app: %v", fc1)
	}
	if sku := res["azurerm_service_plan"][0]["sku_name"]; sku != "var.plan" {
		t.Errorf("the service plan's sku is %s, want var.plan (Y1 or FC1)", sku)
	}
	// The state containers' grant is theirs alone: the host's account is another one.
	for _, ra := range res["azurerm_role_assignment"] {
		if strings.Contains(ra["role_definition_name"], "Owner") && strings.Contains(ra["scope"], "storage_account.data") {
			t.Errorf("an owner grant on the data account: %v", ra)
		}
	}
}

// tfSchema is testdata/validate/tfschema.json: the arguments of the resources of providers the
// local mirror lacks, extracted from the providers' documentation by tfschema.py.
type tfSchema struct {
	Providers map[string]struct{ Commit string } `json:"providers"`
	Resources map[string]struct {
		Args     []string `json:"args"`
		Required []string `json:"required"`
		Exports  []string `json:"exports"`
		Blocks   map[string]struct {
			Args     []string `json:"args"`
			Required []string `json:"required"`
		} `json:"blocks"`
	} `json:"resources"`
}

// metaArgs are the arguments every resource takes.
var metaArgs = []string{"count", "for_each", "depends_on", "provider", "lifecycle"}

// checkSchema checks every resource of a Terraform file against the schema: the resource type is
// known, every argument and nested block is one the provider documents (at its place), required
// arguments are set, and every reference names a declared resource, variable or local, and an
// argument or attribute that resource type has.
func checkSchema(t *testing.T, path string, schema *tfSchema) int {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags)
	}
	body := f.Body.(*hclsyntax.Body)
	declared := map[string]bool{}
	for _, b := range body.Blocks {
		switch b.Type {
		case "resource", "data":
			declared[b.Type+"."+b.Labels[0]+"."+b.Labels[1]] = true
		case "variable":
			declared["var."+b.Labels[0]] = true
		case "locals":
			for name := range b.Body.Attributes {
				declared["local."+name] = true
			}
		}
	}
	checked := 0
	checkRefs := func(where string, e hclsyntax.Expression) {
		for _, tr := range e.Variables() {
			root := tr.RootName()
			var names []string
			for _, step := range tr {
				switch s := step.(type) {
				case hcl.TraverseRoot:
					names = append(names, s.Name)
				case hcl.TraverseAttr:
					names = append(names, s.Name)
				}
			}
			switch {
			case root == "var" || root == "local":
				if len(names) < 2 || !declared[root+"."+names[1]] {
					t.Errorf("%s: %s refers to undeclared %s", path, where, strings.Join(names, "."))
				}
			case root == "each" || root == "count" || root == "path" || root == "terraform" || root == "self":
			case strings.Contains(root, "_"):
				if len(names) < 2 || !declared["resource."+root+"."+names[1]] {
					t.Errorf("%s: %s refers to undeclared resource %s", path, where, strings.Join(names, "."))
					continue
				}
				rs, ok := schema.Resources[root]
				if ok && len(names) > 2 && !slices.Contains(rs.Args, names[2]) && !slices.Contains(rs.Exports, names[2]) && names[2] != "id" {
					t.Errorf("%s: %s refers to %s: %s has no argument or attribute %q (provider docs)", path, where, strings.Join(names, "."), root, names[2])
				}
			}
		}
	}
	var checkBody func(where, typ string, b *hclsyntax.Body, args, required []string)
	checkBody = func(where, typ string, b *hclsyntax.Body, args, required []string) {
		rs := schema.Resources[typ]
		for name, a := range b.Attributes {
			checkRefs(where+"."+name, a.Expr)
			if !slices.Contains(args, name) && !slices.Contains(metaArgs, name) {
				t.Errorf("%s: %s: %s has no argument %q (provider docs; has %v)", path, where, typ, name, args)
			}
			if _, isBlock := rs.Blocks[name]; isBlock && slices.Contains(args, name) {
				t.Errorf("%s: %s: %q is a block, not an argument", path, where, name)
			}
			checked++
		}
		for _, nb := range b.Blocks {
			name, content := nb.Type, nb.Body
			if name == "lifecycle" || name == "timeouts" {
				continue
			}
			if name == "dynamic" {
				name = nb.Labels[0]
				for attr, a := range nb.Body.Attributes {
					checkRefs(where+".dynamic."+attr, a.Expr)
				}
				for _, c := range nb.Body.Blocks {
					if c.Type == "content" {
						content = c.Body
					}
				}
			}
			bs, ok := rs.Blocks[name]
			if !ok || !slices.Contains(args, name) {
				t.Errorf("%s: %s: %s has no block %q here (provider docs)", path, where, typ, name)
				continue
			}
			checked++
			checkBody(where+"."+name, typ, content, bs.Args, bs.Required)
		}
		for _, r := range required {
			_, isAttr := b.Attributes[r]
			isBlock := slices.ContainsFunc(b.Blocks, func(nb *hclsyntax.Block) bool { return nb.Type == r })
			if !isAttr && !isBlock {
				t.Errorf("%s: %s: required argument %q of %s is missing (provider docs)", path, where, r, typ)
			}
		}
	}
	for _, b := range body.Blocks {
		switch b.Type {
		case "resource":
			typ := b.Labels[0]
			rs, ok := schema.Resources[typ]
			if !ok {
				t.Errorf("%s: resource type %s is not in testdata/validate/tfschema.json (regenerate it with tfschema.py)", path, typ)
				continue
			}
			checkBody(typ+"."+b.Labels[1], typ, b.Body, rs.Args, rs.Required)
		case "output", "locals", "variable":
			for name, a := range b.Body.Attributes {
				checkRefs(b.Type+"."+name, a.Expr)
			}
		}
	}
	return checked
}

// The Google and Azure stacks, whose providers the mirror lacks, parse and use only arguments,
// blocks and attributes their providers document, with the required ones set.
func TestStackSchema(t *testing.T) {
	data, err := os.ReadFile("testdata/validate/tfschema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema tfSchema
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	for _, name := range stackCheckNames {
		dir := newStacks(t, name)
		for _, cloud := range []string{"gcp", "azure"} {
			n := checkSchema(t, filepath.Join(dir, "deploy", cloud, "main.tf"), &schema)
			if n < 50 {
				t.Errorf("%s/%s: only %d arguments checked", name, cloud, n)
			}
			t.Logf("%s %s: %d arguments and blocks checked against the provider docs", name, cloud, n)
			// alarms.tf refers to main.tf's resources: check the two as one configuration.
			var both []byte
			for _, f := range []string{"main.tf", "alarms.tf"} {
				b, err := os.ReadFile(filepath.Join(dir, "deploy", cloud, f))
				if err != nil {
					t.Fatal(err)
				}
				both = append(append(both, b...), '\n')
			}
			path := filepath.Join(t.TempDir(), cloud+".tf")
			if err := os.WriteFile(path, both, 0o644); err != nil {
				t.Fatal(err)
			}
			if m := checkSchema(t, path, &schema) - n; m < 20 {
				t.Errorf("%s/%s: only %d arguments of alarms.tf checked", name, cloud, m)
			}
		}
	}
}
