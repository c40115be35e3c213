package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/eddyhq/eddy/templates"
)

const (
	// eddyModule is the module a generated project requires.
	eddyModule = "github.com/eddyhq/eddy"
	// goVersion is the go directive of generated go.mod files. eddy's own go.mod says 1.26.0, so a
	// bare "1.26" would be raised to it by the first go command anyway.
	goVersion = "1.26.0"
	// develVersion is the requirement written with a replace directive: any version does.
	develVersion = "v0.0.0-00010101000000-000000000000"
)

// eddySource is the eddy checkout new projects build against by default; release builds may set
// it with -ldflags "-X main.eddySource=DIR". Otherwise the checkout this binary was built from is
// used, when it is still there.
var eddySource string

type newOpts struct {
	clouds   string
	module   string
	dir      string
	eddyPath string
	eddyVer  string
	noTidy   bool
	force    bool
	from     string
	gcpMode  string
	plan     string
	dash     bool
}

func newNewCmd(e *env) *cobra.Command {
	var o newOpts
	cmd := &cobra.Command{
		Use:   "new NAME --cloud aws|gcp|azure|all [--from DIR|SPEC]",
		Short: "Create a project around one function: spec, Go entry points, tests, samples, infrastructure",
		Long: `new writes a Go project in ./NAME (or --dir) that builds and passes its tests as it is:

  eddy.yaml, function.go     the function (a machine-health example to change), compiled once
  function_test.go           its test cases (testdata/eddy_test.yaml; eddy test runs them too)
  testdata/                  sample events, and the trigger payload of each chosen cloud
  cmd/aws                    the Lambda bootstrap (Kinesis → Lambda)          --cloud aws
  gcpfunction, cmd/gcp       the Cloud Run function (Pub/Sub → functions-framework-go)  --cloud gcp
  cmd/azure                  the Azure Functions custom handler (Event Hubs)   --cloud azure
  deploy/CLOUD               least-privilege infrastructure: SAM and Terraform (AWS), Terraform and
                             gcloud commands (GCP), host.json, function.json and Terraform (Azure)
  README.md                  how to run, test and deploy it

With --dashboard, each cloud's stack also gets the dashboard: a view store the function writes its
views to (EDDY_VIEW_STORE: a DynamoDB table, a Firestore database, an Azure table) and an HTTP
function serving the dashboard over it behind the cloud's own authentication, never open: a
Lambda function URL with AuthType AWS_IAM (cmd/awsdashboard), a Cloud Run function without public
invokers (entry point Dashboard), an HTTP trigger with authLevel function in the Azure app. The
README says how to open each.

NAME (lowercase letters, digits, hyphens) names the function and its cloud resources. The project
requires github.com/eddyhq/eddy; while eddy is unpublished, go.mod replaces it with a local
checkout: --eddy-path, by default the checkout this eddy was built from. new then runs
'go mod tidy' in the project (--no-tidy skips it).

With --from, the project is built around a function of your own instead of the example: a
directory with an eddy.yaml (or a single *.yaml) and, optionally, events.ndjson (sample events) and
expected.ndjson (the outputs they should give), or a spec file. The spec becomes eddy.yaml with its
name set to NAME; the events become testdata/events.ndjson (without them, new makes up events for
the fields the aggregates read); new runs the function over them and records its outputs in
testdata/expected.ndjson (warning when they differ from the given expected.ndjson), and the
generated tests check those outputs, that they do not depend on batching, and the records that
are dead-lettered.

On a terminal, new asks for what the command line leaves out; elsewhere the flags are needed.`,
		Example: `  eddy new press-monitor --cloud aws
  eddy new press-monitor --cloud all --module github.com/acme/press-monitor
  eddy new my-alarm --cloud aws --from functions/threshold
  eddy new press-monitor --cloud all --dashboard
  cd press-monitor && go test ./... && eddy dev --input testdata/events.ndjson`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("new takes one NAME, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return newProject(cmd.Context(), e, name, o, cmd.Flags().Changed("cloud"))
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.clouds, "cloud", "c", "", "clouds to target: aws, gcp, azure, a comma-separated list, or all")
	fl.StringVarP(&o.module, "module", "m", "", "Go module path (default: NAME)")
	fl.StringVarP(&o.dir, "dir", "d", "", "directory to create (default: ./NAME)")
	fl.StringVar(&o.eddyPath, "eddy-path", "", "local eddy checkout for go.mod's replace directive (default: the one this eddy was built from)")
	fl.StringVar(&o.eddyVer, "eddy-version", "", "eddy version to require instead of a local checkout (e.g. v0.3.0)")
	fl.BoolVar(&o.noTidy, "no-tidy", false, "do not run 'go mod tidy' in the new project")
	fl.BoolVar(&o.force, "force", false, "write into an existing non-empty directory, overwriting files")
	fl.StringVar(&o.from, "from", "", "build the project around this function: a directory with eddy.yaml (and events.ndjson, expected.ndjson), or a spec file")
	fl.StringVar(&o.gcpMode, "mode", "", "gcp: push (default: a function per message, ~1 event/s per key) or pull (a service pulling batches); saved for eddy deploy")
	fl.BoolVar(&o.dash, "dashboard", false, "add the dashboard to each cloud's stack: a view store and an HTTP function behind the cloud's authentication (IAM, function keys); saved for eddy deploy")
	fl.StringVar(&o.plan, "plan", "", "azure: consumption (default, Linux Consumption) or flex (Flex Consumption); saved for eddy deploy")
	return cmd
}

// prompter asks questions on a terminal.
type prompter struct {
	e  *env
	in *bufio.Reader
}

// ask prints a question with its default and returns the answer (the default when empty).
func (p *prompter) ask(question, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(p.e.stderr, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(p.e.stderr, "%s: ", question)
	}
	line, err := p.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("no answer to %q: %w", question, err)
	}
	if s := strings.TrimSpace(line); s != "" {
		return s, nil
	}
	return def, nil
}

