package feed_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyhq/eddy/examples/internal/feed"
)

func TestLinesOrdersByArrivalThenByGeneration(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	as := []feed.Arrival[string]{
		{At: t0.Add(2 * time.Second), Item: "c"},
		{At: t0, Item: "a"},
		{At: t0.Add(time.Second), Item: "b1"},
		{At: t0.Add(time.Second), Item: "b2"},
		{At: t0.Add(time.Second), Item: "b3"},
	}
	if got, want := string(feed.Lines(as)), "a\nb1\nb2\nb3\nc\n"; got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	if got := feed.Lines(nil); len(got) != 0 {
		t.Errorf("Lines(nil) = %q, want nothing", got)
	}
}

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := feed.Write(path, []byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "x\n" {
		t.Errorf("file holds %q (%v), want %q", got, err, "x\n")
	}
	if err := feed.Write(filepath.Join(t.TempDir(), "missing", "events.ndjson"), nil); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

// A generator adds each event with its delivery delay; the feed comes out in arrival order.
func ExampleLines() {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var as []feed.Arrival[string]
	for i, delay := range []time.Duration{0, 7 * time.Second, 0} {
		ts := start.Add(time.Duration(i) * 5 * time.Second)
		as = append(as, feed.Arrival[string]{At: ts.Add(delay), Item: fmt.Sprintf(`{"ts":%q}`, ts.Format(time.TimeOnly))})
	}
	fmt.Print(string(feed.Lines(as)))
	// Output:
	// {"ts":"10:00:00"}
	// {"ts":"10:00:10"}
	// {"ts":"10:00:05"}
}
