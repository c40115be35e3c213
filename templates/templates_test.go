package templates_test

import (
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/templates"
)

func data(clouds ...string) templates.Data {
	return templates.Data{Name: "press-monitor", Module: "example.com/press-monitor", Package: "pressmonitor", Clouds: clouds,
		GoVersion: "1.26.0", EddyVersion: "v0.0.0-00010101000000-000000000000", EddyPath: "/src/eddy", Entry: "OnMessage"}
}

// Every combination of clouds renders; every Go file parses; no template action is left over;
// each cloud brings its own entry point and infrastructure and nothing of the others.
func TestProject(t *testing.T) {
	entry := map[string]string{"aws": "cmd/aws/main.go", "gcp": "gcpfunction/function.go", "azure": "cmd/azure/main.go"}
	infra := map[string]string{"aws": "deploy/aws/template.yaml", "gcp": "deploy/gcp/main.tf", "azure": "deploy/azure/main.tf"}
	for _, clouds := range [][]string{{"aws"}, {"gcp"}, {"azure"}, {"aws", "gcp"}, templates.Clouds} {
		files, err := templates.Project(data(clouds...))
		if err != nil {
			t.Fatalf("%v: %v", clouds, err)
		}
		paths := map[string]templates.File{}
		for _, f := range files {
			paths[f.Path] = f
			if strings.Contains(string(f.Data), "{{") || strings.HasSuffix(f.Path, ".tmpl") {
				t.Errorf("%v: %s: template left over", clouds, f.Path)
			}
			if strings.HasSuffix(f.Path, ".go") {
				if _, err := parser.ParseFile(token.NewFileSet(), f.Path, f.Data, parser.AllErrors); err != nil {
					t.Errorf("%v: %v", clouds, err)
				}
				if fmted, err := format.Source(f.Data); err != nil || string(fmted) != string(f.Data) {
					t.Errorf("%v: %s is not gofmt-clean (%v)", clouds, f.Path, err)
				}
			}
		}
		for _, must := range []string{"go.mod", "eddy.yaml", "function.go", "function_test.go", "README.md", "testdata/events.ndjson", ".gitignore"} {
			if _, ok := paths[must]; !ok {
				t.Errorf("%v: no %s", clouds, must)
			}
		}
		for _, c := range templates.Clouds {
			_, hasEntry := paths[entry[c]]
			_, hasInfra := paths[infra[c]]
			if want := slices.Contains(clouds, c); hasEntry != want || hasInfra != want {
				t.Errorf("%v: %s entry point %v, infrastructure %v", clouds, c, hasEntry, hasInfra)
			}
		}
		gomod := string(paths["go.mod"].Data)
		if !strings.Contains(gomod, "replace github.com/eddyhq/eddy => /src/eddy") || strings.Contains(gomod, "toolchain") ||
			!strings.Contains(gomod, "\ngo 1.26.0\n") {
			t.Errorf("go.mod:\n%s", gomod)
		}
		if f := paths["deploy/gcp/gcloud.sh"]; slices.Contains(clouds, "gcp") && f.Mode&0o100 == 0 {
			t.Errorf("gcloud.sh is not executable: %v", f.Mode)
		}
	}
}