func newProject(ctx context.Context, e *env, name string, o newOpts, cloudSet bool) error {
	var p *prompter
	if e.stdinTTY {
		p = &prompter{e: e, in: bufio.NewReader(e.stdin)}
	}
	var err error
	if name == "" {
		if p == nil {
			return usagef("new needs the project NAME: eddy new NAME --cloud aws|gcp|azure|all")
		}
		for {
			if name, err = p.ask("Project name (lowercase letters, digits, hyphens)", ""); err != nil {
				return err
			}
			if err = templates.CheckName(name); err == nil {
				break
			}
			fmt.Fprintln(e.stderr, err)
		}
	}
	if err := templates.CheckName(name); err != nil {
		return usageError{err}
	}
	if !cloudSet {
		if p == nil {
			return usagef("new needs --cloud: aws, gcp, azure, a comma-separated list, or all")
		}
		if o.clouds, err = p.ask("Clouds (aws, gcp, azure, all)", "all"); err != nil {
			return err
		}
	}
	clouds, err := parseClouds(o.clouds)
	if err != nil {
		return err
	}
	if err := templates.CheckCloudNames(name, clouds, ""); err != nil {
		return usageError{err}
	}
	saved := &deployConfig{}
	if o.gcpMode != "" {
		if o.gcpMode != "push" && o.gcpMode != "pull" || !slices.Contains(clouds, "gcp") {
			return usagef("--mode %q: want push or pull, with --cloud gcp", o.gcpMode)
		}
		saved.get("gcp").Mode = o.gcpMode
	}
	if o.plan != "" {
		if azurePlans[o.plan] == "" || !slices.Contains(clouds, "azure") {
			return usagef("--plan %q: want consumption or flex, with --cloud azure", o.plan)
		}
		saved.get("azure").Plan = o.plan
	}
	if o.module == "" {
		o.module = name
		if p != nil {
			if o.module, err = p.ask("Go module path", name); err != nil {
				return err
			}
		}
	}
	if err := module.CheckPath(o.module); err != nil && !isLocalModule(o.module) {
		return usagef("--module %q: %v", o.module, err)
	}
	if o.dir == "" {
		o.dir = name
	}
	d := templates.Data{Name: name, Module: o.module, Package: templates.PackageName(name), Clouds: clouds,
		GoVersion: goVersion, EddyVersion: develVersion, Entry: gcpEntry, Dashboard: o.dash}
	saved.Dashboard = o.dash
	switch {
	case o.eddyPath != "" && o.eddyVer != "":
		return usagef("--eddy-path and --eddy-version exclude each other")
	case o.eddyVer != "":
		d.EddyVersion = o.eddyVer
	case o.eddyPath != "":
		abs, err := filepath.Abs(o.eddyPath)
		if err != nil {
			return err
		}
		if !isEddyCheckout(abs) {
			return usagef("--eddy-path %s: no go.mod of %s there (give the root of an eddy checkout)", abs, eddyModule)
		}
		d.EddyPath = abs
	default:
		if d.EddyPath = findEddyCheckout(); d.EddyPath == "" {
			v := builtVersion()
			if v == "" {
				return errors.New("cannot tell which eddy the project should build against: pass --eddy-path DIR (the root of an eddy checkout) or --eddy-version VERSION")
			}
			d.EddyVersion = v
		}
	}
	var src *fromSource
	if o.from != "" {
		if src, err = loadFrom(ctx, e, o.from, name); err != nil {
			return err
		}
		d.From, d.Description, d.DeadLetters = filepath.ToSlash(o.from), src.fn.Description, src.dead
		d.Golden = !src.fn.Input.ProcessingTime
		for _, r := range src.refs {
			d.RefFiles = append(d.RefFiles, r.Path)
		}
	}
	files, err := templates.Project(d)
	if err != nil {
		return err
	}
	var samples []templates.File
	if src != nil {
		files = replaceFiles(files, src.files(d))
		evs, keys, err := src.sampleEvents()
		if err != nil {
			return err
		}
		samples, err = sampleTriggers(d, evs, keys)
		if err != nil {
			return err
		}
	} else if samples, err = defaultSampleTriggers(d); err != nil {
		return err
	}
	files = append(files, samples...)
	for _, name := range d.Clouds {
		c, err := cloudNamed(name)
		if err != nil {
			return err
		}
		af, err := c.appFiles(d)
		if err != nil {
			return err
		}
		files = append(files, af...)
	}
	if entries, err := os.ReadDir(o.dir); err == nil && len(entries) > 0 && !o.force {
		return fmt.Errorf("%s exists and is not empty: pick another NAME or --dir, or pass --force to overwrite", o.dir)
	}
	if _, _, err := templates.Write(o.dir, files, true); err != nil {
		return fmt.Errorf("write project: %w", err)
	}
	if saved.GCP != nil || saved.Azure != nil || saved.Dashboard {
		if err := saved.save(o.dir); err != nil {
			return fmt.Errorf("write %s: %w", deployConfigPath, err)
		}
	}
	fmt.Fprintf(e.stderr, "eddy new: wrote %d files to %s (function %s, %s)\n", len(files), o.dir, name, strings.Join(clouds, ", "))
	if src != nil {
		events := "events made up from the spec's fields"
		if src.eventsPath != "" {
			events = "events from " + src.eventsPath
		}
		fmt.Fprintf(e.stderr, "eddy new: eddy.yaml from %s (name set to %s), %s; %d outputs recorded in testdata/expected.ndjson, %d records dead-lettered\n",
			src.specPath, name, events, len(src.outputs), len(src.dead))
	}
	if d.EddyPath != "" {
		fmt.Fprintf(e.stderr, "eddy new: go.mod builds against the eddy checkout in %s (replace directive; see README.md)\n", d.EddyPath)
	}
	if !o.noTidy {
		if err := tidy(ctx, e, o.dir); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "Created %s. Next:\n  cd %s\n  go test ./...\n  eddy dev --input testdata/events.ndjson\n", name, o.dir)
	for _, c := range clouds {
		fmt.Fprintf(e.stdout, "  eddy deploy --cloud %s --dry-run\n", c)
	}
	return nil
}

