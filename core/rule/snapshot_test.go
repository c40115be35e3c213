package rule

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// propertyConfig exercises every kind of state: streaks, durations, hysteresis, keep firing,
// pending, prev values, both detectors, a crossover, a list aggregate and expiry.
func propertyConfig() Config {
	return Config{
		Aggregates: []Aggregate{{Name: "x"}, {Name: "n"}, {Name: "top", List: true}},
		Thresholds: []Threshold{
			{Name: "for3", Condition: "x > 50.0", ForWindows: 3, EmitPending: true},
			{Name: "dur", Severity: "page", Condition: "x > 40.0 && n >= 2", ForDuration: 150 * time.Second, KeepFiringFor: 2 * time.Minute, ResetOnGap: true},
			{Name: "hyst", Condition: "x > 70.0", Clear: "x < 30.0", KeepFiringForWindows: 1},
			{Name: "jump", Condition: "!first && x > prev.x + 20.0 && top.exists(i, i.count > 1)"},
		},
		Anomalies: []Anomaly{
			{Name: "z", Aggregate: "x", Method: ZScore, Window: 4, Threshold: 1.5},
			{Name: "ew", Aggregate: "x", Method: EWMA, Alpha: 0.3, Threshold: 1.2, Direction: Above},
		},
		Crossovers: []Crossover{{Name: "cross", Of: "x", Fast: 2, Slow: 4, Average: EMA}},
		IdleTTL:    8 * time.Minute,
	}
}

// randomStream is a stream of window results for a few keys in window-end order per key, with
// revisions of the latest window, stale results, gaps, missing and NaN values, and expiry ticks
// (results with a nil value).
func randomStream(rng *rand.Rand, n int) []*core.WindowResult {
	keys := []string{"a", "b", "c"}
	next := map[string]int{}
	var out []*core.WindowResult
	for len(out) < n {
		k := keys[rng.IntN(len(keys))]
		if rng.IntN(20) == 0 {
			out = append(out, nil) // an expiry tick
			continue
		}
		i := next[k]
		rev := 0
		switch p := rng.IntN(10); {
		case p < 2 && i > 0: // a revision of the latest window
			i--
			rev = 1 + rng.IntN(3)
		case p == 2 && i > 1: // a stale window
			i -= 2
		default:
			i += rng.IntN(3) / 2 // sometimes a gap
			next[k] = i + 1
		}
		x := float64(rng.IntN(100))
		r := win(k, i, time.Minute, rev, "x", x, "n", float64(rng.IntN(4)))
		switch rng.IntN(15) {
		case 0:
			r.Values = r.Values[1:]
		case 1:
			r.Values[0].Num = math.NaN()
		}
		r.Values = append(r.Values, core.NamedValue{Name: "top", IsList: true, Items: []core.Item{{Value: "v", Count: uint64(rng.IntN(3))}}})
		out = append(out, r)
	}
	return out
}

// run feeds the stream to e, snapshotting and restoring into a fresh engine at the positions in
// snaps, and returns every decision as JSON, one per line.
func run(t *testing.T, s *Set, stream []*core.WindowResult, snaps map[int]bool) string {
	t.Helper()
	var buf bytes.Buffer
	emit := func(d *core.Decision) {
		buf.Write(d.AppendJSON(nil))
		buf.WriteByte('\n')
	}
	e := s.NewEngine()
	clock := t0
	for i, r := range stream {
		if snaps[i] {
			b, err := e.AppendBinary([]byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			e = s.NewEngine()
			if err := e.UnmarshalBinary(b[len("prefix"):]); err != nil {
				t.Fatalf("restore at %d: %v", i, err)
			}
		}
		if r == nil {
			e.Expire(clock, emit)
			continue
		}
		clock = r.End
		err := e.Decide(context.Background(), r, emit)
		if err != nil && !strings.Contains(err.Error(), "no such") {
			t.Fatalf("Decide: %v", err)
		}
	}
	return buf.String()
}

// Snapshot, restore and continue gives the same decisions, byte for byte, as an uninterrupted run.
func TestSnapshotRestoreEquivalence(t *testing.T) {
	s := mustCompile(t, propertyConfig())
	decisions := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		stream := randomStream(rng, 20+rng.IntN(100))
		want := run(t, s, stream, nil)
		if again := run(t, s, stream, nil); again != want {
			t.Fatalf("seed %d: two uninterrupted runs differ", seed)
		}
		snaps := map[int]bool{}
		for range 1 + rng.IntN(5) {
			snaps[rng.IntN(len(stream))] = true
		}
		if got := run(t, s, stream, snaps); got != want {
			t.Fatalf("seed %d: with snapshots at %v:\n%s\nuninterrupted:\n%s", seed, snaps, got, want)
		}
		decisions += strings.Count(want, "\n")
	}
	// Make sure the property is not vacuous.
	if decisions < 1000 {
		t.Errorf("only %d decisions over all seeds", decisions)
	}
}

func TestSnapshotEncoding(t *testing.T) {
	s := mustCompile(t, propertyConfig())
	e := s.NewEngine()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range randomStream(rng, 200) {
		if r != nil {
			_ = e.Decide(context.Background(), r, func(*core.Decision) {})
		}
	}
	b1, _ := e.MarshalBinary()
	b2, _ := e.MarshalBinary()
	if !bytes.Equal(b1, b2) {
		t.Fatal("two snapshots of one state differ")
	}
	e2 := s.NewEngine()
	if err := e2.UnmarshalBinary(b1); err != nil {
		t.Fatal(err)
	}
	if b3, _ := e2.MarshalBinary(); !bytes.Equal(b1, b3) {
		t.Fatal("restored state encodes differently")
	}
	if e2.Len() != 3 {
		t.Errorf("restored %d keys, want 3", e2.Len())
	}
	t.Logf("snapshot of %d keys: %d bytes", e2.Len(), len(b1))

	// Every truncation is an error, never a panic, and leaves the engine as it was.
	for i := range len(b1) {
		if err := e2.UnmarshalBinary(b1[:i]); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	if b4, _ := e2.MarshalBinary(); !bytes.Equal(b1, b4) {
		t.Fatal("a failed restore changed the state")
	}
	bad := append([]byte(nil), b1...)
	bad[4] = 9
	if err := e2.UnmarshalBinary(bad); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("bad version: %v", err)
	}
}

// A snapshot restores into changed rules: removed rules' state is dropped, new rules start
// fresh, kept rules continue.
func TestSnapshotRulesChange(t *testing.T) {
	m := time.Minute
	old := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{
		{Name: "gone", Condition: "x > 1.0"}, {Name: "kept", Condition: "x > 10.0", ForWindows: 3}}})
	e := old.NewEngine()
	feed(t, e, m, series("k", "x", m, 20, 20)...)
	b, _ := e.MarshalBinary()

	cur := mustCompile(t, Config{Aggregates: []Aggregate{{Name: "x"}}, Thresholds: []Threshold{
		{Name: "new", Condition: "!first && prev.x > 10.0"}, {Name: "kept", Condition: "x > 10.0", ForWindows: 3}}})
	e = cur.NewEngine()
	if err := e.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	// kept was pending for 2 windows and fires on the third; new has no stored prev values (the
	// old rules kept none), so the key counts as having no previous window.
	eq(t, feed(t, e, m, win("k", 2, m, 0, "x", 20.0), win("k", 3, m, 0, "x", 20.0)),
		[]string{"kept firing @2/0", "new firing @3/0"})
}