// Without a local checkout, go.mod requires the version and replaces nothing.
func TestProjectVersion(t *testing.T) {
	d := data("aws")
	d.EddyPath, d.EddyVersion = "", "v0.3.0"
	files, err := templates.Project(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "go.mod" && (strings.Contains(string(f.Data), "replace") || !strings.Contains(string(f.Data), "github.com/eddyhq/eddy v0.3.0")) {
			t.Fatalf("go.mod:\n%s", f.Data)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, name := range []string{"", "a", "Press", "press_monitor", "-press", "press-", "press--monitor", "9lives", strings.Repeat("a", 64)} {
		if templates.CheckName(name) == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	for _, name := range []string{"ab", "press-monitor", "w1", strings.Repeat("a", 63)} {
		if err := templates.CheckName(name); err != nil {
			t.Errorf("name %q: %v", name, err)
		}
	}
	d := data("ibm")
	if _, err := templates.Project(d); err == nil || !strings.Contains(err.Error(), "ibm") {
		t.Errorf("unknown cloud: %v", err)
	}
	if _, err := templates.Infra("ibm", data("aws")); err == nil {
		t.Error("Infra of an unknown cloud")
	}
}

// Infra renders only a cloud's deploy/ files.
func TestInfra(t *testing.T) {
	files, err := templates.Infra("aws", data("aws"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if !slices.Equal(paths, []string{"deploy/aws/alarms.tf", "deploy/aws/main.tf", "deploy/aws/template.yaml"}) {
		t.Fatalf("%q", paths)
	}
}

func ExamplePackageName() {
	fmt.Println(templates.PackageName("press-monitor"), templates.PackageName("9lives"))
	// Output: pressmonitor fn9lives
}

func ExampleProject() {
	files, err := templates.Project(templates.Data{Name: "press-monitor", Module: "example.com/press-monitor", Package: "pressmonitor",
		Clouds: []string{"aws"}, GoVersion: "1.26.0", EddyVersion: "v0.3.0", Entry: "OnMessage"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "testdata/") {
			fmt.Println(f.Path)
		}
	}
	// Output:
	// .gitignore
	// README.md
	// cmd/aws/main.go
	// cmd/aws/main_test.go
	// deploy/aws/alarms.tf
	// deploy/aws/main.tf
	// deploy/aws/template.yaml
	// eddy.yaml
	// function.go
	// function_test.go
	// go.mod
}

// A project made around a function of the user's (From) renders Go that parses and tests nothing
// of the machine-health example; its function test checks the recorded outputs and dead letters.
func TestProjectFrom(t *testing.T) {
	d := data(templates.Clouds...)
	d.From, d.Golden, d.DeadLetters, d.Description = "examples/fraud", true, []string{"events.ndjson:7", "events.ndjson:9"}, "card fraud"
	files, err := templates.Project(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f.Path, ".go") {
			if _, err := parser.ParseFile(token.NewFileSet(), f.Path, f.Data, parser.AllErrors); err != nil {
				t.Errorf("%v", err)
			}
			if strings.HasSuffix(f.Path, "_test.go") && (strings.Contains(string(f.Data), "press-0") || strings.Contains(string(f.Data), "temp-spike")) {
				t.Errorf("%s tests the example function", f.Path)
			}
		}
		if f.Path == "function_test.go" {
			for _, want := range []string{`var wantDeadLetters = []string{"events.ndjson:7", "events.ndjson:9"}`, "testdata/expected.ndjson", "func TestSampleOutputs"} {
				if !strings.Contains(string(f.Data), want) {
					t.Errorf("function_test.go lacks %q", want)
				}
			}
		}
		if f.Path == "README.md" && !strings.Contains(string(f.Data), "made from `examples/fraud`: card fraud.") {
			t.Errorf("README.md:\n%.300s", f.Data)
		}
	}
}

// The GCP scaffold deploys the tick as Azure and AWS do theirs: gcpfunction registers both entry
// points on one shared Function, cmd/gcp serves both, the Terraform and gcloud files create the
// tick function and a Cloud Scheduler job calling it every minute with an OIDC token of an account
// that may invoke only it, the bundle registers both, and the README says so.
func TestGCPTick(t *testing.T) {
	d := data("gcp")
	files, err := templates.Project(d)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := templates.Render("bundle/gcp", d)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range append(files, bundle...) {
		got[f.Path] = string(f.Data)
	}
	if templates.GCPTickEntry != "Tick" || d.TickEntry() != templates.GCPTickEntry {
		t.Fatalf("tick entry %q / %q", templates.GCPTickEntry, d.TickEntry())
	}
	for path, wants := range map[string][]string{
		"gcpfunction/function.go": {
			"const TickEntryPoint = gcp.TickEntryPoint", "gcp.RegisterFunction(func() (env.Function, error) { return pressmonitor.Load() })",
		},
		"gcpfunction/function_test.go": {"func TestTick(", "gcp.TickHandler(", "http.StatusMethodNotAllowed"},
		"cmd/gcp/main.go":              {"/OnMessage", "curl -X POST localhost:8080/Tick", "gcp.Serve()"},
		"function.go":                  {"registers OnMessage and Tick", `_ "example.com/press-monitor/gcpfunction"`},
		"deploy/gcp/main.tf": {
			`resource "google_cloudfunctions2_function" "tick"`, `entry_point     = "Tick"`, `name     = "${var.name}-tick"`,
			`resource "google_service_account" "scheduler"`, `resource "google_cloud_scheduler_job" "tick"`,
			`schedule         = "* * * * *"`, `http_method = "POST"`,
			"service_account_email = google_service_account.scheduler.email",
			"audience              = google_cloudfunctions2_function.tick[0].service_config[0].uri",
			`"cloudscheduler.googleapis.com"`,
		},
		"deploy/gcp/gcloud.sh": {
			`gcloud functions deploy "$NAME-tick"`, "--entry-point Tick --trigger-http --no-allow-unauthenticated",
			`gcloud scheduler jobs "$verb" http "$NAME-tick"`, `--schedule "* * * * *"`, "--http-method POST",
			`--oidc-service-account-email "$TICK_SA" --oidc-token-audience "$TICK_URL"`, "cloudscheduler.googleapis.com",
		},
		"README.md": {"`Tick`, the tick that closes quiet windows", "Cloud Scheduler job `press-monitor-tick` every minute", "`window.idle_timeout`"},
	} {
		for _, w := range wants {
			if !strings.Contains(got[path], w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
	// Least privilege: the scheduler's account gets exactly one grant, run.invoker on the tick
	// function's service, and nothing in the module grants it anything else.
	tf := got["deploy/gcp/main.tf"]
	if n := strings.Count(tf, "serviceAccount:${google_service_account.scheduler.email}"); n != 1 {
		t.Errorf("main.tf grants the scheduler's account %d times, want once", n)
	}
	i := strings.Index(tf, `resource "google_cloud_run_v2_service_iam_member" "scheduler"`)
	if i < 0 {
		t.Fatal("main.tf: no invoker grant for the scheduler")
	}
	grant := tf[i : i+strings.Index(tf[i:], "\n}")]
	for _, w := range []string{"google_cloudfunctions2_function.tick[0].service_config[0].service", `"roles/run.invoker"`} {
		if !strings.Contains(grant, w) {
			t.Errorf("the scheduler's grant lacks %s:\n%s", w, grant)
		}
	}
	sh := got["deploy/gcp/gcloud.sh"]
	if n := strings.Count(sh, `"serviceAccount:$TICK_SA"`); n != 1 || !strings.Contains(sh, `add-iam-policy-binding "$NAME-tick"`) {
		t.Errorf("gcloud.sh grants the scheduler's account %d times (want once, invoker on $NAME-tick)", n)
	}
	// Neither file lets anyone else call the tick.
	for _, f := range []string{tf, sh} {
		if strings.Contains(f, "allUsers") || strings.Contains(f, "--allow-unauthenticated") {
			t.Error("the tick function is public")
		}
	}
}