// parseClouds reads --cloud.
func parseClouds(s string) ([]string, error) {
	var out []string
	for _, c := range strings.Split(strings.ToLower(s), ",") {
		c = strings.TrimSpace(c)
		switch {
		case c == "all":
			return slices.Clone(templates.Clouds), nil
		case slices.Contains(templates.Clouds, c):
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		default:
			return nil, usagef("--cloud %q: want aws, gcp, azure, a comma-separated list of them, or all", s)
		}
	}
	// Keep the canonical order whatever the flag's.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(templates.Clouds, a) - slices.Index(templates.Clouds, b) })
	return out, nil
}

// isLocalModule accepts the dotless module paths that are fine for a project never fetched by
// path ("press-monitor").
func isLocalModule(m string) bool { return module.CheckPath("example.com/"+m) == nil }

func isEddyCheckout(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && modfile.ModulePath(data) == eddyModule
}

// findEddyCheckout returns the eddy checkout to build against: -X main.eddySource, or the
// checkout this binary was compiled from (its source path, unless built with -trimpath).
func findEddyCheckout() string {
	if eddySource != "" && isEddyCheckout(eddySource) {
		return eddySource
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Dir(filepath.Dir(filepath.Dir(file)))
		if isEddyCheckout(dir) {
			return dir
		}
	}
	return ""
}

