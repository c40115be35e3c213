package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/reftable"
)

const refSpec = `name: refs
input: {key: machine, time: ts, time_format: unix_ms}
window: {tumbling: 1m}
aggregates:
  - {name: avg_temp, avg: temp}
reference:
  - {name: limits, source: limits.csv, key: machine, default_key: "*", refresh: 30s}
rules:
  - name: overheat
    when: avg_temp > ref.limits[key].max_temp
    enrich: [limits.max_temp]
`

func writeSpec(t *testing.T, spec, limits string) string {
	t.Helper()
	dir := t.TempDir()
	if limits != "" {
		if err := os.WriteFile(filepath.Join(dir, "limits.csv"), []byte(limits), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "eddy.yaml")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A relative source is relative to the spec file, wherever eddy runs from.
func TestReferenceLoad(t *testing.T) {
	p := writeSpec(t, refSpec, "machine,max_temp\npress-01,80\n*,90\n")
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(p), "limits.csv"); f.Reference[0].Source != want {
		t.Errorf("source %q, want %q", f.Reference[0].Source, want)
	}
	c, err := f.Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Reference().Stats("limits"); st.Rows != 1 || st.Loads != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Bad references are load-time errors naming the field, the file and the line.
func TestReferenceErrors(t *testing.T) {
	for _, c := range []struct {
		name, spec, limits, want string
	}{
		{"undeclared table", strings.Replace(refSpec, "ref.limits[key]", "ref.limitz[key]", 1), "machine,max_temp\n*,90\n",
			"rules[0].when: undeclared reference to 'ref.limitz'"},
		{"enrich unknown table", strings.Replace(refSpec, "[limits.max_temp]", "[limitz.max_temp]", 1), "machine,max_temp\n*,90\n",
			`rules[0].enrich[0]: no reference table named "limitz"`},
		{"enrich unknown column", strings.Replace(refSpec, "[limits.max_temp]", "[limits.min_temp]", 1), "machine,max_temp\n*,90\n",
			`table "limits" has no column "min_temp"`},
		{"bad name", strings.Replace(refSpec, "name: limits,", "name: 2limits,", 1), "", `reference[0].name: "2limits" is not a CEL identifier`},
		{"bad format", strings.Replace(refSpec, "key: machine, default_key", "format: xml, key: machine, default_key", 1), "", "reference[0].format"},
		{"no key", strings.Replace(refSpec, "key: machine, default_key", "default_key", 1), "", "reference[0].key"},
		{"missing file", refSpec, "", "limits.csv: no such file or directory"},
		{"undeclared in where", strings.Replace(refSpec, "  - {name: avg_temp, avg: temp}", "  - name: over\n    count: true\n    where: temp > ref.limitz[key].max_temp", 1), "machine,max_temp\n*,90\n",
			`aggregates[0].where: reads reference table "limitz", which is not declared`},
		{"missing key column", refSpec, "id,max_temp\n*,90\n", `limits.csv:1: key column "machine" does not exist (columns: id, max_temp)`},
		{"malformed", refSpec, "machine,max_temp\npress-01,80\npress-02\n", "limits.csv:3: wrong number of fields"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Load(writeSpec(t, c.spec, c.limits))
			if err == nil {
				_, err = f.Compile(Options{})
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	// The malformed table's error is a reftable.ParseError under the spec error.
	f, err := Load(writeSpec(t, refSpec, "machine,max_temp\npress-01,80\npress-02\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Compile(Options{})
	var pe *reftable.ParseError
	if !errors.As(err, &pe) || pe.Line != 3 {
		t.Errorf("got %v, want a ParseError at line 3", err)
	}
}

// where: conditions and pattern steps read the tables too; pattern decisions carry the version.
func TestReferenceWhereAndPattern(t *testing.T) {
	const src = `name: refp
input: {key: machine, time: ts, time_format: unix_ms}
window: {tumbling: 1m}
aggregates:
  - {name: n, count: true}
  - name: over
    count: true
    where: temp > ref.limits[key].max_temp
reference:
  - {name: limits, source: limits.csv, key: machine, default_key: "*"}
patterns:
  - name: hot-twice
    steps:
      - name: a
        where: temp > ref.limits[key].max_temp
        times: 2
    within: 1m
`
	const limits = "machine,max_temp\npress-01,80\n*,90\n"
	f, err := Load(writeSpec(t, src, limits))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.NewPipeline()
	if err != nil {
		t.Fatal(err)
	}
	var recs []core.Record
	for i, e := range []struct {
		m    string
		s    int
		temp float64
	}{{"press-01", 1, 85}, {"press-02", 1, 85}, {"press-01", 2, 86}, {"press-02", 2, 86}, {"press-01", 3, 70}} {
		recs = append(recs, core.Record{ID: fmt.Sprint(i), Offset: fmt.Sprint(i),
			Data: fmt.Appendf(nil, `{"machine":%q,"ts":%d,"temp":%g}`, e.m, e.s*1000, e.temp)})
	}
	ctx := context.Background()
	res, err := p.Process(ctx, core.Batch{Partition: "0", Records: recs, Now: time.Unix(1e9, 0)})
	if err != nil {
		t.Fatal(err)
	}
	outs := res.Outputs
	if _, err := p.Flush(ctx, func(o core.Output) { outs = append(outs, core.CloneOutput(o)) }); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range outs {
		switch o := o.(type) {
		case *core.WindowResult:
			over, _ := o.Value("over")
			got = append(got, fmt.Sprintf("window %s over=%g", o.Key, over.Num))
		case *core.Decision:
			got = append(got, fmt.Sprintf("%s %s %s %v", o.Rule, o.Key, o.State, o.Ref))
		}
	}
	v := reftable.Version([]byte(limits))
	want := []string{"hot-twice press-01 matched [{limits " + v + "}]", "window press-01 over=2", "window press-02 over=0"}
	slices.Sort(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
