//go:build unix

package runner_test

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type crashLine struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// readOutputs returns the outputs by id, failing on two different outputs with one id.
func readOutputs(t *testing.T, path string) (map[string]crashLine, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byID := map[string]crashLine{}
	total := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l crashLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("output line %d %q: %v", total+1, sc.Text(), err)
		}
		total++
		if prev, ok := byID[l.ID]; ok && prev != l {
			t.Fatalf("output id %s written as %+v and as %+v", l.ID, prev, l)
		}
		byID[l.ID] = l
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return byID, total
}

// TestCrashAnywhere SIGKILLs a process running a Runner on the file store at 25 random points,
// restarts it each time, and checks that the final state and the deduplicated outputs equal those
// of an uninterrupted run.
func TestCrashAnywhere(t *testing.T) {
	dir := t.TempDir()
	bin := buildCrashproc(t, dir)
	const n, keys = 10000, 40
	args := func(state, out string) []string {
		return []string{"-state", state, "-out", out, "-n", strconv.Itoa(n), "-keys", strconv.Itoa(keys), "-batch", "25"}
	}
	dump := func(state string) map[string]any {
		out, err := exec.Command(bin, "-state", state, "-dump").Output()
		if err != nil {
			t.Fatalf("dump %s: %v", state, err)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	// The reference: one uninterrupted run.
	refState, refOut := filepath.Join(dir, "ref-state"), filepath.Join(dir, "ref.jsonl")
	if out, err := exec.Command(bin, args(refState, refOut)...).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	ref, refTotal := readOutputs(t, refOut)
	if len(ref) != n || refTotal != n {
		t.Fatalf("reference run wrote %d lines, %d ids; want %d", refTotal, len(ref), n)
	}

	// The crashing runs.
	st, outPath := filepath.Join(dir, "state"), filepath.Join(dir, "out.jsonl")
	kills := crashRepeatedly(t, bin, args(st, outPath), 2, 40)
	got, total := readOutputs(t, outPath)
	if len(got) != len(ref) {
		t.Fatalf("%d distinct output ids after %d kills, want %d", len(got), kills, len(ref))
	}
	for id, l := range ref {
		if got[id] != l {
			t.Fatalf("output %s = %+v after crashes, want %+v", id, got[id], l)
		}
	}
	if a, b := dump(st), dump(refState); !jsonEqual(a, b) {
		t.Fatalf("final state after crashes %v, want %v", a, b)
	}
	t.Logf("%d kills; %d output lines (%d duplicates dropped by id); state identical", kills, total, total-len(got))
}

// buildCrashproc builds the crash-test subject into dir.
func buildCrashproc(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "crashproc")
	build := exec.Command("go", "build", "-o", bin, "./internal/crashproc")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build crashproc: %v\n%s", err, out)
	}
	return bin
}

// crashRepeatedly runs bin with args, SIGKILLs it after a random pause of lo to lo+spread ms, and
// starts it again, until 25 kills have landed; then it lets a last run finish. It fails the test
// when fewer than 20 kills land before a run completes on its own, and returns the kills.
func crashRepeatedly(t *testing.T, bin string, args []string, lo, spread int) int {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	kills := 0
	for attempt := 0; attempt < 300; attempt++ {
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if kills >= 25 {
			if err := <-exited; err != nil {
				t.Fatalf("final run: %v", err)
			}
			break
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("run %d failed on its own: %v", attempt, err)
			}
			attempt = 300 // finished before the next kill
		case <-time.After(time.Duration(lo+rng.IntN(spread)) * time.Millisecond):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			if err := <-exited; err != nil {
				kills++
			}
		}
	}
	if kills < 20 {
		t.Fatalf("only %d kills landed before the run finished, want at least 20", kills)
	}
	return kills
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// readLines returns the distinct lines of an output file and how many lines it had.
func readLines(t *testing.T, path string) (map[string]bool, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, total := map[string]bool{}, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		set[sc.Text()] = true
		total++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return set, total
}

