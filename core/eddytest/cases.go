package eddytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/spec"
)

// Suite is a file of test cases for one function, as `eddy test` reads it (the promtool
// `test rules` of eddy): events in, the outputs expected out, no Go.
//
//	spec: eddy.yaml
//	tests:
//	  - name: a hot press fires
//	    events:
//	      - {machine: press-2, ts: 1767225600000, temp: 97}
//	      - {machine: press-2, ts: 1767225611000, temp: 70}
//	    expect:
//	      - {type: decision, rule: hot, key: press-2, state: firing}
//	    expect_none:
//	      - {type: decision, key: press-1}
type Suite struct {
	// Spec is the function's spec, relative to the suite file (default eddy.yaml).
	Spec  string `yaml:"spec"`
	Tests []Case `yaml:"tests"`
}

// Case is one test: the events, how the stream is cut, and what must (and must not) come out.
type Case struct {
	Name string `yaml:"name"`
	// Events are the input records, one YAML/JSON object (or string) each; Input names a file of
	// newline-delimited events instead, relative to the suite file.
	Events []any  `yaml:"events"`
	Input  string `yaml:"input"`
	// Partitions and Batch cut the stream as Run does (defaults 1 and 7).
	Partitions int `yaml:"partitions"`
	Batch      int `yaml:"batch"`
	// Now is the processing time of every invocation, RFC 3339 (default DefaultNow, 2100-01-01T00:00:00Z).
	Now string `yaml:"now"`
	// Expect lists outputs that must come out, in this order (others may come between them). Each
	// matches an output whose JSON has every member given, with equal values; nested objects (such
	// as values) match the same way.
	Expect []map[string]any `yaml:"expect"`
	// ExpectNone lists outputs that must not come out.
	ExpectNone []map[string]any `yaml:"expect_none"`
	// Exact requires that, of the types named in Expect, nothing but the expected comes out.
	Exact bool `yaml:"exact"`
}

// Outcome is a case's result.
type Outcome struct {
	Name string
	// Problems is empty when the case passed.
	Problems []string
	// Outputs are the function's outputs, for -v.
	Outputs []string
}

// LoadSuite reads a suite file and its function's spec.
func LoadSuite(path string) (*Suite, *spec.Function, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var s Suite
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.Strict()); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, yaml.FormatError(err, false, true))
	}
	if len(s.Tests) == 0 {
		return nil, nil, fmt.Errorf("%s: no tests: give a tests: list of cases with events and expect", path)
	}
	if s.Spec == "" {
		s.Spec = "eddy.yaml"
	}
	sp := filepath.Join(filepath.Dir(path), s.Spec)
	fn, err := spec.Load(sp)
	if err != nil {
		return nil, nil, err
	}
	return &s, fn, nil
}

// RunSuite runs every case of the suite file at path.
func RunSuite(path string) ([]Outcome, error) {
	s, fn, err := LoadSuite(path)
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, len(s.Tests))
	for i, c := range s.Tests {
		if c.Name == "" {
			c.Name = "test " + strconv.Itoa(i+1)
		}
		out[i] = RunCase(fn, filepath.Dir(path), c)
	}
	return out, nil
}

// RunCase runs one case; dir resolves its Input file.
func RunCase(fn *spec.Function, dir string, c Case) Outcome {
	o := Outcome{Name: c.Name}
	fail := func(format string, a ...any) Outcome {
		o.Problems = append(o.Problems, fmt.Sprintf(format, a...))
		return o
	}
	recs, err := caseRecords(dir, c)
	if err != nil {
		return fail("%v", err)
	}
	now := DefaultNow
	if c.Now != "" {
		if now, err = time.Parse(time.RFC3339Nano, c.Now); err != nil {
			return fail("now %q: want an RFC 3339 time such as 2026-01-01T00:00:00Z", c.Now)
		}
	}
	lines, err := Outputs(fn, recs, max(1, c.Partitions), cmpOr(c.Batch, 7), now)
	if err != nil {
		return fail("%v", err)
	}
	o.Outputs = lines
	got := make([]map[string]any, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &got[i]); err != nil {
			return fail("output %d is not JSON: %v", i+1, err)
		}
	}
	next := 0
	matched := map[int]bool{}
	for i, want := range c.Expect {
		j := next
		for j < len(got) && !subset(want, got[j]) {
			j++
		}
		if j == len(got) {
			if k := find(want, got); k >= 0 {
				o.Problems = append(o.Problems, fmt.Sprintf("expect[%d] %s came out, but before expect[%d]", i, show(want), i-1))
			} else {
				o.Problems = append(o.Problems, fmt.Sprintf("expect[%d] %s: no such output%s", i, show(want), nearest(want, got)))
			}
			continue
		}
		matched[j] = true
		next = j + 1
	}
	for i, not := range c.ExpectNone {
		if k := find(not, got); k >= 0 {
			o.Problems = append(o.Problems, fmt.Sprintf("expect_none[%d] %s: came out as %s", i, show(not), lines[k]))
		}
	}
	if c.Exact {
		types := map[any]bool{}
		for _, w := range c.Expect {
			types[w["type"]] = true
		}
		for j, g := range got {
			if types[g["type"]] && !matched[j] {
				o.Problems = append(o.Problems, "exact: unexpected output "+lines[j])
			}
		}
	}
	return o
}

func cmpOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

func caseRecords(dir string, c Case) ([]core.Record, error) {
	if c.Input != "" {
		if len(c.Events) > 0 {
			return nil, fmt.Errorf("give events or input, not both")
		}
		f, err := os.Open(filepath.Join(dir, c.Input))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return ReadRecords(f, filepath.Base(c.Input))
	}
	if len(c.Events) == 0 {
		return nil, fmt.Errorf("no events: give events (a list of objects) or input (a file)")
	}
	recs := make([]core.Record, len(c.Events))
	for i, e := range c.Events {
		var data []byte
		if s, ok := e.(string); ok {
			data = []byte(s)
		} else {
			var err error
			if data, err = json.Marshal(jsonable(e)); err != nil {
				return nil, fmt.Errorf("events[%d]: %v", i, err)
			}
		}
		id := strconv.Itoa(i + 1)
		recs[i] = core.Record{ID: "events:" + id, Offset: id, Data: data}
	}
	return recs, nil
}

// jsonable turns YAML's map[string]any / map[any]any trees into what encoding/json writes.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = jsonable(x)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = jsonable(x)
		}
		return s
	}
	return v
}

// subset reports whether every member of want is in got with an equal value.
func subset(want map[string]any, got map[string]any) bool {
	for k, w := range want {
		g, ok := got[k]
		if !ok || !equal(w, g) {
			return false
		}
	}
	return true
}

func equal(w, g any) bool {
	switch w := jsonable(w).(type) {
	case map[string]any:
		gm, ok := g.(map[string]any)
		return ok && subset(w, gm)
	case nil:
		return g == nil
	}
	wf, wok := number(w)
	gf, gok := number(g)
	if wok && gok {
		return wf == gf || (wf != 0 && abs((wf-gf)/wf) < 1e-9)
	}
	a, _ := json.Marshal(jsonable(w))
	b, _ := json.Marshal(g)
	return bytes.Equal(a, b)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	}
	return 0, false
}

func find(want map[string]any, got []map[string]any) int {
	for j, g := range got {
		if subset(want, g) {
			return j
		}
	}
	return -1
}

// nearest names the output of the same type and key that differs from want in the fewest members,
// so a failing case says what came out instead.
func nearest(want map[string]any, got []map[string]any) string {
	best, bestMiss := -1, 1<<30
	for j, g := range got {
		if want["type"] != nil && !equal(want["type"], g["type"]) {
			continue
		}
		miss := 0
		for k, w := range want {
			if !equal(w, g[k]) {
				miss++
			}
		}
		if miss < bestMiss {
			best, bestMiss = j, miss
		}
	}
	if best < 0 {
		return ""
	}
	var diffs []string
	for k, w := range want {
		if !equal(w, got[best][k]) {
			b, _ := json.Marshal(got[best][k])
			diffs = append(diffs, fmt.Sprintf("%s is %s", k, b))
		}
	}
	sort.Strings(diffs)
	return "; the closest output has " + strings.Join(diffs, ", ")
}

func show(m map[string]any) string {
	b, _ := json.Marshal(jsonable(m))
	return string(b)
}

// Cases runs the suite file at path as subtests of t, one per case, each failing with the case's
// problems: the cases `eddy test` runs, under go test.
//
//	func TestCases(t *testing.T) { eddytest.Cases(t, "testdata/eddy_test.yaml") }
func Cases(t *testing.T, path string) {
	t.Helper()
	s, fn, err := LoadSuite(path)
	if err != nil {
		t.Fatalf("eddytest: %v", err)
	}
	for i, c := range s.Tests {
		if c.Name == "" {
			c.Name = "test " + strconv.Itoa(i+1)
		}
		t.Run(c.Name, func(t *testing.T) {
			o := RunCase(fn, filepath.Dir(path), c)
			for _, p := range o.Problems {
				t.Error(p)
			}
			if len(o.Problems) > 0 && testing.Verbose() {
				t.Logf("outputs:\n%s", strings.Join(o.Outputs, "\n"))
			}
		})
	}
}
