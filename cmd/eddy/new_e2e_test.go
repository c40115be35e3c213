package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"golang.org/x/mod/modfile"
)

// eddyIn runs the built eddy in dir with extra environment variables.
func eddyIn(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, eddyBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// run runs a command in dir and fails the test with its output if it fails.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// The decisions the scaffold's sample events make, as `eddy dev` prints them.
var wantScaffoldDecisions = []string{
	"press-01 anomaly 2026-01-15T09:01:40.000Z",
	"press-02 firing 2026-01-15T09:00:40.000Z",
	"press-02 resolved 2026-01-15T09:01:10.000Z",
	"press-03 matched 2026-01-15T09:01:29.282Z",
}

// eddy new, for each cloud, writes a project that builds and passes its own tests (the function
// on the in-memory broker and the cloud's entry point on its sample trigger), whose infrastructure
// files parse and grant only what the function needs, which eddy dev runs to the expected
// decisions, and which eddy deploy --dry-run turns into artifacts of the right structure. Without
// --dry-run and without the cloud's tool, deploy fails with the commands to run.
func TestNewAndDeploy(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, cloud := range []string{"aws", "gcp", "azure"} {
		t.Run(cloud, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "press-monitor")
			r := eddyIn(t, ".", nil, "new", "press-monitor", "--cloud", cloud, "--dir", dir, "--eddy-path", repo)
			if r.code != 0 {
				t.Fatalf("eddy new: exit %d: %s", r.code, r.stderr)
			}
			checkGoMod(t, filepath.Join(dir, "go.mod"), repo)
			runIn(t, dir, []string{"GOFLAGS=-mod=mod"}, "go", "test", "./...")
			// The cloud's entry point runs the same project with a keyless spec and a $key spec
			// too (issue 14): every record processed, the malformed one dead-lettered once.
			entry := map[string]string{"aws": "./cmd/aws", "gcp": "./gcpfunction", "azure": "./cmd/azure"}[cloud]
			specPath := filepath.Join(dir, "eddy.yaml")
			keyed, err := os.ReadFile(specPath)
			if err != nil {
				t.Fatal(err)
			}
			keyLine := regexp.MustCompile(`(?m)^  key: machine .*\n`)
			if !keyLine.Match(keyed) {
				t.Fatalf("eddy.yaml has no key: machine line:\n%s", keyed)
			}
			for _, variant := range []string{"", "  key: $key\n"} {
				if err := os.WriteFile(specPath, keyLine.ReplaceAllLiteral(keyed, []byte(variant)), 0o644); err != nil {
					t.Fatal(err)
				}
				runIn(t, dir, []string{"GOFLAGS=-mod=mod"}, "go", "test", "-count=1", entry)
			}
			if err := os.WriteFile(specPath, keyed, 0o644); err != nil {
				t.Fatal(err)
			}
			if cloud == "aws" {
				dev := eddyIn(t, dir, nil, "dev", "--input", "testdata/events.ndjson")
				got, _ := decisions(t, dev.stdout)
				if dev.code != 0 || !slices.Equal(got, wantScaffoldDecisions) {
					t.Fatalf("eddy dev: exit %d, decisions %q, want %q\n%s", dev.code, got, wantScaffoldDecisions, dev.stderr)
				}
			}
			switch cloud {
			case "aws":
				checkSAM(t, filepath.Join(dir, "deploy/aws/template.yaml"))
				checkTerraform(t, filepath.Join(dir, "deploy/aws/main.tf"), "aws_lambda_function", "aws_lambda_event_source_mapping", "aws_iam_role_policy")
			case "gcp":
				checkTerraform(t, filepath.Join(dir, "deploy/gcp/main.tf"), "google_cloudfunctions2_function", "google_pubsub_topic_iam_member", "google_storage_bucket_iam_member")
			case "azure":
				checkTerraform(t, filepath.Join(dir, "deploy/azure/main.tf"), "azurerm_linux_function_app", "azurerm_role_assignment", "azurerm_eventhub")
			}
			r = eddyIn(t, dir, nil, "deploy", "--cloud", cloud, "--dry-run")
			if r.code != 0 || !strings.Contains(r.stdout, "Dry run: nothing was deployed") {
				t.Fatalf("deploy --dry-run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			t.Logf("eddy deploy --cloud %s --dry-run:\n%s", cloud, r.stdout)
			build := filepath.Join(dir, ".eddy/build", cloud)
			switch cloud {
			case "aws":
				checkLambdaZip(t, filepath.Join(build, "function.zip"))
			case "gcp":
				checkGCPBundle(t, filepath.Join(build, "source"), filepath.Join(dir, "testdata/gcp-pubsub-cloudevents.http"))
			case "azure":
				checkAzureZip(t, filepath.Join(build, "app.zip"))
			}
			// No cloud tool on PATH (only go): exit 1, and the error lists the exact commands.
			goBin, err := exec.LookPath("go")
			if err != nil {
				t.Fatal(err)
			}
			r = eddyIn(t, dir, []string{"PATH=" + filepath.Dir(goBin)}, "deploy", "--cloud", cloud)
			c, _ := cloudNamed(cloud)
			tool := c.tools()[0]
			if r.code != 1 || !strings.Contains(r.stderr, tool+" not installed") {
				t.Fatalf("deploy without %s: exit %d: %s", tool, r.code, r.stderr)
			}
			var planned []string
			for _, l := range lines(r.stdout) {
				if strings.HasPrefix(l, "  "+tool+" ") {
					planned = append(planned, strings.TrimSpace(l))
					if !strings.Contains(r.stderr, l) {
						t.Errorf("the error does not list the planned command %q:\n%s", l, r.stderr)
					}
				}
			}
			if len(planned) == 0 {
				t.Fatalf("no %s command in the plan:\n%s", tool, r.stdout)
			}
			// With the tool installed (here one that records how it is called), deploy runs the
			// planned commands from the project directory, in order, and exits 0.
			fake := t.TempDir()
			record := filepath.Join(fake, "calls")
			script := "#!/bin/sh\necho \"$(pwd) $0 $*\" >> " + record + "\n"
			if err := os.WriteFile(filepath.Join(fake, tool), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			r = eddyIn(t, dir, []string{"PATH=" + fake + string(os.PathListSeparator) + filepath.Dir(goBin), "GOOGLE_CLOUD_PROJECT=my-project"}, "deploy", "--cloud", cloud)
			calls, _ := os.ReadFile(record)
			got := lines(string(calls))
			if r.code != 0 || len(got) != len(planned) {
				t.Fatalf("deploy with %s: exit %d, calls %q, planned %q\n%s", tool, r.code, got, planned, r.stderr)
			}
			for i, c := range got {
				want := dir + " " + filepath.Join(fake, tool) + strings.TrimPrefix(planned[i], tool)
				if cloud == "gcp" {
					want = strings.ReplaceAll(want, "PROJECT_ID", "my-project")
				}
				if c != want {
					t.Errorf("call %d:\n got %s\nwant %s", i, c, want)
				}
			}
		})
	}
}

func checkGoMod(t *testing.T, path, repo string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Toolchain != nil || bytes.Contains(data, []byte("toolchain")) {
		t.Errorf("go.mod has a toolchain line:\n%s", data)
	}
	if f.Go == nil || !strings.HasPrefix(f.Go.Version, "1.26") {
		t.Errorf("go.mod go line %v, want 1.26", f.Go)
	}
	ok := false
	for _, r := range f.Replace {
		ok = ok || r.Old.Path == eddyModule && r.New.Path == repo
	}
	if !ok {
		t.Errorf("go.mod does not replace %s with %s:\n%s", eddyModule, repo, data)
	}
}

// checkSAM parses the SAM template and checks the function's shape and that every statement of
// its role names one of the template's own resources.
func checkSAM(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Transform string `yaml:"Transform"`
		Resources map[string]struct {
			Type       string         `yaml:"Type"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tpl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	fn := tpl.Resources["Function"]
	if tpl.Transform != "AWS::Serverless-2016-10-31" || fn.Type != "AWS::Serverless::Function" ||
		fn.Properties["Runtime"] != "provided.al2023" || fn.Properties["Handler"] != "bootstrap" ||
		fmt.Sprint(fn.Properties["Architectures"]) != "[arm64]" {
		t.Fatalf("function resource: %+v", fn)
	}
	stream := fn.Properties["Events"].(map[string]any)["Stream"].(map[string]any)
	if fmt.Sprint(stream["Properties"].(map[string]any)["FunctionResponseTypes"]) != "[ReportBatchItemFailures]" {
		t.Errorf("the Kinesis event does not report batch item failures: %v", stream)
	}
	role := tpl.Resources["Role"]
	stmts := role.Properties["Policies"].([]any)[0].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)
	if len(stmts) < 4 {
		t.Fatalf("%d statements", len(stmts))
	}
	for _, s := range stmts {
		s := s.(map[string]any)
		res := fmt.Sprint(s["Resource"])
		name, _, _ := strings.Cut(strings.TrimPrefix(res, "${"), ".")
		if _, ok := tpl.Resources[name]; !ok || strings.Contains(res, "*") {
			t.Errorf("statement %v: resource %q is not one of the template's resources", s["Sid"], res)
		}
		for _, a := range s["Action"].([]any) {
			if strings.Contains(a.(string), "*") {
				t.Errorf("statement %v: wildcard action %q", s["Sid"], a)
			}
		}
	}
}

// checkTerraform parses a Terraform file and checks that it declares the wanted resource types and
// that no IAM statement or role assignment uses a wildcard.
func checkTerraform(t *testing.T, path string, wantTypes ...string) {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags)
	}
	body := f.Body.(*hclsyntax.Body)
	types := map[string]int{}
	src := f.Bytes
	text := func(e hclsyntax.Expression) string {
		r := e.Range()
		return string(src[r.Start.Byte:r.End.Byte])
	}
	for _, b := range body.Blocks {
		if b.Type == "resource" || b.Type == "data" {
			types[b.Labels[0]]++
		}
		for _, st := range b.Body.Blocks {
			if st.Type != "statement" || len(st.Body.Blocks) > 0 && st.Body.Blocks[0].Type == "principals" {
				continue // trust policies name principals, not resources
			}
			res, ok := st.Body.Attributes["resources"]
			if !ok || strings.Contains(text(res.Expr), `"*"`) {
				t.Errorf("%s: %s %v: a statement without concrete resources", path, b.Type, b.Labels)
			}
			if act := st.Body.Attributes["actions"]; act == nil || strings.Contains(text(act.Expr), `*"`) {
				t.Errorf("%s: %s %v: a statement with wildcard or no actions", path, b.Type, b.Labels)
			}
		}
		if len(b.Labels) > 0 && strings.HasSuffix(b.Labels[0], "_iam_member") || len(b.Labels) > 0 && b.Labels[0] == "azurerm_role_assignment" {
			for _, name := range []string{"role", "role_definition_name"} {
				if a, ok := b.Body.Attributes[name]; ok && (strings.Contains(text(a.Expr), "Owner") && !strings.Contains(text(a.Expr), "Storage Blob Data Owner") || strings.Contains(text(a.Expr), "admin") ||
					strings.Contains(text(a.Expr), "editor") || strings.Contains(text(a.Expr), "Contributor\"") && !strings.Contains(text(a.Expr), "Data Contributor")) {
					t.Errorf("%s: %v grants a broad role %s", path, b.Labels, text(a.Expr))
				}
			}
		}
	}
	for _, w := range wantTypes {
		if types[w] == 0 {
			t.Errorf("%s declares no %s (has %v)", path, w, types)
		}
	}
}

