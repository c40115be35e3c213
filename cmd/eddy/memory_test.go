package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/examples/bench"
)

// w1Stream writes n W1 events as JSON lines, made 10,000 at a time so that the writer holds
// little.
func w1Stream(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	for done := 0; done < n; done += 10_000 {
		for _, e := range bench.Generate(uint64(done+1), min(10_000, n-done), 1000) {
			e.TS += int64(done)
			line = append(e.AppendJSON(line[:0]), '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// TestReplayPeakMemoryChild is the child of TestReplayPeakMemory: it replays EDDY_TEST_RSS_EVENTS
// W1 events as `eddy replay` does and prints its peak resident memory.
func TestReplayPeakMemoryChild(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("EDDY_TEST_RSS_EVENTS"))
	if err != nil {
		t.Skip("run by TestReplayPeakMemory")
	}
	fmt.Printf("start %d kB\n", procStatus(t, "VmRSS"))
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(w1Stream(pw, n)) }()
	var out, errOut bytes.Buffer
	e := &env{stdin: pr, stdout: &out, stderr: &errOut}
	if err := replay(context.Background(), e, replayOpts{spec: "../../examples/bench/w1.yaml", input: "-", output: os.DevNull, progress: "never"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), fmt.Sprintf("%d events", n)) {
		t.Fatalf("summary %q", errOut.String())
	}
	fmt.Printf("peak %d kB\n", procStatus(t, "VmHWM"))
}

// procStatus reads a figure in kB from /proc/self/status.
func procStatus(t *testing.T, field string) int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.Atoi(strings.Fields(rest)[0])
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// A replay's peak memory does not grow with its input: W1 over 200 k and 2 M events, each in a
// process of its own, peaks at most 20 MB above the process's resident memory before the replay
// (the eddy binary starts at about 28 MB: 48 MB in all, as /usr/bin/time -v shows for `eddy
// replay`; this test binary starts larger), and within a few megabytes of each other.
func TestReplayPeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 2 M events")
	}
	peak := map[int]int{}
	for _, n := range []int{200_000, 2_000_000} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestReplayPeakMemoryChild$", "-test.v")
		cmd.Env = append(os.Environ(), "EDDY_TEST_RSS_EVENTS="+strconv.Itoa(n))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%d events: %v\n%s", n, err, out)
		}
		var start, kb int
		for l := range strings.SplitSeq(string(out), "\n") {
			if rest, ok := strings.CutPrefix(l, "peak "); ok {
				kb, _ = strconv.Atoi(strings.Fields(rest)[0])
			}
			if rest, ok := strings.CutPrefix(l, "start "); ok {
				start, _ = strconv.Atoi(strings.Fields(rest)[0])
			}
		}
		if kb == 0 || start == 0 {
			t.Fatalf("%d events: no figures in\n%s", n, out)
		}
		t.Logf("%d W1 events: peak resident memory %d kB, %d kB before the replay", n, kb, start)
		if kb-start > 20<<10 {
			t.Errorf("%d events: peak resident memory %d kB, %d kB above the start; want at most 20 MB", n, kb, kb-start)
		}
		peak[n] = kb
	}
	if d := peak[2_000_000] - peak[200_000]; d > 4<<10 {
		t.Errorf("peak memory grew by %d KB from 200 k to 2 M events", d)
	}
}
