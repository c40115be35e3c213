package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state"
	_ "github.com/eddyhq/eddy/core/state/memstate" // mem:// state for the sample run
	"github.com/eddyhq/eddy/templates"
)

// fromSource is the function eddy new --from scaffolds a project around.
type fromSource struct {
	// specPath and eventsPath are where the spec and the sample events came from (eventsPath ""
	// when the events were generated).
	specPath, eventsPath string
	// spec is the spec with its name set to the project's.
	spec []byte
	fn   *spec.Function
	// events are the sample events (the given ones, or generated from the spec).
	events []byte
	// outputs are what the function makes of events, in order, as eddy.yaml's outputs section
	// writes them; dead the IDs of the records it dead-letters.
	outputs []string
	dead    []string
}

// loadFrom reads --from: a directory (its eddy.yaml, or its only *.yaml) or a spec file, with the
// events.ndjson beside it if there is one. The spec's name becomes name, so that the function,
// its decision ids and its cloud resources carry the project's name.
func loadFrom(ctx context.Context, e *env, from, name string) (*fromSource, error) {
	st, err := os.Stat(from)
	if err != nil {
		return nil, usagef("--from %s: %v (give a directory with an eddy.yaml, or a spec file)", from, err)
	}
	src := &fromSource{specPath: from}
	dir := filepath.Dir(from)
	if st.IsDir() {
		dir = from
		if src.specPath, err = specIn(from); err != nil {
			return nil, err
		}
	}
	raw, err := os.ReadFile(src.specPath)
	if err != nil {
		return nil, err
	}
	if src.spec, err = renameSpec(raw, name); err != nil {
		return nil, fmt.Errorf("%s: %w", src.specPath, err)
	}
	src.spec = moveSchemaRef(src.spec, filepath.Dir(src.specPath))
	f, c, err := parseSpec(src.specPath, src.spec)
	if err != nil {
		return nil, err
	}
	if c.Name() != name {
		return nil, fmt.Errorf("%s: the name is %q after setting it to %q: is the top-level name: an anchor or alias?", src.specPath, c.Name(), name)
	}
	src.fn = f
	if p := filepath.Join(dir, "events.ndjson"); fileExists(p) {
		if src.events, err = readSampleFile(p); err != nil {
			return nil, err
		}
		src.eventsPath = p
	} else if src.events, err = generateSamples(f); err != nil {
		return nil, fmt.Errorf("%s: no events.ndjson beside the spec, and %w: add sample events (one JSON object a line) as %s", src.specPath, err, p)
	}
	if src.outputs, src.dead, err = runSample(ctx, c, src.events); err != nil {
		return nil, fmt.Errorf("run %s over the sample events: %w", src.specPath, err)
	}
	if len(src.outputs) == 0 {
		return nil, fmt.Errorf("%s: the sample events give no window results or decisions; give events that do (%s)", src.specPath, filepath.Join(dir, "events.ndjson"))
	}
	if p := filepath.Join(dir, "expected.ndjson"); fileExists(p) && !f.Input.ProcessingTime {
		want, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if diff := compareOutputs(src.outputs, want); diff != "" {
			fmt.Fprintf(e.stderr, "eddy new: warning: %s does not match what the function outputs (%s); testdata/expected.ndjson holds the function's outputs\n", p, diff)
		}
	}
	return src, nil
}

// specIn finds the spec of a directory: eddy.yaml, else its only *.yaml or *.yml.
func specIn(dir string) (string, error) {
	if p := filepath.Join(dir, defaultSpec); fileExists(p) {
		return p, nil
	}
	var found []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		found = append(found, m...)
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var sub []string
		m, _ := filepath.Glob(filepath.Join(dir, "*", defaultSpec))
		for _, p := range m {
			sub = append(sub, filepath.Dir(p))
		}
		if len(sub) > 0 {
			return "", usagef("--from %s: no eddy.yaml there, but in %s: give one of them", dir, strings.Join(sub, ", "))
		}
		return "", usagef("--from %s: no eddy.yaml or other *.yaml there", dir)
	}
	return "", usagef("--from %s: several specs (%s) and no eddy.yaml: give one of them", dir, strings.Join(found, ", "))
}