func readZip(t *testing.T, path string) (*zip.Reader, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return zr, data
}

func zipEntry(t *testing.T, zr *zip.Reader, name string) (*zip.File, []byte) {
	t.Helper()
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return f, b
		}
	}
	t.Fatalf("no %s in the zip", name)
	return nil, nil
}

// checkLambdaZip: the zip holds exactly an executable linux/arm64 bootstrap, built with
// -tags lambda.norpc and CGO off, linking no GCP or Azure SDK.
func checkLambdaZip(t *testing.T, path string) {
	t.Helper()
	zr, zdata := readZip(t, path)
	if len(zr.File) != 1 {
		t.Fatalf("zip entries %d, want only bootstrap", len(zr.File))
	}
	f, bin := zipEntry(t, zr, "bootstrap")
	if f.Mode()&0o111 == 0 {
		t.Errorf("bootstrap mode %v is not executable", f.Mode())
	}
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("bootstrap is not an ELF executable: %v", err)
	}
	if ef.Machine != elf.EM_AARCH64 || ef.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %v %v, want an arm64 executable", ef.Machine, ef.Type)
	}
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["-tags"] != "lambda.norpc" || settings["CGO_ENABLED"] != "0" || settings["GOOS"] != "linux" || settings["GOARCH"] != "arm64" {
		t.Errorf("bootstrap build settings %v", settings)
	}
	for _, d := range bi.Deps {
		if strings.HasPrefix(d.Path, "cloud.google.com/") || strings.HasPrefix(d.Path, "github.com/Azure/") {
			t.Errorf("the Lambda binary links %s", d.Path)
		}
	}
	t.Logf("function.zip %d bytes, bootstrap %d bytes", len(zdata), len(bin))
}

