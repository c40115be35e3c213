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
	"github.com/spf13/pflag"
	"golang.org/x/mod/modfile"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/templates"
)

type deployOpts struct {
	cloud, tool, dir string
	region, project  string
	dryRun           bool
	resourceGroup    string
	mode             string // gcp: push or pull
	plan             string // azure: consumption or flex
	rebuild          bool
	progressEvery    time.Duration
	buildHash        string // the content hash of the build's inputs, once known
}

func newDeployCmd(e *env) *cobra.Command {
	var o deployOpts
	cmd := &cobra.Command{
		Use:   "deploy [--cloud aws|gcp|azure] [--dry-run]",
		Short: "Build a project's function for a cloud, write its infrastructure files and deploy it",
		Long: `deploy, run in a project made by eddy new (or --dir), does five things:

 1. checks what the deployment needs before building (the project's name against the cloud's
    naming limits, --project for gcp, the tool on PATH)
 2. builds what the cloud runs, under .eddy/build/CLOUD, printing each step and how long it has
    taken; a build whose inputs (the project's sources, eddy's, the Go toolchain) have not changed
    since the last one is reused (--rebuild builds anyway):
      aws    function.zip: a linux/arm64 bootstrap built with -tags lambda.norpc, CGO off
      gcp    source/ and source.zip: a module whose root package registers the function and its
             tick with functions-framework-go, and whose pull/ is the pull-mode service,
             dependencies vendored (eddy included)
      azure  app/ and app.zip: host.json, OnEvents/function.json and the linux/amd64 handler
 3. writes the infrastructure files of deploy/CLOUD that are missing (existing ones are yours
    and stay as they are)
 4. prints the plan: artifacts with their sizes, files, and the exact commands
 5. runs them: sam deploy (aws; --tool terraform for Terraform), terraform init and apply (gcp,
    azure; --tool gcloud runs deploy/gcp/gcloud.sh on gcp)

GCP runs in push mode (a function per message; about 1 event/s per ordering key, since each
message commits its key's state object) or, with --mode pull, as a Cloud Run service pulling
batches (one commit per batch per key). Azure runs on Linux Consumption or, with --plan flex, on
Flex Consumption.

The settings given (cloud, tool, region, project, mode, resource group, plan) are saved in
` + deployConfigPath + `; later deploy, logs and destroy commands use them when the flag is left
out. --dry-run does all but step 5. When the tool is not installed, deploy fails (exit 1) before
building and lists the commands to run once it is.`,
		Example: `  eddy deploy --cloud aws --dry-run
  eddy deploy --cloud aws --region eu-west-1
  eddy deploy --cloud gcp --project my-project --region europe-west1 --mode pull
  eddy deploy --cloud azure --region westeurope --plan flex
  eddy deploy            # again, with the saved settings`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return deploy(cmd.Context(), e, o, cmd.Flags())
		},
	}
	fl := cmd.Flags()
	addDeployFlags(fl, &o)
	fl.BoolVar(&o.dryRun, "dry-run", false, "build, write and print the plan, but do not call the cloud")
	fl.StringVar(&o.mode, "mode", "", "gcp: push (default: a function per message) or pull (a service pulling batches, for keys faster than ~1 event/s)")
	fl.StringVar(&o.plan, "plan", "", "azure: consumption (default, Linux Consumption Y1) or flex (Flex Consumption FC1)")
	fl.BoolVar(&o.rebuild, "rebuild", false, "build even when the inputs have not changed since the last build")
	fl.DurationVar(&o.progressEvery, "progress-interval", 10*time.Second, "how often a long build step reports how long it has taken")
	fl.MarkHidden("progress-interval")
	return cmd
}

// addDeployFlags adds the flags deploy, logs and destroy share.
func addDeployFlags(fl *pflag.FlagSet, o *deployOpts) {
	fl.StringVarP(&o.cloud, "cloud", "c", "", "aws, gcp or azure (default: the one last deployed, from "+deployConfigPath+")")
	fl.StringVar(&o.tool, "tool", "", "what deploys: aws: sam (default) or terraform; gcp: terraform (default) or gcloud; azure: terraform")
	fl.StringVarP(&o.dir, "dir", "d", ".", "the project directory")
	fl.StringVar(&o.region, "region", "", "region (default: aws us-east-1, gcp us-central1, azure westeurope)")
	fl.StringVar(&o.project, "project", "", "gcp: project id (default $GOOGLE_CLOUD_PROJECT)")
	fl.StringVar(&o.resourceGroup, "resource-group", "", "azure: resource group to create (default NAME-rg)")
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
	dir   string   // working directory (the project root when "")
	args  []string // the command
	needs string   // the tool it needs on PATH, when not args[0]
	env   []string // extra environment
}

