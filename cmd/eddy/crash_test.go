//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/examples/bench"
)

// crashSpec has every kind of output: windows with revisions (allowed lateness), late events
// (the stream is up to 2 s out of order, 1 s allowed) and decisions.
const crashSpec = `name: crash
input: {key: key, time: ts, time_format: unix_ms, out_of_order: 1s}
window: {tumbling: 2s, allowed_lateness: 500ms}
aggregates:
  - {name: n, count: true}
  - {name: avg, avg: value}
rules:
  - {name: high, when: avg > 60.0, clear: avg < 45.0}
`

// crashOutputID is what names an output in eddy's contract.
func crashOutputID(t *testing.T, line string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("output line %q is not whole JSON: %v", line, err)
	}
	switch m["type"] {
	case "window":
		return fmt.Sprint("window/", m["key"], "/", m["start"], "/", m["end"], "/", m["revision"])
	case "decision":
		return fmt.Sprint("decision/", m["id"])
	case "late":
		return fmt.Sprint("late/", m["id"])
	}
	t.Fatalf("output of unknown type: %s", line)
	return ""
}

// readOutputLines returns the distinct lines of path by id, failing when one id has two contents,
// and the number of lines.
func readOutputLines(t *testing.T, path string) (map[string]string, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byID, total := map[string]string{}, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		total++
		id := crashOutputID(t, sc.Text())
		if prev, ok := byID[id]; ok && prev != sc.Text() {
			t.Fatalf("output %s written as\n%s\nand as\n%s", id, prev, sc.Text())
		}
		byID[id] = sc.Text()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return byID, total
}

// TestDevCrashAnywhere runs `eddy dev` as a user would (a file store, 4 partitions, output and
// dead-letter files) and SIGKILLs it at 20+ random points, the final flush included, restarting it
// each time with another random batch size; the deduplicated outputs must equal those of an
// uninterrupted run, no id may carry two contents, and the dead letters must be complete.
func TestDevCrashAnywhere(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "eddy.yaml")
	if err := os.WriteFile(specPath, []byte(crashSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	// 6,000 events of 30 keys, and two undecodable lines for the dead-letter output.
	var in []byte
	for i, e := range bench.Generate(11, 6000, 30) {
		in = e.AppendJSON(in)
		in = append(in, '\n')
		if i == 1000 || i == 4000 {
			in = append(in, "{not json\n"...)
		}
	}
	input := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(input, in, 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(name string, batch int) []string {
		return []string{"dev", "--spec", specPath, "--input", input, "--partitions", "4", "--batch-size", strconv.Itoa(batch),
			"--state", "file://" + filepath.Join(dir, name+"-state"), "--output", filepath.Join(dir, name+".jsonl"),
			"--dead-letter", filepath.Join(dir, name+"-dead.jsonl")}
	}
	rng := rand.New(rand.NewPCG(19, 1))

	// The reference: one uninterrupted run.
	start := time.Now()
	if out, err := exec.Command(eddyBin, args("ref", 50)...).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	took := time.Since(start)
	ref, refTotal := readOutputLines(t, filepath.Join(dir, "ref.jsonl"))
	if len(ref) != refTotal || len(ref) < 500 {
		t.Fatalf("reference run: %d lines, %d distinct: want many, all distinct", refTotal, len(ref))
	}
	refDead, _ := readLines(t, filepath.Join(dir, "ref-dead.jsonl"))
	if len(refDead) != 2 {
		t.Fatalf("reference run dead-lettered %d records, want 2", len(refDead))
	}

	// The crashing runs: kills spread over the length of a run, so some land in the final flush.
	kills, runs := 0, 0
	for kills < 22 && runs < 200 {
		runs++
		cmd := exec.Command(eddyBin, args("crash", 5+rng.IntN(150))...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d failed on its own: %v", runs, err)
			}
		case <-time.After(time.Duration(rng.Int64N(int64(took) + int64(took)/4))):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			if err := <-done; err != nil {
				kills++
			}
		}
	}
	if kills < 20 {
		t.Fatalf("only %d kills landed in %d runs", kills, runs)
	}
	// The last run, to the end.
	if out, err := exec.Command(eddyBin, args("crash", 5+rng.IntN(150))...).CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	got, total := readOutputLines(t, filepath.Join(dir, "crash.jsonl"))
	for id, l := range ref {
		if got[id] != l {
			t.Fatalf("after %d kills, output %s is\n%s\nwant\n%s", kills, id, got[id], l)
		}
	}
	for id, l := range got {
		if _, ok := ref[id]; !ok {
			t.Fatalf("after %d kills, an output the uninterrupted run never wrote:\n%s", kills, l)
		}
	}
	dead, _ := readLines(t, filepath.Join(dir, "crash-dead.jsonl"))
	if len(dead) != len(refDead) {
		t.Fatalf("after %d kills, %d distinct dead letters, want %d", kills, len(dead), len(refDead))
	}
	t.Logf("%d kills in %d runs (a run takes %s); %d output lines, %d distinct = the uninterrupted run's", kills, runs+1, took.Round(time.Millisecond), total, len(got))
}

// readLines returns the distinct lines of a file and their number.
func readLines(t *testing.T, path string) (map[string]bool, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	set, n := map[string]bool{}, 0
	sc := bufio.NewScanner(bufioReader(b))
	for sc.Scan() {
		set[sc.Text()] = true
		n++
	}
	return set, n
}

func bufioReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