// checkAzureZip: host.json and the functions' function.json parse; host.json runs the handler,
// which is an executable linux/amd64 binary in the zip.
func checkAzureZip(t *testing.T, path string) {
	t.Helper()
	zr, zdata := readZip(t, path)
	_, hostData := zipEntry(t, zr, "host.json")
	var host struct {
		Version       string
		CustomHandler struct {
			Description struct{ DefaultExecutablePath string }
		}
		Extensions struct {
			EventHubs struct{ MaxEventBatchSize int }
		}
	}
	if err := json.Unmarshal(hostData, &host); err != nil {
		t.Fatalf("host.json: %v", err)
	}
	exe := host.CustomHandler.Description.DefaultExecutablePath
	if host.Version != "2.0" || exe == "" || host.Extensions.EventHubs.MaxEventBatchSize <= 0 {
		t.Fatalf("host.json: %+v", host)
	}
	_, fnData := zipEntry(t, zr, azureFunction+"/function.json")
	var fn struct {
		Bindings []struct{ Type, Direction, Name, EventHubName, Cardinality, DataType, Connection string }
		Retry    struct{ Strategy string }
	}
	if err := json.Unmarshal(fnData, &fn); err != nil {
		t.Fatalf("function.json: %v", err)
	}
	b := fn.Bindings[0]
	if b.Type != "eventHubTrigger" || b.Cardinality != "many" || b.DataType != "string" || b.EventHubName != "press-monitor-events" || fn.Retry.Strategy == "" {
		t.Fatalf("function.json: %+v", fn)
	}
	_, tickData := zipEntry(t, zr, "Tick/function.json")
	if !json.Valid(tickData) || !bytes.Contains(tickData, []byte("timerTrigger")) {
		t.Fatalf("Tick/function.json: %s", tickData)
	}
	f, bin := zipEntry(t, zr, exe)
	if f.Mode()&0o111 == 0 {
		t.Errorf("%s mode %v is not executable", exe, f.Mode())
	}
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil || ef.Machine != elf.EM_X86_64 {
		t.Fatalf("%s is not a linux/amd64 executable: %v", exe, err)
	}
	t.Logf("app.zip %d bytes, handler %d bytes", len(zdata), len(bin))
}

