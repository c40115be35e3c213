// Package templates holds what `eddy new` scaffolds and what `eddy deploy` writes: a Go project
// around one eddy function (its spec, the Go entry point per cloud, a test on the in-memory
// broker, sample events and trigger payloads, infrastructure files and a README), and the source
// bundle that Cloud Run functions builds.
//
// The files live under project/ (common/ for every project, aws/, gcp/ and azure/ for the clouds
// chosen) and bundle/ (per cloud, for deploy artifacts), embedded in the eddy binary. Files
// ending in .tmpl are text/template templates executed with Data and written without the suffix;
// the others are copied as they are. Go and go.mod files are all templates, which also keeps the
// go command from seeing them as part of this module.
package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// FS is the embedded template tree.
//
//go:embed all:project all:bundle
var FS embed.FS

// Clouds are the clouds a project can target, in the order they are listed.
var Clouds = []string{"aws", "gcp", "azure"}

// Data is what the templates are executed with.
type Data struct {
	// Name is the project's and the function's name: lowercase letters, digits and hyphens, as
	// every cloud accepts in resource names.
	Name string
	// Module is the Go module path of the project.
	Module string
	// Package is the Go package name of the function (the module's root package).
	Package string
	// Clouds are the clouds chosen, a subset of Clouds.
	Clouds []string
	// GoVersion is the go directive of generated go.mod files.
	GoVersion string
	// EddyVersion is the version of github.com/eddyhq/eddy the project requires.
	EddyVersion string
	// EddyPath, if set, is a local checkout of eddy that a replace directive points to, for as
	// long as eddy is not published (or to work on eddy itself).
	EddyPath string
	// Entry is the GCP entry point (the registered CloudEvent function's name); the tick's is
	// TickEntry.
	Entry string
	// From, when set, is where the function came from (eddy new --from): eddy.yaml and
	// testdata/events.ndjson are the user's rather than the machine-health example, and the tests
	// check what holds for any function (no dead letters, deterministic outputs, the golden
	// outputs when Golden) instead of the example's decisions.
	From string
	// Golden tells that testdata/expected.ndjson holds the outputs the sample events must give (not
	// for processing-time functions, whose outputs depend on when they run).
	Golden bool
	// DeadLetters are the IDs ("events.ndjson:LINE") of the sample records the function
	// dead-letters (From only).
	DeadLetters []string
	// RefFiles are the files of eddy.yaml's reference tables (relative to the project root), built
	// into the binary beside the spec.
	RefFiles []string
	// Description is the spec's description, for the README (From only).
	Description string
	// Dashboard adds the dashboard to each cloud's stack (eddy new --dashboard): a view store the
	// function writes its views to (EDDY_VIEW_STORE) and an HTTP function serving the dashboard
	// over it, behind the cloud's own authentication (a function URL with AWS_IAM, a Cloud Run
	// function without public invokers, an Azure function key). Templates that render to nothing
	// without it are not written.
	Dashboard bool
}

// GCPTickEntry is the name the GCP tick entry point registers (gcp.RegisterTick): the HTTP
// function a Cloud Scheduler job calls every minute to close the windows of quiet partitions.
const GCPTickEntry = "Tick"

// TickEntry is the GCP tick entry point's name, GCPTickEntry, for the templates.
func (d Data) TickEntry() string { return GCPTickEntry }

// Has tells whether the project targets cloud.
func (d Data) Has(cloud string) bool { return slices.Contains(d.Clouds, cloud) }

// Underscore is Name with hyphens as underscores, for identifiers (Terraform names, Azure
// settings) that do not take hyphens.
func (d Data) Underscore() string { return strings.ReplaceAll(d.Name, "-", "_") }

// Short is Name without hyphens, cut to n characters: for names that take neither hyphens nor
// length (Azure storage accounts).
func (d Data) Short(n int) string {
	s := strings.ReplaceAll(d.Name, "-", "")
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// GCPAccount is the id of one of the project's GCP service accounts: NAME-ROLE when that fits
// IAM's rule (6 to 30 lowercase letters, digits and hyphens, starting with a letter, not ending
// with a hyphen); longer names are cut and keep a short hash of the whole name so that two
// projects do not share an account, shorter ones are padded with "-sa".
func (d Data) GCPAccount(role string) string {
	return GCPAccountID(d.Name, role)
}

// GCPAccountID is Data.GCPAccount for a name.
func GCPAccountID(name, role string) string {
	id := name + "-" + role
	if len(id) > 30 {
		sum := sha256.Sum256([]byte(name))
		tail := "-" + hex.EncodeToString(sum[:])[:4] + "-" + role
		id = strings.TrimRight(name[:30-len(tail)], "-") + tail
	}
	for len(id) < 6 {
		id += "-sa"
	}
	return id
}

// nameRE is the form every cloud accepts (lowercase letters, digits, hyphens, starting with a
// letter, 2 to 63 characters); the lengths each cloud allows are nameRules'. A bounded repetition ({m,n}) compiles to n copies of its class, a few hundred kilobytes held
// from init for the life of every process that links the package; the length is checked apart.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)

// CheckName says what is wrong with a project name's form, or nil; CheckCloudNames checks what
// it becomes in each cloud.
func CheckName(name string) error {
	if len(name) > 63 || !nameRE.MatchString(name) || strings.Contains(name, "--") {
		return fmt.Errorf("name %q: use 2 to 63 lowercase letters, digits and single hyphens, starting with a letter (it names the function and its cloud resources), for example %q",
			name, SuggestName(name, 43))
	}
	return nil
}

// PackageName turns a project name into a Go package name: "press-monitor" → "pressmonitor".
func PackageName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "fn" + s
	}
	return s
}

