package window

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

var update = flag.Bool("update", false, "rewrite the golden snapshot files")

// TestSnapshotsMatchGolden pins the snapshot encoding: the snapshots taken in the middle of fixed
// streams must equal, byte for byte, the ones earlier releases wrote (testdata, written before
// partials became rows), so state stored by an older eddy restores. Rewrite the files with -update
// only for a deliberate format change, with a new snapshot version.
func TestSnapshotsMatchGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		spec Spec
		tm   Time
	}{
		{"tumbling", Spec{Kind: Tumbling, Size: 5 * time.Second}, Time{OutOfOrder: time.Second}},
		{"sliding", Spec{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second}, Time{OutOfOrder: time.Second}},
		{"sliding-late", Spec{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second}, Time{OutOfOrder: time.Second, AllowedLateness: 3 * time.Second}},
		{"session", Spec{Kind: Session, Gap: 3 * time.Second}, Time{OutOfOrder: time.Second, AllowedLateness: 3 * time.Second}},
		{"count", Spec{Kind: Count, Count: 6, CountSlide: 2}, Time{OutOfOrder: time.Second}},
		{"global", Spec{Kind: Global}, Time{OutOfOrder: time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 7))
			evs := genStream(r, 400, 4, 2500, 20000)
			_, _, snaps := runEngine(t, c.spec, c.tm, evs, []int{100, 200, 300})
			var got strings.Builder
			for _, s := range snaps {
				fmt.Fprintf(&got, "%s\n", hex.EncodeToString(s))
			}
			path := filepath.Join("testdata", "snapshot-"+c.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Fatalf("snapshots differ from %s:\n got %.200s\nwant %.200s", path, got.String(), want)
			}
			// Same bytes as the predecessor's, so a restore of them is a restore of this release's
			// own snapshots, which TestSplitsAreByteIdentical proves continue the stream exactly.
			for i, line := range strings.Fields(string(want)) {
				b, _ := hex.DecodeString(line)
				if err := newTestOperator(t, c.spec, c.tm).Restore(b); err != nil {
					t.Fatalf("snapshot %d: %v", i, err)
				}
			}
		})
	}
}

// newTestOperator returns an operator computing testSpecs, laid out as runEngine lays them out.
func newTestOperator(t testing.TB, spec Spec, tm Time) *Operator {
	t.Helper()
	var table core.FieldTable
	plan, err := aggregate.Compile(testSpecs, &table)
	if err != nil {
		t.Fatal(err)
	}
	op, err := New("f", spec, tm, plan)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// FuzzRestore feeds Restore snapshots that are corrupt, truncated or made up, starting from the
// golden ones: it must return an error or a state that encodes and flushes without a panic.
func FuzzRestore(f *testing.F) {
	specs := map[string]struct {
		spec Spec
		tm   Time
	}{
		"sliding":      {Spec{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second}, Time{OutOfOrder: time.Second}},
		"sliding-late": {Spec{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second}, Time{OutOfOrder: time.Second, AllowedLateness: 3 * time.Second}},
		"session":      {Spec{Kind: Session, Gap: 3 * time.Second}, Time{OutOfOrder: time.Second, AllowedLateness: 3 * time.Second}},
		"count":        {Spec{Kind: Count, Count: 6, CountSlide: 2}, Time{OutOfOrder: time.Second}},
	}
	names := []string{"sliding", "sliding-late", "session", "count"}
	for i, name := range names {
		b, err := os.ReadFile(filepath.Join("testdata", "snapshot-"+name+".golden"))
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Fields(string(b)) {
			snap, _ := hex.DecodeString(line)
			f.Add(uint8(i), snap)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, snap []byte) {
		c := specs[names[int(kind)%len(names)]]
		op := newTestOperator(t, c.spec, c.tm)
		if err := op.Restore(snap); err != nil {
			return
		}
		op.AppendBinary(nil)
		// A snapshot the size of the seeds holds a few hundred windows; a corrupt one that
		// Restore let through once sent Flush through billions (testdata/fuzz/FuzzRestore).
		n := 0
		op.Flush(func(*core.WindowResult) {
			if n++; n > 1<<20 {
				t.Fatalf("Flush of a %d-byte snapshot emitted over %d windows", len(snap), 1<<20)
			}
		})
	})
}

// TestRestoreRefusesOverflowingSlices: a snapshot whose slice index times the slice length
// overflows (found by FuzzRestore) is refused; it used to pass and make Flush run for minutes.
func TestRestoreRefusesOverflowingSlices(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzRestore", "slice-index-overflow"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 4)
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[2], "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	op := newTestOperator(t, Spec{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second}, Time{OutOfOrder: time.Second})
	if err := op.Restore([]byte(s)); err == nil || !errors.Is(err, errSnapshot) {
		t.Fatalf("Restore of a snapshot with slice index 17090345096 (x 2 s overflows): %v, want errSnapshot", err)
	}
	// The state of a flushed operator (watermark at the end of time) is no corruption.
	for _, spec := range []Spec{{Kind: Sliding, Size: 10 * time.Second, Slide: 2 * time.Second}, {Kind: Session, Gap: 3 * time.Second}, {Kind: Count, Count: 6, CountSlide: 2}} {
		op := newTestOperator(t, spec, Time{OutOfOrder: time.Second, AllowedLateness: time.Second})
		op.Flush(func(*core.WindowResult) {})
		if err := newTestOperator(t, spec, Time{OutOfOrder: time.Second, AllowedLateness: time.Second}).Restore(op.AppendBinary(nil)); err != nil {
			t.Fatalf("%v: the snapshot of a flushed operator: %v", spec.Kind, err)
		}
	}
}