// checkGCPBundle: the bundle builds from its vendor directory; a program that imports it and
// starts functions-framework-go serves the registered function, which takes the scaffold's
// sample deliveries; an unknown FUNCTION_TARGET is refused.
func checkGCPBundle(t *testing.T, src, samples string) {
	t.Helper()
	noFlags := []string{"GOFLAGS="}
	runIn(t, src, noFlags, "go", "build", "-trimpath", "-mod=vendor", "./...")
	data, err := os.ReadFile(filepath.Join(src, "function.go"))
	if err != nil || !bytes.Contains(data, []byte("package cloudfunction")) || !bytes.Contains(data, []byte(`"press-monitor/gcpfunction"`)) {
		t.Fatalf("function.go: %v\n%s", err, data)
	}
	check := filepath.Join(src, "zzcheck")
	if err := os.MkdirAll(check, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(check)
	prog := `package main

import (
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "press-monitor/cloudfunction"
)

func main() {
	if err := funcframework.StartHostPort("127.0.0.1", os.Getenv("PORT")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`
	if err := os.WriteFile(filepath.Join(check, "main.go"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "check")
	runIn(t, src, noFlags, "go", "build", "-trimpath", "-mod=vendor", "-o", bin, "./zzcheck")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	env := []string{"PORT=" + port, "EDDY_STATE_URL=mem://", "EDDY_OUTPUT_URL=mem://outputs", "EDDY_DEADLETTER_URL=mem://deadletter"}
	bad := exec.Command(bin)
	bad.Env = append(os.Environ(), append(env, "FUNCTION_TARGET=NoSuchFunction")...)
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "NoSuchFunction") {
		t.Fatalf("an unknown FUNCTION_TARGET was accepted: %v %s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append(env, "FUNCTION_TARGET="+gcpEntry)...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://127.0.0.1:" + port + "/"
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the function did not listen: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	raw, err := os.ReadFile(samples)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimSpace(string(raw)), "\n\n")
	n := 0
	for i := 0; i+1 < len(parts); i += 2 {
		req, err := http.NewRequest("POST", base, strings.NewReader(parts[i+1]))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(parts[i]))
		sc.Scan() // request line
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ": ")
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("delivery %s: status %d\n%s", req.Header.Get("ce-id"), resp.StatusCode, logs.String())
		}
		n++
	}
	if n < 5 {
		t.Fatalf("%d sample deliveries", n)
	}
}