// TestCrashAnywherePipeline is TestCrashAnywhere with a real function: a spec with windows,
// allowed lateness, a threshold rule, an anomaly detector and a pattern over the standard events.
// After at least 20 SIGKILLs at random points, the distinct output lines (window results, late
// events and decisions, ids included) equal those of an uninterrupted run exactly: nothing lost,
// nothing changed, only exact duplicates added; and the final state is the same bytes.
func TestCrashAnywherePipeline(t *testing.T) {
	dir := t.TempDir()
	bin := buildCrashproc(t, dir)
	args := func(state, out string) []string {
		return []string{"-pipeline", "-state", state, "-out", out, "-n", "10000", "-keys", "20", "-batch", "25"}
	}
	dump := func(state string) string {
		out, err := exec.Command(bin, "-pipeline", "-state", state, "-dump").Output()
		if err != nil {
			t.Fatalf("dump %s: %v", state, err)
		}
		return string(out)
	}
	refState, refOut := filepath.Join(dir, "ref-state"), filepath.Join(dir, "ref.jsonl")
	if out, err := exec.Command(bin, args(refState, refOut)...).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	ref, refTotal := readLines(t, refOut)
	if len(ref) != refTotal {
		t.Fatalf("the reference run repeats lines (%d lines, %d distinct): outputs must be unique", refTotal, len(ref))
	}
	decisions := 0
	for l := range ref {
		if len(l) > 20 && l[:20] == `{"type":"decision","` {
			decisions++
		}
	}
	if decisions < 50 {
		t.Fatalf("the reference run has %d decisions: too few to prove anything", decisions)
	}

	st, outPath := filepath.Join(dir, "state"), filepath.Join(dir, "out.jsonl")
	kills := crashRepeatedly(t, bin, args(st, outPath), 5, 60)
	got, total := readLines(t, outPath)
	for l := range got {
		if !ref[l] {
			t.Fatalf("after %d kills, an output the uninterrupted run never wrote:\n%s", kills, l)
		}
	}
	for l := range ref {
		if !got[l] {
			t.Fatalf("after %d kills, a lost output:\n%s", kills, l)
		}
	}
	if a, b := dump(st), dump(refState); a != b {
		t.Fatalf("final state after crashes %s, want %s", a, b)
	}
	t.Logf("%d kills; %d output lines (%d duplicates), %d distinct incl. %d decisions; state identical", kills, total, total-len(got), len(got), decisions)
}

// TestCrashAnywhereTickRace is TestCrashAnywherePipeline with a second Runner ticking the partition
// all along in the same process, racing every batch, and SIGKILLs at random points: which window
// closes are the batches' and which the ticks' depends on the races, but no output id may ever be
// written with two contents, and every record ends applied.
func TestCrashAnywhereTickRace(t *testing.T) {
	dir := t.TempDir()
	bin := buildCrashproc(t, dir)
	st, outPath := filepath.Join(dir, "state"), filepath.Join(dir, "out.jsonl")
	args := []string{"-pipeline", "-tick", "-state", st, "-out", outPath, "-n", "4000", "-keys", "20", "-batch", "25"}
	kills := crashRepeatedly(t, bin, args, 5, 60)
	lines, total := readLines(t, outPath)
	byID := map[string]string{}
	late, windows := 0, 0
	for l := range lines {
		id := outputID(t, l)
		if prev, ok := byID[id]; ok {
			t.Fatalf("after %d kills, output %s written as\n%s\nand as\n%s", kills, id, prev, l)
		}
		byID[id] = l
		switch {
		case strings.HasPrefix(id, "late/"):
			late++
		case strings.HasPrefix(id, "window/"):
			windows++
		}
	}
	if late == 0 || windows == 0 {
		t.Fatalf("%d late events and %d windows: the ticks never raced the batches", late, windows)
	}
	out, err := exec.Command(bin, "-pipeline", "-state", st, "-dump").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"offset":"4000"`) {
		t.Fatalf("final state %s, want offset 4000", out)
	}
	t.Logf("%d kills; %d lines, %d distinct ids (%d windows, %d late), none with two contents", kills, total, len(byID), windows, late)
}
