package main

import (
	"archive/zip"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/modfile"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/templates"
)

type deployOpts struct {
	cloud, tool, dir string
	region, project  string
	dryRun           bool
	resourceGroup    string
}

// defaultTools is what deploy runs per cloud unless --tool says otherwise.
var defaultTools = map[string]string{"aws": "sam", "gcp": "terraform", "azure": "terraform"}

// validTools are the --tool values per cloud.
var validTools = map[string][]string{"aws": {"sam", "terraform"}, "gcp": {"terraform", "gcloud"}, "azure": {"terraform"}}

func newDeployCmd(e *env) *cobra.Command {
	var o deployOpts
	cmd := &cobra.Command{
		Use:   "deploy --cloud aws|gcp|azure [--dry-run]",
		Short: "Build a project's function for a cloud, write its infrastructure files and deploy it",
		Long: `deploy, run in a project made by eddy new (or --dir), does four things:

 1. builds what the cloud runs, under .eddy/build/CLOUD:
      aws    function.zip: a linux/arm64 bootstrap built with -tags lambda.norpc, CGO off
      gcp    source/ and source.zip: a module whose root package registers the function and its
             tick with functions-framework-go, dependencies vendored (eddy included)
      azure  app/ and app.zip: host.json, OnEvents/function.json and the linux/amd64 handler
 2. writes the infrastructure files of deploy/CLOUD that are missing (existing ones are yours
    and stay as they are)
 3. prints the plan: artifacts with their sizes, files, and the exact commands
 4. runs them: sam deploy (aws; --tool terraform for Terraform), terraform init and apply (gcp,
    azure; --tool gcloud for gcloud functions deploy on gcp)

--dry-run does all but step 4. When the tool is not installed, deploy fails (exit 1) and lists
the commands to run once it is.`,
		Example: `  eddy deploy --cloud aws --dry-run
  eddy deploy --cloud aws --region eu-west-1
  eddy deploy --cloud gcp --project my-project --region europe-west1
  eddy deploy --cloud azure --region westeurope`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return deploy(cmd.Context(), e, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.cloud, "cloud", "c", "", "aws, gcp or azure (required)")
	fl.StringVar(&o.tool, "tool", "", "what deploys: aws: sam (default) or terraform; gcp: terraform (default) or gcloud; azure: terraform")
	fl.StringVarP(&o.dir, "dir", "d", ".", "the project directory")
	fl.StringVar(&o.region, "region", "", "region (default: aws us-east-1, gcp us-central1, azure westeurope)")
	fl.StringVar(&o.project, "project", "", "gcp: project id (default $GOOGLE_CLOUD_PROJECT)")
	fl.StringVar(&o.resourceGroup, "resource-group", "", "azure: resource group to create (default NAME-rg)")
	fl.BoolVar(&o.dryRun, "dry-run", false, "build, write and print the plan, but do not call the cloud")
	return cmd
}

// project is what deploy knows about the project it deploys.
type project struct {
	root   string
	module string
	name   string // the function's name (the spec's)
	data   templates.Data
}

// step is one command of a plan.
type step struct {
	dir  string // working directory (the project root when "")
	args []string
}

func (s step) String() string {
	q := make([]string, len(s.args))
	for i, a := range s.args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// artifact is one built file or directory.
type artifact struct {
	path string
	size int64
	what string
}

func deploy(ctx context.Context, e *env, o deployOpts) error {
	switch o.cloud {
	case "aws", "gcp", "azure":
	case "":
		return usagef("deploy needs --cloud aws, gcp or azure")
	default:
		return usagef("--cloud %q: want aws, gcp or azure", o.cloud)
	}
	if o.tool == "" {
		o.tool = defaultTools[o.cloud]
	}
	if !slices.Contains(validTools[o.cloud], o.tool) {
		return usagef("--tool %q for %s: want %s", o.tool, o.cloud, strings.Join(validTools[o.cloud], " or "))
	}
	if o.region == "" {
		o.region = map[string]string{"aws": "us-east-1", "gcp": "us-central1", "azure": "westeurope"}[o.cloud]
	}
	p, err := loadProject(o.dir)
	if err != nil {
		return err
	}
	if o.cloud == "gcp" && o.project == "" {
		o.project = os.Getenv("GOOGLE_CLOUD_PROJECT")
	}
	if o.resourceGroup == "" {
		o.resourceGroup = p.name + "-rg"
	}
	build := filepath.Join(p.root, ".eddy", "build", o.cloud)
	if err := os.RemoveAll(build); err != nil {
		return err
	}
	if err := os.MkdirAll(build, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "eddy deploy: building %s for %s in %s\n", p.name, o.cloud, rel(p.root, build))
	// The infrastructure files first: the Azure bundle takes host.json and function.json from them.
	infra, err := templates.Infra(o.cloud, p.data)
	if err != nil {
		return err
	}
	if o.cloud == "azure" {
		af, err := azureAppFiles(p.data)
		if err != nil {
			return err
		}
		infra = append(infra, af...)
	}
	written, kept, err := templates.Write(p.root, infra, false)
	if err != nil {
		return fmt.Errorf("write infrastructure files: %w", err)
	}
	var arts []artifact
	switch o.cloud {
	case "aws":
		arts, err = buildAWS(ctx, p, build)
	case "gcp":
		arts, err = buildGCP(ctx, p, build)
	case "azure":
		arts, err = buildAzure(ctx, p, build)
	}
	if err != nil {
		return err
	}
	steps := plan(p, o, build)
	printPlan(e, p, o, arts, written, kept, steps)
	if o.dryRun {
		fmt.Fprintf(e.stdout, "\nDry run: nothing was deployed. Run the commands above, or: eddy deploy --cloud %s%s\n", o.cloud, toolFlag(o))
		return nil
	}
	var missing []string
	for _, s := range steps {
		if _, err := exec.LookPath(s.args[0]); err != nil && !slices.Contains(missing, s.args[0]) {
			missing = append(missing, s.args[0])
		}
	}
	if len(missing) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%s not installed (not on PATH): install %s, log in, then run from %s:\n", strings.Join(missing, " and "), installHint(missing), p.root)
		for _, s := range steps {
			if s.dir != "" {
				fmt.Fprintf(&b, "  (cd %s && %s)\n", shellQuote(rel(p.root, s.dir)), s)
			} else {
				fmt.Fprintf(&b, "  %s\n", s)
			}
		}
		b.WriteString("or run eddy deploy again once it is installed")
		return errors.New(b.String())
	}
	if o.cloud == "gcp" && o.project == "" {
		return usagef("deploy --cloud gcp needs the project: pass --project PROJECT_ID or set GOOGLE_CLOUD_PROJECT")
	}
	for _, s := range steps {
		fmt.Fprintf(e.stderr, "eddy deploy: running %s\n", s)
		cmd := exec.CommandContext(ctx, s.args[0], s.args[1:]...)
		cmd.Dir = p.root
		if s.dir != "" {
			cmd.Dir = s.dir
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s failed: %w (see its output above; fix the cause and run eddy deploy again)", s.args[0], err)
		}
	}
	fmt.Fprintf(e.stderr, "eddy deploy: %s deployed to %s\n", p.name, o.cloud)
	return nil
}

func toolFlag(o deployOpts) string {
	if o.tool == defaultTools[o.cloud] {
		return ""
	}
	return " --tool " + o.tool
}

func installHint(tools []string) string {
	hints := map[string]string{"sam": "the AWS SAM CLI", "terraform": "Terraform (1.5 or later)", "gcloud": "the Google Cloud CLI",
		"aws": "the AWS CLI", "az": "the Azure CLI"}
	var out []string
	for _, t := range tools {
		out = append(out, hints[t])
	}
	return strings.Join(out, " and ")
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

// loadProject reads the project's go.mod and eddy.yaml.
func loadProject(dir string) (*project, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	gm, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("no go.mod in %s: run eddy deploy in a project made by eddy new, or pass --dir", root)
	}
	mf, err := modfile.Parse("go.mod", gm, nil)
	if err != nil {
		return nil, err
	}
	if mf.Module == nil {
		return nil, fmt.Errorf("%s/go.mod has no module line", root)
	}
	_, c, err := loadSpec(filepath.Join(root, defaultSpec))
	if err != nil {
		return nil, err
	}
	name := c.Name()
	if err := templates.CheckName(name); err != nil {
		return nil, fmt.Errorf("eddy.yaml: function %w", err)
	}
	p := &project{root: root, module: mf.Module.Mod.Path, name: name}
	p.data = templates.Data{Name: name, Module: p.module, Package: templates.PackageName(name), Clouds: templates.Clouds,
		GoVersion: goVersion, EddyVersion: develVersion, Entry: gcpEntry}
	for _, r := range mf.Replace {
		if r.Old.Path == eddyModule && r.New.Version == "" {
			path := r.New.Path
			if !filepath.IsAbs(path) {
				path = filepath.Join(root, path)
			}
			p.data.EddyPath = path
		}
	}
	for _, r := range mf.Require {
		if r.Mod.Path == eddyModule {
			p.data.EddyVersion = r.Mod.Version
		}
	}
	return p, nil
}

// needDir fails with what to do when the project lacks a cloud's entry point.
func needDir(p *project, dir, cloud string) error {
	if st, err := os.Stat(filepath.Join(p.root, dir)); err != nil || !st.IsDir() {
		return fmt.Errorf("no %s in %s: the project was made without %s; create one with 'eddy new %s --cloud %s --dir /tmp/x' and copy its %s and deploy/%s here",
			dir, p.root, cloud, p.name, cloud, dir, cloud)
	}
	return nil
}

// goBuild builds pkg of the project for linux/arch into out.
func goBuild(ctx context.Context, p *project, pkg, arch, out string, tags ...string) error {
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = p.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s (GOOS=linux GOARCH=%s): %v\n%s", pkg, arch, err, o)
	}
	return nil
}