// readSampleFile reads a sample file, uncompressing it if it is gzip: the project's copy is plain, to
// be read and changed by hand.
func readSampleFile(p string) ([]byte, error) {
	data, err := os.ReadFile(p)
	if err != nil || len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	defer zr.Close()
	if data, err = io.ReadAll(zr); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return data, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// topName is the spec's top-level name line, with an optional trailing comment.
var topName = regexp.MustCompile(`(?m)^name:[ \t]*([^#\r\n]*?)[ \t]*(#[^\r\n]*)?\r?$`)

// renameSpec sets the top-level name: of a spec, keeping everything else byte for byte (comments,
// order, formatting).
func renameSpec(data []byte, name string) ([]byte, error) {
	m := topName.FindSubmatchIndex(data)
	if m == nil {
		return nil, errors.New("no top-level `name:` line to set the project's name in (write the spec in block style, name: first-level)")
	}
	var b bytes.Buffer
	b.Write(data[:m[2]])
	b.WriteString(name)
	b.Write(data[m[3]:])
	return b.Bytes(), nil
}

// schemaRef is a yaml-language-server modeline, which editors read for completion.
var schemaRef = regexp.MustCompile(`(?m)^#[ \t]*yaml-language-server:[ \t]*\$schema=(\S+)[ \t]*\r?\n`)

// moveSchemaRef keeps a spec's schema modeline valid in the project: a path relative to the
// spec's directory becomes absolute, or the line goes when the schema is not there.
func moveSchemaRef(data []byte, dir string) []byte {
	m := schemaRef.FindSubmatchIndex(data)
	if m == nil {
		return data
	}
	ref := string(data[m[2]:m[3]])
	if strings.Contains(ref, "://") || filepath.IsAbs(ref) {
		return data
	}
	abs, err := filepath.Abs(filepath.Join(dir, ref))
	var b bytes.Buffer
	b.Write(data[:m[0]])
	if err == nil && fileExists(abs) {
		b.Write(data[m[0]:m[2]])
		b.WriteString(filepath.ToSlash(abs))
		b.Write(data[m[3]:m[1]])
	}
	b.Write(data[m[1]:])
	return b.Bytes()
}

// sampleCollector gathers a sample run's outputs, as the generated test does.
type sampleCollector struct {
	c       *spec.Compiled
	mu      sync.Mutex
	outputs []string
	dead    []string
}

func (s *sampleCollector) Emit(_ context.Context, outs []core.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range outs {
		if b, ok := s.c.AppendOutput(nil, o); ok {
			s.outputs = append(s.outputs, string(b))
		}
	}
	return nil
}

func (s *sampleCollector) EmitFailures(_ context.Context, fs []*core.Failure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range fs {
		s.dead = append(s.dead, f.Record.ID)
	}
	return nil
}

// runSample runs the function over the events as the generated function_test.go does (the
// in-memory broker, one partition, no wall-clock ticks, the last windows flushed), so that the
// outputs recorded in testdata/expected.ndjson are the ones the test will see.
func runSample(ctx context.Context, c *spec.Compiled, events []byte) (outputs, dead []string, err error) {
	store, err := state.Open(ctx, "mem://")
	if err != nil {
		return nil, nil, err
	}
	defer store.Close()
	col := &sampleCollector{c: c}
	newProc := func(string) (runner.Processor, error) { return c.NewPipeline() }
	b, err := local.New(local.Config{
		Runner:     runner.Config{Function: c.Name(), Store: store, New: newProc, Sink: col, DeadLetter: col},
		Partitions: 1, BatchSize: 100000, TickInterval: -1,
		PartitionKey: func(*core.Record) string { return "" },
	})
	if err != nil {
		return nil, nil, err
	}
	defer b.Close()
	lines, err := codec.NewLines(bytes.NewReader(events), "events.ndjson")
	if err != nil {
		return nil, nil, err
	}
	var recs []core.Record
	for {
		var rec core.Record
		if !lines.Next(&rec) {
			break
		}
		recs = append(recs, rec)
	}
	if err := lines.Err(); err != nil {
		return nil, nil, err
	}
	if err := b.Publish(ctx, recs...); err != nil {
		return nil, nil, err
	}
	if err := b.Drain(ctx); err != nil {
		return nil, nil, err
	}
	if _, err := b.Flush(ctx); err != nil {
		return nil, nil, err
	}
	if err := b.Close(); err != nil {
		return nil, nil, err
	}
	return col.outputs, col.dead, nil
}

// compareOutputs compares outputs with the lines of an expected file as sets, ignoring the
// function name and the decision ids (which depend on it: the project renames the function) and
// the output types the file has none of, and returns what differs, or "".
func compareOutputs(got []string, want []byte) string {
	norm := func(l string) (string, string, error) {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			return "", "", err
		}
		delete(v, "id")
		delete(v, "function")
		typ, _ := v["type"].(string)
		b, err := json.Marshal(v)
		return string(b), typ, err
	}
	var g, w []string
	types := map[string]bool{}
	for i, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n, typ, err := norm(l)
		if err != nil {
			return fmt.Sprintf("line %d is not JSON", i+1)
		}
		w = append(w, n)
		types[typ] = true
	}
	// An expected file of decisions only (a common golden) is compared with the decisions only.
	for _, l := range got {
		n, typ, err := norm(l)
		if err != nil {
			return "an output is not JSON: " + err.Error()
		}
		if types[typ] {
			g = append(g, n)
		}
	}
	slices.Sort(g)
	slices.Sort(w)
	if slices.Equal(g, w) {
		return ""
	}
	for i := range max(len(g), len(w)) {
		if i >= len(g) || i >= len(w) || g[i] != w[i] {
			gi, wi := "(none)", "(none)"
			if i < len(g) {
				gi = g[i]
			}
			if i < len(w) {
				wi = w[i]
			}
			return fmt.Sprintf("%d outputs, %d expected; first difference: got %s, expected %s", len(g), len(w), gi, wi)
		}
	}
	return ""
}

