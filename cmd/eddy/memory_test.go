package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
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

// A replay's peak memory does not grow with its input: the eddy binary (built without the race
// detector, as users run it) replays W1 over 2 k, 1 M and 2 M events, each in a process of its own
// with the events on stdin, and its peak resident memory (the kernel's maxrss) is at most 20 MB
// above the small run's, and within a few megabytes from 1 M to 2 M events. (The heap grows up to
// its budget, 16 MB above the start, in the first 700 k or so W1 events, and no further.) Each size
// runs twice and keeps its smaller peak: part of the peak is the binary's own pages, which the page
// cache holds in folios of varying size (a few megabytes either way from one run to the next), and
// that is not memory the replay grows.
func TestReplayPeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 2 M events")
	}
	peak := map[int]int{}
	for _, n := range []int{2_000, 1_000_000, 2_000_000, 2_000, 1_000_000, 2_000_000} {
		cmd := exec.Command(eddyBin, "replay", "--spec", "../../examples/bench/w1.yaml", "--input", "-", "--output", os.DevNull, "--progress", "never")
		pr, pw := io.Pipe()
		cmd.Stdin = pr
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		go func() { pw.CloseWithError(w1Stream(pw, n)) }()
		err := cmd.Run()
		pr.Close()
		if err != nil {
			t.Fatalf("%d events: %v\n%s", n, err, errOut.String())
		}
		if !strings.Contains(errOut.String(), fmt.Sprintf("%d events", n)) {
			t.Fatalf("%d events: summary %q", n, errOut.String())
		}
		// The binary reports its own VmHWM: the kernel's maxrss of a child carries over the
		// (large, race-instrumented) test process's from before the exec.
		var mb float64
		i := strings.Index(errOut.String(), "peak resident memory: ")
		if i < 0 {
			t.Fatalf("%d events: no peak memory in the summary %q", n, errOut.String())
		}
		if _, err := fmt.Sscanf(errOut.String()[i:], "peak resident memory: %f MB", &mb); err != nil {
			t.Fatalf("%d events: %v in %q", n, err, errOut.String()[i:])
		}
		kb := int(mb * 1000)
		if p, ok := peak[n]; !ok || kb < p {
			peak[n] = kb
		}
		t.Logf("%d W1 events: peak resident memory %d kB (the binary's own VmHWM)", n, kb)
	}
	for _, n := range []int{1_000_000, 2_000_000} {
		if d := peak[n] - peak[2_000]; d > 20<<10 {
			t.Errorf("%d events: peak resident memory %d kB, %d kB above a 2 k-event replay's; want at most 20 MB", n, peak[n], d)
		}
	}
	if d := peak[2_000_000] - peak[1_000_000]; d > 4<<10 {
		t.Errorf("peak memory grew by %d KB from 1 M to 2 M events", d)
	}
}