// checkLinks fails if a binary links modules of another cloud: each binary carries only its own
// cloud's SDK, for cold starts and attack surface.
func checkLinks(bin string, forbidden ...string) error {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("read build info of %s: %w", bin, err)
	}
	for _, d := range bi.Deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d.Path, f) {
				return fmt.Errorf("%s links %s: its entry point must import only its own cloud's eddy adapter", filepath.Base(bin), d.Path)
			}
		}
	}
	return nil
}

func buildAWS(ctx context.Context, p *project, build string) ([]artifact, error) {
	if err := needDir(p, "cmd/aws", "aws"); err != nil {
		return nil, err
	}
	boot := filepath.Join(build, "bootstrap")
	if err := goBuild(ctx, p, "./cmd/aws", "arm64", boot, "lambda.norpc"); err != nil {
		return nil, err
	}
	if err := checkLinks(boot, "cloud.google.com/", "github.com/GoogleCloudPlatform/", "github.com/Azure/", "github.com/AzureAD/"); err != nil {
		return nil, err
	}
	zipPath := filepath.Join(build, "function.zip")
	if err := zipFiles(zipPath, build, []string{"bootstrap"}); err != nil {
		return nil, err
	}
	return []artifact{stat(boot, "linux/arm64 Lambda bootstrap (-tags lambda.norpc, CGO off)"), stat(zipPath, "the Lambda deployment package")}, nil
}