// builtVersion is eddy's module version when this binary was installed at a version.
func builtVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path != eddyModule || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return ""
	}
	return bi.Main.Version
}

// tidy runs go mod tidy in dir, so the project builds without -mod=mod, and keeps its go.mod free
// of a toolchain line.
func tidy(ctx context.Context, e *env, dir string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintf(e.stderr, "eddy new: no go command on PATH: run 'go mod tidy' in %s once Go is installed\n", dir)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, "mod", "tidy")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("project written, but 'go mod tidy' failed in %s: %v\n%s(fix the cause, often the network or --eddy-path, then run 'go mod tidy' there)", dir, err, out.String())
	}
	return dropToolchain(filepath.Join(dir, "go.mod"))
}

// dropToolchain removes a toolchain line from a go.mod: a generated project must build with any Go
// 1.26, not download a pinned toolchain.
func dropToolchain(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return err
	}
	if f.Toolchain == nil {
		return nil
	}
	f.DropToolchainStmt()
	out, err := f.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// gcpEntry is the name the GCP entry point registers (and --entry-point).
const gcpEntry = "OnMessage"

// azureFunction is the Azure function's name: its folder, and the path the host POSTs to.
const azureFunction = "OnEvents"

// replaceFiles replaces the files of the same path in files by repl, and adds the others.
func replaceFiles(files, repl []templates.File) []templates.File {
	for _, r := range repl {
		i := slices.IndexFunc(files, func(f templates.File) bool { return f.Path == r.Path })
		if i >= 0 {
			files[i] = r
		} else {
			files = append(files, r)
		}
	}
	slices.SortFunc(files, func(a, b templates.File) int { return strings.Compare(a.Path, b.Path) })
	return files
}

// defaultSampleTriggers makes testdata/<cloud> trigger payloads carrying a few of the example's
// sample events (press-03's pattern and the malformed record).
func defaultSampleTriggers(d templates.Data) ([]templates.File, error) {
	raw, err := fs.ReadFile(templates.FS, "project/common/testdata/events.ndjson")
	if err != nil {
		return nil, err
	}
	var evs [][]byte
	for l := range bytes.SplitSeq(raw, []byte("\n")) {
		var ev struct {
			Machine string
			TS      any
		}
		if json.Unmarshal(l, &ev) != nil {
			continue
		}
		// press-03 from 09:01:28 to 09:01:38 (the pattern, and enough later readings for the
		// watermark to pass it), and the malformed record.
		ms, isNum := ev.TS.(float64)
		if ev.Machine == "press-03" && isNum && ms >= 1768467688000 && ms < 1768467698000 || !isNum {
			evs = append(evs, l)
		}
	}
	keys, err := eventKeys(evs, "machine", "")
	if err != nil {
		return nil, err
	}
	return sampleTriggers(d, evs, keys)
}

// sampleTriggers makes testdata/<cloud> trigger payloads carrying evs, with the generator `eddy
// generate-event` uses.
func sampleTriggers(d templates.Data, evs [][]byte, keys []string) ([]templates.File, error) {
	at := time.Date(2026, 1, 15, 9, 1, 35, 0, time.UTC)
	o := genOpts{interval: 10 * time.Millisecond, stream: d.Name + "-events", region: "us-east-1", account: "123456789012",
		shard: "shardId-000000000000", seqStart: "49590338271490256608559692538361571095921575989136588898",
		project: "my-project", topic: d.Name + "-events", subscription: d.Name + "-events", mode: "binary",
		namespace: d.Name + ".servicebus.windows.net", hub: d.Name + "-events", consumerGroup: "$Default", partition: "0",
		method: azureFunction, seq: 100, offset: 4096}
	var files []templates.File
	for _, name := range d.Clouds {
		c, err := cloudNamed(name)
		if err != nil {
			return nil, err
		}
		data, err := c.triggerEvent(o, evs, keys, at)
		if err != nil {
			return nil, fmt.Errorf("sample %s event: %w", name, err)
		}
		files = append(files, templates.File{Path: c.samplePath(), Data: data, Mode: 0o644})
	}
	return files, nil
}