// File is one rendered file.
type File struct {
	// Path is slash-separated and relative to the output directory.
	Path string
	Data []byte
	Mode fs.FileMode
}

// Check validates d before rendering.
func (d Data) Check() error {
	if err := CheckName(d.Name); err != nil {
		return err
	}
	if d.Module == "" || d.Package == "" || d.GoVersion == "" || d.EddyVersion == "" {
		return errors.New("templates: Data needs Module, Package, GoVersion and EddyVersion")
	}
	if len(d.Clouds) == 0 {
		return errors.New("templates: no cloud chosen")
	}
	for _, c := range d.Clouds {
		if !slices.Contains(Clouds, c) {
			return fmt.Errorf("templates: unknown cloud %q (want aws, gcp or azure)", c)
		}
	}
	return nil
}

// Project renders the project for d: the common files and those of each chosen cloud, sorted by
// path.
func Project(d Data) ([]File, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	roots := append([]string{"project/common"}, mapEach(d.Clouds, func(c string) string { return "project/" + c })...)
	var files []File
	for _, root := range roots {
		fs, err := Render(root, d)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	if d.From != "" {
		// The test cases are the machine-health example's; a project made around the user's
		// function tests its own events (function_test.go).
		files = slices.DeleteFunc(files, func(f File) bool { return f.Path == "testdata/eddy_test.yaml" })
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// Infra renders only the infrastructure files of one cloud (those under deploy/), as `eddy
// deploy` writes them into a project that lacks them.
func Infra(cloud string, d Data) ([]File, error) {
	if !slices.Contains(Clouds, cloud) {
		return nil, fmt.Errorf("templates: unknown cloud %q (want aws, gcp or azure)", cloud)
	}
	all, err := Render("project/"+cloud, d)
	if err != nil {
		return nil, err
	}
	var out []File
	for _, f := range all {
		if strings.HasPrefix(f.Path, "deploy/") {
			out = append(out, f)
		}
	}
	return out, nil
}

// Render executes every file under root (a directory of FS) with d; the paths of the result are
// relative to root.
func Render(root string, d Data) ([]File, error) {
	var files []File
	err := fs.WalkDir(FS, root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		raw, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		mode := fs.FileMode(0o644)
		if path.Ext(strings.TrimSuffix(rel, ".tmpl")) == ".sh" {
			mode = 0o755
		}
		if strings.HasSuffix(rel, ".tmpl") {
			rel = strings.TrimSuffix(rel, ".tmpl")
			t, err := template.New(p).Option("missingkey=error").Parse(string(raw))
			if err != nil {
				return fmt.Errorf("template %s: %w", p, err)
			}
			var b bytes.Buffer
			if err := t.Execute(&b, d); err != nil {
				return fmt.Errorf("template %s: %w", p, err)
			}
			raw = b.Bytes()
			if len(bytes.TrimSpace(raw)) == 0 {
				// A file of an option left off (the dashboard's).
				return nil
			}
			if path.Ext(rel) == ".go" {
				// Conditional sections leave blank lines and import groups that gofmt would change;
				// a scaffold should be what gofmt writes.
				if raw, err = format.Source(raw); err != nil {
					return fmt.Errorf("template %s: the Go it renders does not parse: %w", p, err)
				}
			}
		}
		files = append(files, File{Path: rel, Data: raw, Mode: mode})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// Write writes files under dir, creating directories. With overwrite false an existing file is
// left alone and its path returned in kept.
func Write(dir string, files []File, overwrite bool) (written, kept []string, err error) {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if !overwrite {
			if _, err := os.Stat(p); err == nil {
				kept = append(kept, f.Path)
				continue
			}
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return written, kept, err
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			return written, kept, err
		}
		written = append(written, f.Path)
	}
	return written, kept, nil
}

func mapEach(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}