// simplePath matches the field paths generateSamples can write: dotted names.
var simplePath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// generateSamples writes sample events for a spec that comes without any: four keys, one event a
// second each for ten minutes from 2026-01-15T09:00:00Z, with a number in every field an aggregate
// reads, following a slow wave around a level that differs per key (so that thresholds are
// crossed by some keys and not others). It refuses specs whose events it cannot guess: other
// formats than JSON, patterns (their conditions may need any field), paths other than dotted names.
func generateSamples(f *spec.Function) ([]byte, error) {
	in := f.Input
	if in.Format != "" && in.Format != codec.FormatJSON {
		return nil, fmt.Errorf("eddy cannot make up %s events", in.Format)
	}
	if len(f.Patterns) > 0 {
		return nil, errors.New("eddy cannot make up events for its patterns")
	}
	if in.Key != "" && !simplePath.MatchString(in.Key) || in.Time != "" && !simplePath.MatchString(in.Time) {
		return nil, fmt.Errorf("eddy cannot make up events keyed by %q with time %q", in.Key, in.Time)
	}
	var fields []string
	for _, a := range f.Aggregates {
		if a.Field == "" || slices.Contains(fields, a.Field) || a.Field == in.Key || a.Field == in.Time {
			continue
		}
		if !simplePath.MatchString(a.Field) {
			return nil, fmt.Errorf("eddy cannot make up the field %q", a.Field)
		}
		fields = append(fields, a.Field)
	}
	if len(fields) == 0 && len(f.Aggregates) == 0 {
		return nil, errors.New("eddy cannot tell which fields the function reads")
	}
	prefix := "key"
	if in.Key != "" {
		prefix = in.Key[strings.LastIndexByte(in.Key, '.')+1:]
	}
	start := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	for s := range 600 {
		at := start.Add(time.Duration(s) * time.Second)
		for k := range 4 {
			ev := map[string]any{}
			if in.Key != "" {
				setPath(ev, in.Key, fmt.Sprintf("%s-%d", prefix, k+1))
			}
			if in.Time != "" && !in.ProcessingTime {
				setPath(ev, in.Time, timeValue(at, in.TimeFormat))
			}
			for i, fld := range fields {
				level := 55 + 10*float64(k) + 5*float64(i)
				v := level + 25*math.Sin(2*math.Pi*float64(s+60*k)/300)
				setPath(ev, fld, math.Round(v*10)/10)
			}
			line, err := json.Marshal(ev)
			if err != nil {
				return nil, err
			}
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes(), nil
}

func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func timeValue(t time.Time, format string) any {
	switch format {
	case "unix":
		return t.Unix()
	case "unix_us":
		return t.UnixMicro()
	case "unix_ns":
		return t.UnixNano()
	case "rfc3339":
		return t.Format(time.RFC3339Nano)
	}
	return t.UnixMilli() // unix_ms, and auto reads numbers of this magnitude as milliseconds
}

// fromFiles are the project files --from replaces or adds: the spec, the sample events and the
// outputs they give.
func (s *fromSource) files(d templates.Data) []templates.File {
	fs := []templates.File{
		{Path: "eddy.yaml", Data: s.spec, Mode: 0o644},
		{Path: "testdata/events.ndjson", Data: s.events, Mode: 0o644},
	}
	if d.Golden {
		fs = append(fs, templates.File{Path: "testdata/expected.ndjson", Data: []byte(strings.Join(s.outputs, "\n") + "\n"), Mode: 0o644})
	}
	return fs
}

// sampleEvents picks the events of the sample trigger payloads: the first dozen the function
// does not dead-letter, and their keys as the spec reads them.
func (s *fromSource) sampleEvents() ([][]byte, []string, error) {
	var evs [][]byte
	line := 0
	for l := range bytes.SplitSeq(s.events, []byte("\n")) {
		line++
		l = bytes.TrimRight(l, "\r")
		if len(bytes.TrimSpace(l)) == 0 || slices.Contains(s.dead, fmt.Sprintf("events.ndjson:%d", line)) {
			continue
		}
		if evs = append(evs, l); len(evs) == 12 {
			break
		}
	}
	keyPath := s.fn.Input.Key
	if strings.HasPrefix(keyPath, "$") {
		keyPath = ""
	}
	keys, err := eventKeys(evs, keyPath, "")
	if err != nil {
		return nil, nil, err
	}
	return evs, keys, nil
}
