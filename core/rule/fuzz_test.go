package rule

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// Garbage CEL gives errors, never panics; what compiles evaluates within the cost limit.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"avg > 80.0 && count >= 10",
		"!first && avg > 2.0 * prev.avg",
		`top.exists(i, i.value == "a")`,
		`window.end - window.start > duration("1m") && key.startsWith("sensor")`,
		"avg >", "((((", "avg + 1.0", `"\xff"`, "[1,2,3].map(x, [x, x].map(y, y * x)).size() > 0",
		"has(prev.avg) ? prev.avg < avg : false", "attrs.zone == 'eu'", "1/0 == 1", "math.greatest(avg, 1.0) > 2.0",
	} {
		f.Add(s)
	}
	aggs := []Aggregate{{Name: "avg"}, {Name: "count"}, {Name: "top", List: true}}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Compile(Config{Aggregates: aggs, CostLimit: 10_000,
			Thresholds: []Threshold{{Name: "fuzz", Condition: src, Clear: src}}})
		if err != nil {
			return
		}
		e := s.NewEngine()
		for i := range 3 {
			r := win("k", i, time.Minute, 0, "avg", float64(i)*40, "count", 12.0)
			r.Values = append(r.Values, core.NamedValue{Name: "top", IsList: true, Items: []core.Item{{Value: "a", Count: 3}}})
			_ = e.Decide(context.Background(), r, func(*core.Decision) {})
		}
	})
}

// Corrupt state from a store gives errors, never panics, and what restores keeps working.
func FuzzUnmarshalBinary(f *testing.F) {
	s := mustCompile(f, propertyConfig())
	for seed := range uint64(4) {
		e := s.NewEngine()
		for _, r := range randomStream(rand.New(rand.NewPCG(seed, 3)), 30) {
			if r != nil {
				_ = e.Decide(context.Background(), r, func(*core.Decision) {})
			}
		}
		b, _ := e.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("eRUL\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e := s.NewEngine()
		if err := e.UnmarshalBinary(b); err != nil {
			return
		}
		for _, r := range randomStream(rand.New(rand.NewPCG(1, 1)), 20) {
			if r != nil {
				_ = e.Decide(context.Background(), r, func(*core.Decision) {})
			} else {
				e.Expire(t0.Add(time.Hour), func(*core.Decision) {})
			}
		}
		if _, err := e.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}

// Corrupt crossover state gives errors, never panics; what restores encodes stably (decoding its
// encoding gives the same bytes again) and keeps working.
func FuzzUnmarshalCrossover(f *testing.F) {
	s := mustCompile(f, crossConfig())
	for seed := range uint64(4) {
		e := s.NewEngine()
		for _, r := range randomStream(rand.New(rand.NewPCG(seed, 8)), 20+int(seed)*30) {
			if r != nil {
				_ = e.Decide(context.Background(), r, func(*core.Decision) {})
			}
		}
		b, _ := e.MarshalBinary()
		f.Add(b)
	}
	// Made by hand: one key whose sma crossover is on the upper side with an empty history.
	f.Add([]byte("eRUL\x01\x01\x03\x03sma\x01\x01k\x02fn\x00\x02\x00\x00\x00\x0a\x01\x00\x02\x05\x01\x02\x00\x02\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e := s.NewEngine()
		if err := e.UnmarshalBinary(b); err != nil {
			return
		}
		b1, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		e2 := s.NewEngine()
		if err := e2.UnmarshalBinary(b1); err != nil {
			t.Fatalf("a restored state's encoding does not restore: %v", err)
		}
		if b2, _ := e2.MarshalBinary(); !bytes.Equal(b1, b2) {
			t.Fatal("a restored state's encoding is not stable")
		}
		for _, r := range randomStream(rand.New(rand.NewPCG(1, 1)), 40) {
			if r != nil {
				_ = e.Decide(context.Background(), r, func(*core.Decision) {})
			} else {
				e.Expire(t0.Add(time.Hour), func(*core.Decision) {})
			}
		}
		if _, err := e.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}
