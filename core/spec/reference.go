package spec

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core/reftable"
)

// Reference declares one reference table (see package reftable): a keyed table read from a file
// or a blob, that rules read in CEL as ref.<name>[key].<column> and copy into decisions with
// enrich: [<name>.<column>].
type Reference struct {
	// Name is the table's name in CEL (ref.<name>) and in decisions: a CEL identifier.
	Name string `yaml:"name" required:"true"`
	// Source is where the table is read from: a file (relative to the spec file) or a blob URL,
	// s3://BUCKET/KEY?region=R, gs://BUCKET/KEY or azblob://CONTAINER/KEY.
	Source string `yaml:"source" required:"true"`
	// Format is csv (a header line naming the columns; numbers, true and false are typed, the
	// rest are strings) or jsonl (one JSON object per line).
	Format string `yaml:"format" enum:"csv,jsonl" default:"csv"`
	// Key is the column holding each row's key, matched against the event key.
	Key string `yaml:"key" required:"true"`
	// Refresh is how often a running function reloads the table in the background; a failed
	// reload keeps the last good table and is counted and logged. Zero loads it once.
	Refresh time.Duration `yaml:"refresh"`
	// DefaultKey names the row that stands for keys the table lacks ("*"), so that
	// ref.<name>[key] never fails; without it a missing key is an evaluation error (guard with
	// key in ref.<name>).
	DefaultKey string `yaml:"default_key"`
}

// refUseRE finds table lookups, ref.<table>[...], in an expression.
var refUseRE = regexp.MustCompile(`\bref\.([A-Za-z_][A-Za-z0-9_]*)\s*\[`)

// referenceSpecs converts the reference section to reftable's form.
func (f *Function) referenceSpecs() []reftable.Spec {
	specs := make([]reftable.Spec, len(f.Reference))
	for i, r := range f.Reference {
		specs[i] = reftable.Spec{Name: r.Name, Source: r.Source, Format: r.Format, Key: r.Key,
			Refresh: r.Refresh, DefaultKey: r.DefaultKey}
	}
	return specs
}

// declaredReference is the reference tables declared but not loaded: enough to type-check rules.
func (f *Function) declaredReference() (*reftable.Set, error) {
	if len(f.Reference) == 0 {
		return nil, nil
	}
	return reftable.New(f.referenceSpecs(), reftable.Options{})
}

func (v *validator) reference() {
	seen := map[string]bool{}
	for i, r := range v.f.Reference {
		p := fmt.Sprintf("reference[%d]", i)
		if r.Name != "" {
			if _, err := reftable.New([]reftable.Spec{{Name: r.Name, Source: "x", Key: "x"}}, reftable.Options{}); err != nil {
				v.add(verr(p+".name", fmt.Sprintf("%q is not a CEL identifier", r.Name), "letters, digits and _, not starting with a digit"))
			}
			if seen[r.Name] {
				v.add(verr(p+".name", fmt.Sprintf("reference table %q is declared twice", r.Name), ""))
			}
			seen[r.Name] = true
		}
	}
	// Event conditions read an undeclared name as a payload field (false when missing), so a
	// table lookup there would fail silently: name it instead.
	check := func(path, src string) {
		for _, m := range refUseRE.FindAllStringSubmatch(src, -1) {
			if !seen[m[1]] {
				v.add(verr(path, fmt.Sprintf("reads reference table %q, which is not declared", m[1]), "declare it under reference:"))
				return
			}
		}
	}
	for i, a := range v.f.Aggregates {
		check(fmt.Sprintf("aggregates[%d].where", i), a.Where)
	}
	for i, p := range v.f.Patterns {
		for j, s := range p.Steps {
			check(fmt.Sprintf("patterns[%d].steps[%d].where", i, j), s.Where)
		}
	}
	for i, r := range v.f.Rules {
		for j, e := range r.Enrich {
			tbl, col, ok := strings.Cut(e, ".")
			switch {
			case !ok || tbl == "" || col == "":
				v.add(verr(fmt.Sprintf("rules[%d].enrich[%d]", i, j), fmt.Sprintf("%q is not table.column", e), "e.g. limits.max_temp"))
			case !seen[tbl]:
				v.add(verr(fmt.Sprintf("rules[%d].enrich[%d]", i, j), fmt.Sprintf("no reference table named %q", tbl), "declare it under reference:"))
			}
		}
	}
}

// resolveSources makes relative file sources relative to dir, the spec file's directory.
func (f *Function) resolveSources(dir string) {
	for i := range f.Reference {
		s := f.Reference[i].Source
		if s == "" || strings.Contains(s, "://") || filepath.IsAbs(s) {
			continue
		}
		f.Reference[i].Source = filepath.Join(dir, s)
	}
}

// loadReference loads the declared tables once, for Compile.
func (f *Function) loadReference(opts Options) (*reftable.Set, error) {
	if len(f.Reference) == 0 {
		return nil, nil
	}
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return reftable.Open(ctx, f.referenceSpecs(), reftable.Options{Loader: opts.RefLoader, Logger: log})
}