func buildAzure(ctx context.Context, p *project, build string) ([]artifact, error) {
	if err := needDir(p, "cmd/azure", "azure"); err != nil {
		return nil, err
	}
	app := filepath.Join(build, "app")
	handler := filepath.Join(app, "handler")
	if err := goBuild(ctx, p, "./cmd/azure", "amd64", handler); err != nil {
		return nil, err
	}
	files := []string{"host.json", azureFunction + "/function.json", "Tick/function.json"}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(p.root, "deploy", "azure", filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(app, f)), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(app, filepath.FromSlash(f)), data, 0o644); err != nil {
			return nil, err
		}
	}
	zipPath := filepath.Join(build, "app.zip")
	if err := zipFiles(zipPath, app, append(files, "handler")); err != nil {
		return nil, err
	}
	return []artifact{stat(handler, "linux/amd64 custom handler"), stat(zipPath, "the function app package (host.json, "+azureFunction+"/function.json, handler)")}, nil
}

// azureAppFiles renders deploy/azure/host.json and deploy/azure/OnEvents/function.json with the
// adapter's own generators.
func azureAppFiles(d templates.Data) ([]templates.File, error) {
	host, err := azure.HostJSON("handler", 500)
	if err != nil {
		return nil, err
	}
	fn, err := azure.FunctionJSON(azure.FunctionSpec{EventHub: d.Name + "-events", Connection: "EventHubConnection", ConsumerGroup: "$Default"})
	if err != nil {
		return nil, err
	}
	// A timer function whose invocations tick every partition, so that the windows of quiet
	// partitions close (the handler's TickFunction).
	tick := []byte(`{
  "bindings": [
    {"type": "timerTrigger", "direction": "in", "name": "timer", "schedule": "0 */1 * * * *"}
  ]
}
`)
	return []templates.File{
		{Path: "deploy/azure/host.json", Data: append(host, '\n'), Mode: 0o644},
		{Path: "deploy/azure/" + azureFunction + "/function.json", Data: append(fn, '\n'), Mode: 0o644},
		{Path: "deploy/azure/Tick/function.json", Data: tick, Mode: 0o644},
	}, nil
}

