package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The stacks of eddy new --dashboard pass the vendors' validators as the plain ones do: the SAM
// template (with the dashboard's Lambda and its function URL) through the SAM transform, packaging
// and cfn-lint; the AWS Terraform through terraform validate on the local provider mirror; every
// Terraform file fmt-clean; the Google and Azure Terraform against the providers' documented
// schemas.
func TestStackDashboardValidates(t *testing.T) {
	data, err := os.ReadFile("testdata/validate/tfschema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema tfSchema
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("testdata/validate/sampackage.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range stackCheckNames {
		t.Run(name, func(t *testing.T) {
			dir := newStacks(t, name, "--dashboard")
			// SAM: both packages where eddy deploy builds them.
			for _, art := range []string{awsArtifact(dir), awsDashboardArtifact(dir)} {
				if err := os.MkdirAll(filepath.Dir(art), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(art, []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tpl := filepath.Join(dir, "deploy", "aws", "template.yaml")
			packaged := filepath.Join(t.TempDir(), "packaged.json")
			transformed := filepath.Join(t.TempDir(), "transformed.json")
			out := tool(t, dir, nil, "python3", script, tpl, packaged, transformed)
			if !strings.Contains(out, `"lambda_functions": ["Function", "Dashboard"]`) {
				t.Errorf("the transform did not make the function and the dashboard: %s", out)
			}
			// What SAM makes of FunctionUrlConfig: one URL, AWS_IAM, and no permission opening it.
			var cfn struct {
				Resources map[string]struct {
					Type       string
					Properties map[string]any
				}
			}
			tb, err := os.ReadFile(transformed)
			if err != nil || json.Unmarshal(tb, &cfn) != nil {
				t.Fatalf("transformed template: %v", err)
			}
			urls := 0
			for n, r := range cfn.Resources {
				switch r.Type {
				case "AWS::Lambda::Url":
					urls++
					if r.Properties["AuthType"] != "AWS_IAM" {
						t.Errorf("%s: AuthType %v, want AWS_IAM", n, r.Properties["AuthType"])
					}
				case "AWS::Lambda::Permission":
					if r.Properties["Principal"] == "*" || r.Properties["FunctionUrlAuthType"] != nil {
						t.Errorf("%s opens a function: %v", n, r.Properties)
					}
				}
			}
			if urls != 1 {
				t.Errorf("%d function URLs in the transformed template, want 1", urls)
			}
			pk, err := os.ReadFile(packaged)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(pk), `"CodeUri": "s3://eddy-packaged-artifacts/`); n != 2 {
				t.Errorf("packaging replaced %d CodeUris with s3:// URIs, want 2", n)
			}
			tool(t, dir, nil, "cfn-lint", tpl)
			tool(t, dir, nil, "cfn-lint", packaged)

			for _, cloud := range []string{"aws", "gcp", "azure"} {
				tool(t, dir, nil, "terraform", "fmt", "-check", "-diff", filepath.Join("deploy", cloud))
			}
			env := tfEnv(t)
			aws := filepath.Join(dir, "deploy", "aws")
			tool(t, aws, env, "terraform", "init", "-input=false", "-backend=false")
			if out := tool(t, aws, env, "terraform", "validate", "-no-color"); !strings.Contains(out, "The configuration is valid") {
				t.Errorf("terraform validate: %s", out)
			}

			// Google and Azure: main.tf, alarms.tf and dashboard.tf as one configuration.
			for _, cloud := range []string{"gcp", "azure"} {
				var all []byte
				for _, f := range []string{"main.tf", "alarms.tf", "dashboard.tf"} {
					b, err := os.ReadFile(filepath.Join(dir, "deploy", cloud, f))
					if err != nil {
						t.Fatal(err)
					}
					all = append(append(all, b...), '\n')
				}
				path := filepath.Join(t.TempDir(), cloud+".tf")
				if err := os.WriteFile(path, all, 0o644); err != nil {
					t.Fatal(err)
				}
				if n := checkSchema(t, path, &schema); n < 70 {
					t.Errorf("%s: only %d arguments checked", cloud, n)
				}
			}
		})
	}
}

// No dashboard endpoint is open: the AWS function URL (SAM and Terraform) takes AWS_IAM, with no
// resource policy or permission letting anyone invoke it; the Cloud Run dashboard has no allUsers
// or allAuthenticatedUsers invoker (Terraform and gcloud) and is deployed without
// --allow-unauthenticated; the Azure dashboard's HTTP trigger takes a function key. The
// dashboards may only read the views, the functions read and write them.
func TestStackDashboardClosed(t *testing.T) {
	dir := newStacks(t, "press-monitor", "--dashboard")
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// AWS, SAM.
	tpl := read("deploy/aws/template.yaml")
	dash := samResource(t, tpl, "Dashboard")
	if !strings.Contains(dash, "FunctionUrlConfig:\n        AuthType: AWS_IAM") {
		t.Errorf("the SAM dashboard's function URL is not AWS_IAM:\n%s", dash)
	}
	for _, open := range []string{"AuthType: NONE", "AWS::Lambda::Permission", "AWS::Lambda::Url", "Principal: \"*\"", "Principal: '*'"} {
		if strings.Contains(tpl, open) {
			t.Errorf("template.yaml has %q", open)
		}
	}
	role := samResource(t, tpl, "DashboardRole")
	if !strings.Contains(role, "Resource: !GetAtt Views.Arn") || strings.Contains(role, "PutItem") || strings.Contains(role, "UpdateItem") ||
		strings.Contains(role, "DeleteItem") || strings.Contains(role, "BatchWriteItem") {
		t.Errorf("the dashboard's role is not read-only on the views table:\n%s", role)
	}
	if fn := samResource(t, tpl, "Function"); !strings.Contains(fn, `EDDY_VIEW_STORE: !Sub "dynamodb://${Views}?partition_key=id"`) {
		t.Errorf("the function does not write to the views table:\n%s", fn)
	}

	// AWS, Terraform.
	res := tfResources(t, filepath.Join(dir, "deploy", "aws", "dashboard.tf"))
	urls := res["aws_lambda_function_url"]
	if len(urls) != 1 || urls[0]["authorization_type"] != `"AWS_IAM"` {
		t.Errorf("Terraform function URLs %v, want one with AWS_IAM", urls)
	}
	main := read("deploy/aws/main.tf") + read("deploy/aws/dashboard.tf")
	for _, open := range []string{`"NONE"`, "aws_lambda_permission\" \"dash", `principal     = "*"`} {
		if strings.Contains(main, open) {
			t.Errorf("deploy/aws has %q", open)
		}
	}
	dashPolicy := tfBlock(t, read("deploy/aws/dashboard.tf"), `data "aws_iam_policy_document" "dashboard"`)
	if strings.Contains(dashPolicy, "PutItem") || strings.Contains(dashPolicy, "DeleteItem") || !strings.Contains(dashPolicy, "aws_dynamodb_table.views.arn") {
		t.Errorf("the dashboard's policy is not read-only on the views table:\n%s", dashPolicy)
	}

	// GCP: no public invoker anywhere, the dashboard reads only.
	// Comments may name what is left out; the code may not.
	var gcp []string
	for _, l := range strings.Split(read("deploy/gcp/main.tf")+read("deploy/gcp/dashboard.tf")+read("deploy/gcp/gcloud.sh"), "\n") {
		if t := strings.TrimSpace(l); !strings.HasPrefix(t, "#") {
			gcp = append(gcp, l)
		}
	}
	if m := regexp.MustCompile(`allUsers|allAuthenticatedUsers|(^|\s)--allow-unauthenticated`).FindString(strings.Join(gcp, "\n")); m != "" {
		t.Errorf("deploy/gcp has %q", m)
	}
	gres := tfResources(t, filepath.Join(dir, "deploy", "gcp", "dashboard.tf"))
	if fns := gres["google_cloudfunctions2_function"]; len(fns) != 1 || fns[0]["build_config.entry_point"] != `"Dashboard"` ||
		fns[0]["service_config.service_account_email"] != "google_service_account.dashboard.email" {
		t.Errorf("the GCP dashboard function: %v", fns)
	}
	for _, m := range gres["google_project_iam_member"] {
		if strings.Contains(m["member"], "dashboard") && m["role"] != `"roles/datastore.viewer"` {
			t.Errorf("the dashboard's account gets %s, want roles/datastore.viewer", m["role"])
		}
		if m["condition"] != "block" {
			t.Errorf("a Datastore grant without a condition on the views database: %v", m)
		}
	}
	if sh := read("deploy/gcp/gcloud.sh"); !strings.Contains(sh, `gcloud functions deploy "$NAME-dash"`) || !strings.Contains(sh, "--entry-point Dashboard --trigger-http --no-allow-unauthenticated") {
		t.Errorf("gcloud.sh does not deploy the dashboard closed")
	}
	if src := read("gcpfunction/function.go"); !strings.Contains(src, "gcp.RegisterDashboard(gcp.DashboardEntryPoint)") {
		t.Errorf("gcpfunction does not register the dashboard")
	}

	// Azure: the dashboard's trigger takes a function key; its requests are forwarded.
	var fj struct {
		Bindings []map[string]any `json:"bindings"`
	}
	if err := json.Unmarshal([]byte(read("deploy/azure/Dashboard/function.json")), &fj); err != nil {
		t.Fatal(err)
	}
	triggers := 0
	for _, b := range fj.Bindings {
		if b["type"] == "httpTrigger" {
			triggers++
			if b["authLevel"] != "function" {
				t.Errorf("the dashboard's HTTP trigger has authLevel %v, want function", b["authLevel"])
			}
		}
	}
	if triggers != 1 {
		t.Errorf("%d HTTP triggers in Dashboard/function.json, want 1", triggers)
	}
	var host struct {
		CustomHandler struct {
			EnableForwardingHttpRequest bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
	}
	if err := json.Unmarshal([]byte(read("deploy/azure/host.json")), &host); err != nil || !host.CustomHandler.EnableForwardingHttpRequest {
		t.Errorf("host.json does not forward HTTP requests (%v)", err)
	}
	if strings.Contains(read("deploy/azure/main.tf")+read("deploy/azure/dashboard.tf"), `"anonymous"`) {
		t.Errorf("an anonymous auth level in deploy/azure")
	}
	// Every function.json of the app: no anonymous HTTP trigger.
	fjs, _ := filepath.Glob(filepath.Join(dir, "deploy", "azure", "*", "function.json"))
	for _, f := range fjs {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "anonymous") {
			t.Errorf("%s is anonymous", f)
		}
	}

	// Without --dashboard nothing of it is written.
	plain := newStacks(t, "press-monitor")
	for _, p := range []string{"deploy/aws/dashboard.tf", "deploy/gcp/dashboard.tf", "deploy/azure/dashboard.tf", "deploy/azure/Dashboard/function.json", "cmd/awsdashboard/main.go"} {
		if _, err := os.Stat(filepath.Join(plain, filepath.FromSlash(p))); err == nil {
			t.Errorf("%s written without --dashboard", p)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(plain, "deploy", "aws", "template.yaml")); strings.Contains(string(b), "Dashboard") || strings.Contains(string(b), "EDDY_VIEW_STORE") {
		t.Errorf("template.yaml has the dashboard without --dashboard")
	}
}

// samResource returns the text of one resource of a SAM template: from its "  NAME:" line to the
// next resource.
func samResource(t *testing.T, tpl, name string) string {
	t.Helper()
	i := strings.Index(tpl, "\n  "+name+":\n")
	if i < 0 {
		t.Fatalf("no resource %s in template.yaml", name)
	}
	rest := tpl[i+1:]
	lines := strings.Split(rest, "\n")
	out := []string{lines[0]}
	for _, l := range lines[1:] {
		if l != "" && !strings.HasPrefix(l, "   ") {
			break
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// tfBlock returns the text of the block of a Terraform file that starts with head, to its closing
// brace at the start of a line.
func tfBlock(t *testing.T, src, head string) string {
	t.Helper()
	i := strings.Index(src, head)
	if i < 0 {
		t.Fatalf("no %s", head)
	}
	j := strings.Index(src[i:], "\n}\n")
	if j < 0 {
		t.Fatalf("%s does not end", head)
	}
	return src[i : i+j+2]
}
