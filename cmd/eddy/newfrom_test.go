package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const fromSpec = `# yaml-language-server: $schema=schema.json
# A hot-sensor alarm.
name: hot-sensors   # the original name
description: sensors running hot
input: {format: json, key: sensor, time: ts, time_format: unix_ms}
window: {tumbling: 10s}
aggregates:
  - {name: n, count: true}
  - {name: avg_temp, avg: temp}
rules:
  - {name: hot, when: avg_temp > 80.0, clear: avg_temp < 70.0}
`

// writeFromDir writes a --from directory: the spec, a schema beside it, sample events with one
// malformed record (line 4) and, if expected is not empty, expected.ndjson.
func writeFromDir(t *testing.T, expected string) string {
	t.Helper()
	dir := t.TempDir()
	var ev strings.Builder
	for i := range 30 {
		if i == 3 {
			ev.WriteString(`{"sensor":"s-1","ts":"soon","temp":1}` + "\n")
			continue
		}
		temp := 60 + 3*i
		ev.WriteString(`{"sensor":"s-1","ts":` + itoa(1768467600000+int64(i)*1000) + `,"temp":` + itoa(int64(temp)) + "}\n")
	}
	for name, data := range map[string]string{"eddy.yaml": fromSpec, "schema.json": "{}", "events.ndjson": ev.String(), "expected.ndjson": expected} {
		if data == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// eddy new --from builds the project around the given function: the spec renamed (comments and
// all else kept, the schema modeline made absolute), the sample events byte for byte, the outputs
// the function gives them recorded, the malformed record named in the generated test, and the
// trigger samples made of the events the function decodes.
func TestNewFrom(t *testing.T) {
	src := writeFromDir(t, "")
	dir := filepath.Join(t.TempDir(), "p")
	code, _, stderr := runEnv(t, "", false, "new", "press-alarm", "--cloud", "aws", "--from", src, "--dir", dir, "--no-tidy", "--eddy-path", "../..")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	absSchema, _ := filepath.Abs(filepath.Join(src, "schema.json"))
	wantSpec := strings.Replace(strings.Replace(fromSpec, "name: hot-sensors", "name: press-alarm", 1), "$schema=schema.json", "$schema="+filepath.ToSlash(absSchema), 1)
	if got := read("eddy.yaml"); got != wantSpec {
		t.Errorf("eddy.yaml:\n%s\nwant\n%s", got, wantSpec)
	}
	events, _ := os.ReadFile(filepath.Join(src, "events.ndjson"))
	if got := read("testdata/events.ndjson"); got != string(events) {
		t.Errorf("testdata/events.ndjson differs from the given events")
	}
	// 29 readings from 09:00:00 climbing 3 °C a second: windows at :00, :10 and :20, the alarm
	// firing on the second (avg 88.5 > 80).
	exp := strings.Split(strings.TrimSpace(read("testdata/expected.ndjson")), "\n")
	windows, firing := 0, 0
	for _, l := range exp {
		windows += strings.Count(l, `"function":"press-alarm","key":"s-1","start"`)
		firing += strings.Count(l, `"rule":"hot","key":"s-1","state":"firing"`)
	}
	if windows != 3 || firing != 1 {
		t.Errorf("expected.ndjson: %d windows, %d firing decisions:\n%s", windows, firing, strings.Join(exp, "\n"))
	}
	test := read("function_test.go")
	if !strings.Contains(test, `var wantDeadLetters = []string{"events.ndjson:4"}`) || strings.Contains(test, "press-02") {
		t.Errorf("function_test.go does not expect the malformed record, or still tests the example:\n%s", test)
	}
	if readme := read("README.md"); !strings.Contains(readme, "made from `"+filepath.ToSlash(src)+"`: sensors running hot") {
		t.Errorf("README.md intro:\n%.400s", readme)
	}
	var sample struct {
		Records []struct {
			Kinesis struct {
				PartitionKey string
				Data         []byte
			}
		}
	}
	if err := json.Unmarshal([]byte(read("testdata/aws-kinesis-event.json")), &sample); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range sample.Records {
		if r.Kinesis.PartitionKey != "s-1" {
			t.Errorf("sample record keyed %q", r.Kinesis.PartitionKey)
		}
		lines = append(lines, string(r.Kinesis.Data))
	}
	all := strings.Split(string(events), "\n")
	if want := append(all[:3:3], all[4:13]...); !slices.Equal(lines, want) {
		t.Errorf("aws sample events:\n%s\nwant the first 12 but the malformed:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(stderr, "1 records dead-lettered") || strings.Contains(stderr, "warning") {
		t.Errorf("stderr: %s", stderr)
	}

	// A given expected.ndjson that does not match the function gets a warning naming the difference.
	src = writeFromDir(t, `{"type":"decision","id":"x","function":"hot-sensors","rule":"hot","key":"s-9","state":"firing"}`+"\n")
	code, _, stderr = runEnv(t, "", false, "new", "press-alarm", "--cloud", "aws", "--from", src, "--dir", filepath.Join(t.TempDir(), "q"), "--no-tidy", "--eddy-path", "../..")
	if code != 0 || !strings.Contains(stderr, "warning: "+filepath.Join(src, "expected.ndjson")+" does not match") || !strings.Contains(stderr, `"s-9"`) {
		t.Errorf("mismatched expected: exit %d: %s", code, stderr)
	}
}

// Without events.ndjson, new makes up events for the fields the aggregates read (the project's
// tests then have windows to check); with patterns it cannot, and says what to add. Directories
// without a single spec, and specs without a top-level name line, are refused with the reason.
func TestNewFromErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alarm.yaml"), []byte(fromSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "p")
	code, _, stderr := runEnv(t, "", false, "new", "made-up", "--cloud", "gcp", "--from", dir, "--dir", out, "--no-tidy", "--eddy-path", "../..")
	if code != 0 || !strings.Contains(stderr, "events made up") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ev, _ := os.ReadFile(filepath.Join(out, "testdata/events.ndjson"))
	if n := bytes.Count(ev, []byte("\n")); n != 2400 || !bytes.Contains(ev, []byte(`"sensor":"sensor-4"`)) || !bytes.Contains(ev, []byte(`"ts":1768467600000`)) {
		t.Fatalf("made-up events: %d lines\n%.300s", n, ev)
	}
	for _, c := range []struct {
		files map[string]string
		want  string
		code  int
	}{
		{map[string]string{"a.yaml": fromSpec, "b.yaml": fromSpec}, "several specs", 2},
		{map[string]string{}, "no eddy.yaml", 2},
		{map[string]string{"eddy.yaml": `{name: x, input: {format: json, processing_time: true}}`}, "no top-level `name:` line", 1},
		{map[string]string{"eddy.yaml": strings.Replace(fromSpec, "rules:", "patterns:\n  - {name: p, steps: [{name: a, where: temp > 1.0}], within: 1m}\nrules:", 1)}, "events.ndjson", 1},
		{map[string]string{"eddy.yaml": strings.Replace(fromSpec, "avg_temp > 80.0", "avg_tmp > 80.0", 1)}, "avg_tmp", 1},
	} {
		d := t.TempDir()
		for name, data := range c.files {
			if err := os.WriteFile(filepath.Join(d, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		code, _, stderr := runEnv(t, "", false, "new", "x-y", "--cloud", "aws", "--from", d, "--dir", filepath.Join(t.TempDir(), "p"), "--no-tidy", "--eddy-path", "../..")
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, want %d with %q: %s", c.files, code, c.code, c.want, stderr)
		}
	}
}

// Specs with Windows line endings and quoted names are renamed too.
func TestRenameSpec(t *testing.T) {
	for in, want := range map[string]string{
		"# c\r\nname: old\r\ninput: {}\r\n":   "# c\r\nname: new-name\r\ninput: {}\r\n",
		"name: \"old\"   # why\nwindow: {}\n": "name: new-name   # why\nwindow: {}\n",
		"input:\n  name: inner\nname: old":    "input:\n  name: inner\nname: new-name",
	} {
		got, err := renameSpec([]byte(in), "new-name")
		if err != nil || string(got) != want {
			t.Errorf("renameSpec(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// renameSpec changes only the value of the top-level name line, whatever the spec: the bytes
// before and after it stay, and the result has the new name line.
func FuzzRenameSpec(f *testing.F) {
	f.Add([]byte(fromSpec))
	f.Add([]byte("name: a\n"))
	f.Add([]byte("input: {}\nname:   old  # c\r\nwindow: {}\n"))
	f.Add([]byte("  name: nested\nname:\n"))
	f.Add([]byte("{name: flow}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := renameSpec(data, "new-name")
		if err != nil {
			if topName.Match(data) {
				t.Fatalf("refused a spec with a name line: %v", err)
			}
			return
		}
		m := topName.FindSubmatchIndex(data)
		if !bytes.Equal(out[:m[2]], data[:m[2]]) || !bytes.HasSuffix(out, data[m[3]:]) ||
			string(out[m[2]:len(out)-len(data)+m[3]]) != "new-name" {
			t.Fatalf("renameSpec(%q) = %q", data, out)
		}
		if m2 := topName.FindSubmatch(out); m2 == nil || string(m2[1]) != "new-name" {
			t.Fatalf("renameSpec(%q) = %q: no name line with the new name", data, out)
		}
	})
}

// A spec with a reference table beside it: the project gets the file, and function.go builds it
// in, so the Lambda binary reads the table it was tested with.
func TestNewFromReferenceTable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	code, _, stderr := runEnv(t, "", false, "new", "machine-alarms", "--cloud", "aws", "--from", "../../examples/iot/machines", "--dir", dir, "--no-tidy", "--eddy-path", "../..")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want, err := os.ReadFile("../../examples/iot/machines/limits.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "limits.csv")); err != nil || string(got) != string(want) {
		t.Errorf("limits.csv in the project: %v\n%s", err, got)
	}
	fn, err := os.ReadFile(filepath.Join(dir, "function.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"//go:embed limits.csv", "eddy.Options{RefLoader: reftable.FSLoader(tables, nil)}"} {
		if !strings.Contains(string(fn), s) {
			t.Errorf("function.go lacks %q", s)
		}
	}
	if exp, err := os.ReadFile(filepath.Join(dir, "testdata/expected.ndjson")); err != nil || !strings.Contains(string(exp), `"limits.model":"P-250"`) {
		t.Errorf("expected.ndjson lacks the enriched P-250 decision: %v", err)
	}
}