func buildGCP(ctx context.Context, p *project, build string) ([]artifact, error) {
	if err := needDir(p, "gcpfunction", "gcp"); err != nil {
		return nil, err
	}
	src := filepath.Join(build, "source")
	if err := copyProject(p.root, filepath.Join(src, "app")); err != nil {
		return nil, err
	}
	files, err := templates.Render("bundle/gcp", p.data)
	if err != nil {
		return nil, err
	}
	if _, _, err := templates.Write(src, files, true); err != nil {
		return nil, err
	}
	// The project's own replace directive (eddy's checkout) holds in the bundle too, as an
	// absolute path; vendoring then copies eddy in, so Cloud Build needs neither.
	if p.data.EddyPath != "" {
		if err := gocmd(ctx, src, "mod", "edit", "-replace", eddyModule+"="+p.data.EddyPath); err != nil {
			return nil, err
		}
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"mod", "vendor"}} {
		if err := gocmd(ctx, src, args...); err != nil {
			return nil, err
		}
	}
	if err := dropToolchain(filepath.Join(src, "go.mod")); err != nil {
		return nil, err
	}
	// Check that every package resolves from the vendor directory, as Cloud Build will build it,
	// to fail here rather than there (the project's own tests compiled the code).
	if err := gocmd(ctx, src, "list", "-mod=vendor", "-deps", "-test=false", "./..."); err != nil {
		return nil, err
	}
	zipPath := filepath.Join(build, "source.zip")
	var names []string
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, filepath.ToSlash(rel(src, path)))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := zipFiles(zipPath, src, names); err != nil {
		return nil, err
	}
	return []artifact{dirStat(src, "source bundle: root package registers "+gcpEntry+" and "+templates.GCPTickEntry+", dependencies vendored"), stat(zipPath, "the source bundle, zipped for Cloud Storage")}, nil
}

func gocmd(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	// The bundle is built as Cloud Build builds it, whatever the caller's GOFLAGS.
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, o)
	}
	return nil
}

// copyProject copies the project's sources, leaving out build output, infrastructure state and
// version control.
func copyProject(root, dst string) error {
	skip := []string{".eddy", ".git", ".terraform", ".aws-sam", "deploy", "vendor"}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r := rel(root, path)
		if d.IsDir() {
			if slices.Contains(skip, r) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, r), 0o755)
		}
		if !d.Type().IsRegular() || strings.HasSuffix(r, ".zip") || strings.HasSuffix(r, ".tfstate") || r == "bootstrap" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, r), data, 0o644)
	})
}