func (s step) String() string {
	q := make([]string, 0, len(s.env)+len(s.args))
	for _, v := range s.env {
		q = append(q, shellQuote(v))
	}
	for _, a := range s.args {
		q = append(q, shellQuote(a))
	}
	return strings.Join(q, " ")
}

func (s step) tool() string {
	if s.needs != "" {
		return s.needs
	}
	return s.args[0]
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

// resolve fills o from the flags, the saved configuration and the defaults, and checks it. It
// returns the cloud, the project and the configuration to save.
func resolve(e *env, o *deployOpts, fl *pflag.FlagSet, verb string) (cloud, *project, *deployConfig, error) {
	root, err := filepath.Abs(o.dir)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := loadDeployConfig(root)
	if err != nil {
		return nil, nil, nil, err
	}
	o.merge(fl, cfg)
	if o.cloud == "" {
		return nil, nil, nil, usagef("%s needs --cloud aws, gcp or azure (none saved in %s yet)", verb, deployConfigPath)
	}
	c, err := cloudNamed(o.cloud)
	if err != nil {
		return nil, nil, nil, err
	}
	if o.tool == "" {
		o.tool = c.tools()[0]
	}
	if !slices.Contains(c.tools(), o.tool) {
		return nil, nil, nil, usagef("--tool %q for %s: want %s", o.tool, o.cloud, toolNames(c))
	}
	if o.region == "" {
		o.region = c.defaultRegion()
	}
	p, err := loadProject(root)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := c.settle(p, o, fl); err != nil {
		return nil, nil, nil, err
	}
	if err := templates.CheckCloudNames(p.name, []string{o.cloud}, o.project); err != nil {
		return nil, nil, nil, usageError{fmt.Errorf("eddy.yaml: function %w", err)}
	}
	return c, p, cfg, nil
}

// missingTools lists the tools of steps that are not on PATH.
func missingTools(steps []step) []string {
	var missing []string
	for _, s := range steps {
		if _, err := exec.LookPath(s.tool()); err != nil && !slices.Contains(missing, s.tool()) {
			missing = append(missing, s.tool())
		}
	}
	return missing
}

// missingError says which tools to install and the commands to run once they are.
func missingError(root, verb string, missing []string, steps []step) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s not installed (not on PATH): install %s, log in, then run from %s:\n", strings.Join(missing, " and "), installHint(missing), root)
	for _, s := range steps {
		if s.dir != "" {
			fmt.Fprintf(&b, "  (cd %s && %s)\n", shellQuote(rel(root, s.dir)), s)
		} else {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	fmt.Fprintf(&b, "or run eddy %s again once it is installed", verb)
	return errors.New(b.String())
}

// runSteps runs steps from root with the terminal's stdio, printing each first.
func runSteps(ctx context.Context, e *env, root, verb string, steps []step) error {
	for _, s := range steps {
		fmt.Fprintf(e.stderr, "eddy %s: running %s\n", verb, s)
		cmd := exec.CommandContext(ctx, s.args[0], s.args[1:]...)
		cmd.Dir = root
		if s.dir != "" {
			cmd.Dir = s.dir
		}
		cmd.Env = append(os.Environ(), s.env...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s failed: %w (see its output above; fix the cause and run eddy %s again)", s.args[0], err, verb)
		}
	}
	return nil
}

func deploy(ctx context.Context, e *env, o deployOpts, fl *pflag.FlagSet) error {
	c, p, cfg, err := resolve(e, &o, fl, "deploy")
	if err != nil {
		return err
	}
	build := filepath.Join(p.root, ".eddy", "build", o.cloud)
	// Checked before building, which can take minutes: the tools the plan runs, and what the
	// cloud needs to know.
	if !o.dryRun {
		steps := c.plan(p, o, build)
		if missing := missingTools(steps); len(missing) > 0 {
			printPlan(e, c, p, o, nil, nil, nil, steps)
			return missingError(p.root, "deploy", missing, steps)
		}
	}
	if err := c.check(p, o); err != nil {
		return err
	}
	cfg.record(o)
	if err := cfg.save(p.root); err != nil {
		return fmt.Errorf("save %s: %w", deployConfigPath, err)
	}
	// The infrastructure files first: the Azure bundle takes host.json and function.json from them.
	infra, err := templates.Infra(o.cloud, p.data)
	if err != nil {
		return err
	}
	af, err := c.appFiles(p.data)
	if err != nil {
		return err
	}
	written, kept, err := templates.Write(p.root, append(infra, af...), false)
	if err != nil {
		return fmt.Errorf("write infrastructure files: %w", err)
	}
	b := &builder{e: e, every: o.progressEvery, verb: "deploy"}
	arts, hash, err := cachedBuild(ctx, c, p, b, build, o.rebuild)
	if err != nil {
		return err
	}
	o.buildHash = hash
	steps := c.plan(p, o, build)
	printPlan(e, c, p, o, arts, written, kept, steps)
	if o.dryRun {
		fmt.Fprintf(e.stdout, "\nDry run: nothing was deployed. Run the commands above, or: eddy deploy --cloud %s%s\n", o.cloud, toolFlag(c, o))
		return nil
	}
	if err := runSteps(ctx, e, p.root, "deploy", steps); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "eddy deploy: %s deployed to %s; its logs: eddy logs\n", p.name, o.cloud)
	return nil
}

func toolFlag(c cloud, o deployOpts) string {
	if o.tool == c.tools()[0] {
		return ""
	}
	return " --tool " + o.tool
}

func installHint(tools []string) string {
	hints := map[string]string{"sam": "the AWS SAM CLI", "terraform": "Terraform (1.5 or later)", "gcloud": "the Google Cloud CLI",
		"aws": "the AWS CLI", "az": "the Azure CLI", "sh": "a POSIX shell"}
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
	cfg, err := loadDeployConfig(root)
	if err != nil {
		return nil, err
	}
	p.data.Dashboard = cfg.Dashboard
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

// awsArtifact is where deploy builds the Lambda package; deploy/aws/template.yaml's CodeUri names
// it by a literal relative path, since sam package uploads only literal paths.
func awsArtifact(root string) string {
	return filepath.Join(root, ".eddy", "build", "aws", "function.zip")
}

func buildAWS(ctx context.Context, p *project, b *builder, build string) ([]artifact, error) {
	if err := needDir(p, "cmd/aws", "aws"); err != nil {
		return nil, err
	}
	boot := filepath.Join(build, "bootstrap")
	if err := b.run("go build ./cmd/aws (linux/arm64, -tags lambda.norpc)", func() error {
		return goBuild(ctx, p, "./cmd/aws", "arm64", boot, "lambda.norpc")
	}); err != nil {
		return nil, err
	}
	if err := checkLinks(boot, "cloud.google.com/", "github.com/GoogleCloudPlatform/", "github.com/Azure/", "github.com/AzureAD/"); err != nil {
		return nil, err
	}
	zipPath := awsArtifact(p.root)
	if err := zipFiles(zipPath, build, []string{"bootstrap"}); err != nil {
		return nil, err
	}
	arts := []artifact{stat(boot, "linux/arm64 Lambda bootstrap (-tags lambda.norpc, CGO off)"), stat(zipPath, "the Lambda deployment package")}
	if !p.data.Dashboard {
		return arts, nil
	}
	// The dashboard's Lambda: its own bootstrap, zipped where template.yaml's CodeUri and
	// dashboard.tf's default say.
	if err := needDir(p, "cmd/awsdashboard", "the dashboard"); err != nil {
		return nil, err
	}
	dashDir := filepath.Join(build, "dashboard")
	dashBoot := filepath.Join(dashDir, "bootstrap")
	if err := b.run("go build ./cmd/awsdashboard (linux/arm64, -tags lambda.norpc)", func() error {
		return goBuild(ctx, p, "./cmd/awsdashboard", "arm64", dashBoot, "lambda.norpc")
	}); err != nil {
		return nil, err
	}
	dashZip := awsDashboardArtifact(p.root)
	if err := zipFiles(dashZip, dashDir, []string{"bootstrap"}); err != nil {
		return nil, err
	}
	return append(arts, stat(dashZip, "the dashboard's Lambda package (./cmd/awsdashboard)")), nil
}

// awsDashboardArtifact is where deploy builds the dashboard's Lambda package (eddy new
// --dashboard); template.yaml's CodeUri and dashboard.tf name it.
func awsDashboardArtifact(root string) string {
	return filepath.Join(root, ".eddy", "build", "aws", "dashboard.zip")
}

func buildAzure(ctx context.Context, p *project, b *builder, build string) ([]artifact, error) {
	if err := needDir(p, "cmd/azure", "azure"); err != nil {
		return nil, err
	}
	app := filepath.Join(build, "app")
	handler := filepath.Join(app, "handler")
	if err := b.run("go build ./cmd/azure (linux/amd64)", func() error {
		return goBuild(ctx, p, "./cmd/azure", "amd64", handler)
	}); err != nil {
		return nil, err
	}
	files := []string{"host.json", azureFunction + "/function.json", "Tick/function.json"}
	if p.data.Dashboard {
		files = append(files, azure.DashboardFunction+"/function.json")
	}
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
	files := []templates.File{
		{Path: "deploy/azure/host.json", Data: append(host, '\n'), Mode: 0o644},
		{Path: "deploy/azure/" + azureFunction + "/function.json", Data: append(fn, '\n'), Mode: 0o644},
		{Path: "deploy/azure/Tick/function.json", Data: tick, Mode: 0o644},
	}
	if d.Dashboard {
		// The dashboard: an HTTP trigger behind function keys, forwarded to the handler as it came.
		if host, err = azure.ForwardHTTP(host); err != nil {
			return nil, err
		}
		files[0].Data = append(host, '\n')
		files = append(files, templates.File{Path: "deploy/azure/" + azure.DashboardFunction + "/function.json",
			Data: append(azure.DashboardFunctionJSON(), '\n'), Mode: 0o644})
	}
	return files, nil
}

func buildGCP(ctx context.Context, p *project, b *builder, build string) ([]artifact, error) {
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
		if err := b.run("go "+strings.Join(args, " ")+" in the Cloud Run bundle", func() error { return gocmd(ctx, src, args...) }); err != nil {
			return nil, err
		}
	}
	if err := dropToolchain(filepath.Join(src, "go.mod")); err != nil {
		return nil, err
	}
	// Check that every package resolves from the vendor directory, as Cloud Build will build it,
	// to fail here rather than there (the project's own tests compiled the code).
	if err := b.run("go list -mod=vendor -deps ./... (the bundle resolves as Cloud Build will build it)", func() error {
		return gocmd(ctx, src, "list", "-mod=vendor", "-deps", "-test=false", "./...")
	}); err != nil {
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

func printPlan(e *env, c cloud, p *project, o deployOpts, arts []artifact, written, kept []string, steps []step) {
	w := e.stdout
	fmt.Fprintf(w, "Plan: deploy %s (module %s) to %s with %s, region %s%s\n", p.name, p.module, o.cloud, o.tool, o.region, c.describe(o))
	if len(arts) > 0 {
		fmt.Fprintln(w, "\nArtifacts:")
	}
	for _, a := range arts {
		fmt.Fprintf(w, "  %-40s %10s  %s\n", rel(p.root, a.path), humanSize(a.size), a.what)
	}
	if len(written)+len(kept) > 0 {
		fmt.Fprintln(w, "\nInfrastructure files:")
	}
	for _, f := range written {
		fmt.Fprintf(w, "  %-40s written\n", f)
	}
	for _, f := range kept {
		fmt.Fprintf(w, "  %-40s kept (yours)\n", f)
	}
	if note := c.note(o); note != "" {
		fmt.Fprintf(w, "\n%s\n", note)
	}
	fmt.Fprintf(w, "\nCommands (from %s):\n", p.root)
	for _, s := range steps {
		fmt.Fprintf(w, "  %s\n", s)
	}
	fmt.Fprintf(w, "\nThen: eddy send --to '%s' --spec eddy.yaml --input testdata/events.ndjson; eddy logs\n", c.eventsURL(p, o))
}
