package rule

import (
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