// zipFiles zips names (slash paths relative to dir) into zipPath, keeping executables
// executable: Lambda and the Functions host run the binary straight from the archive's modes.
func zipFiles(zipPath, dir string, names []string) error {
	f, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for _, n := range names {
		path := filepath.Join(dir, filepath.FromSlash(n))
		st, err := os.Stat(path)
		if err != nil {
			f.Close()
			return err
		}
		h, err := zip.FileInfoHeader(st)
		if err != nil {
			f.Close()
			return err
		}
		h.Name, h.Method = n, zip.Deflate
		h.Modified = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // reproducible archives
		h.SetMode(st.Mode().Perm())
		w, err := zw.CreateHeader(h)
		if err != nil {
			f.Close()
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			f.Close()
			return err
		}
		_, err = io.Copy(w, src)
		src.Close()
		if err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func stat(path, what string) artifact {
	a := artifact{path: path, what: what}
	if st, err := os.Stat(path); err == nil {
		a.size = st.Size()
	}
	return a
}

func dirStat(dir, what string) artifact {
	a := artifact{path: dir + string(filepath.Separator), what: what}
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				a.size += info.Size()
			}
		}
		return nil
	})
	return a
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// plan is the commands that deploy the built artifacts.
func plan(p *project, o deployOpts, build string) []step {
	infra := filepath.Join(p.root, "deploy", o.cloud)
	tf := func(vars ...string) []step {
		apply := []string{"terraform", "-chdir=" + rel(p.root, infra), "apply", "-input=false"}
		for _, v := range vars {
			apply = append(apply, "-var", v)
		}
		return []step{{args: []string{"terraform", "-chdir=" + rel(p.root, infra), "init", "-input=false"}}, {args: apply}}
	}
	project := o.project
	if project == "" {
		project = "PROJECT_ID"
	}
	switch o.cloud + "/" + o.tool {
	case "aws/sam":
		return []step{{args: []string{"sam", "deploy", "--template-file", rel(p.root, filepath.Join(infra, "template.yaml")),
			"--stack-name", p.name, "--region", o.region, "--capabilities", "CAPABILITY_IAM", "--resolve-s3",
			"--no-confirm-changeset", "--no-fail-on-empty-changeset",
			"--parameter-overrides", "CodeUri=" + filepath.Join(build, "function.zip")}}}
	case "aws/terraform":
		return tf("region="+o.region, "artifact="+filepath.Join(build, "function.zip"))
	case "gcp/terraform":
		return tf("project="+project, "region="+o.region, "source_zip="+filepath.Join(build, "source.zip"))
	case "gcp/gcloud":
		envVars := fmt.Sprintf("EDDY_STATE_URL=gs://%s-%s-state,EDDY_OUTPUT_URL=gcppubsubv2://%s/%s-outputs,EDDY_DEADLETTER_URL=gcppubsubv2://%s/%s-deadletter",
			project, p.name, project, p.name, project, p.name)
		return []step{{args: []string{"gcloud", "functions", "deploy", p.name, "--gen2", "--project", project, "--region", o.region,
			"--runtime", "go126", "--source", filepath.Join(build, "source"), "--entry-point", gcpEntry,
			"--trigger-topic", p.name + "-events", "--retry", "--concurrency", "1",
			"--service-account", p.name + "-fn@" + project + ".iam.gserviceaccount.com",
			"--trigger-service-account", p.name + "-trigger@" + project + ".iam.gserviceaccount.com", "--ingress-settings", "internal-only",
			"--set-env-vars", envVars}},
			{args: []string{"gcloud", "run", "services", "add-iam-policy-binding", p.name, "--project", project, "--region", o.region,
				"--member", "serviceAccount:" + p.name + "-trigger@" + project + ".iam.gserviceaccount.com", "--role", "roles/run.invoker"}},
			// The tick function that deploy/gcp/gcloud.sh's Scheduler job calls every minute: the same
			// source with the tick entry point, invocable only by the scheduler's account.
			{args: []string{"gcloud", "functions", "deploy", p.name + "-tick", "--gen2", "--project", project, "--region", o.region,
				"--runtime", "go126", "--source", filepath.Join(build, "source"), "--entry-point", templates.GCPTickEntry,
				"--trigger-http", "--no-allow-unauthenticated",
				"--service-account", p.name + "-fn@" + project + ".iam.gserviceaccount.com", "--ingress-settings", "internal-only",
				"--max-instances", "1", "--timeout", "300s", "--set-env-vars", envVars}},
			{args: []string{"gcloud", "run", "services", "add-iam-policy-binding", p.name + "-tick", "--project", project, "--region", o.region,
				"--member", "serviceAccount:" + p.name + "-tick@" + project + ".iam.gserviceaccount.com", "--role", "roles/run.invoker"}}}
	case "azure/terraform":
		return tf("location="+o.region, "resource_group="+o.resourceGroup, "app_zip="+filepath.Join(build, "app.zip"))
	}
	return nil
}

func printPlan(e *env, p *project, o deployOpts, arts []artifact, written, kept []string, steps []step) {
	w := e.stdout
	fmt.Fprintf(w, "Plan: deploy %s (module %s) to %s with %s, region %s\n\nArtifacts:\n", p.name, p.module, o.cloud, o.tool, o.region)
	for _, a := range arts {
		fmt.Fprintf(w, "  %-40s %10s  %s\n", rel(p.root, a.path), humanSize(a.size), a.what)
	}
	fmt.Fprintln(w, "\nInfrastructure files:")
	for _, f := range written {
		fmt.Fprintf(w, "  %-40s written\n", f)
	}
	for _, f := range kept {
		fmt.Fprintf(w, "  %-40s kept (yours)\n", f)
	}
	if o.cloud == "gcp" && o.tool == "gcloud" {
		fmt.Fprintln(w, "\nOnce per project, create the topics, bucket, service accounts and the tick's Cloud Scheduler job: deploy/gcp/gcloud.sh PROJECT_ID REGION")
	}
	if o.cloud == "gcp" && o.project == "" {
		fmt.Fprintln(w, "\nNo --project (or $GOOGLE_CLOUD_PROJECT): the commands say PROJECT_ID.")
	}
	fmt.Fprintf(w, "\nCommands (from %s):\n", p.root)
	for _, s := range steps {
		fmt.Fprintf(w, "  %s\n", s)
	}
}
