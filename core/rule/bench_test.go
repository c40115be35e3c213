package rule

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

func benchResults(keys int) []*core.WindowResult {
	rs := make([]*core.WindowResult, keys)
	for i := range rs {
		rs[i] = win(fmt.Sprintf("sensor-%04d", i), 0, time.Minute, 0, "count", 12.0, "sum", 1000.0, "avg", 83.0, "min", 10.0, "max", 99.0)
	}
	return rs
}

// BenchmarkEvalCEL is one evaluation of a typical two-clause condition over a window result.
func BenchmarkEvalCEL(b *testing.B) {
	s := mustCompile(b, Config{
		Aggregates: []Aggregate{{Name: "count"}, {Name: "sum"}, {Name: "avg"}, {Name: "min"}, {Name: "max"}},
		Thresholds: []Threshold{{Name: "hot", Condition: "avg > 80.0 && count >= 10"}},
	})
	e := s.NewEngine()
	r := benchResults(1)[0]
	cond := s.thresholds[0].fire
	b.ReportAllocs()
	for b.Loop() {
		e.act.reset(r, nil, true, nil)
		ok, err := cond.eval(&e.act, s.costLimit)
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// advance moves every result one window on.
func advance(rs []*core.WindowResult, v float64) {
	for _, r := range rs {
		r.Start, r.End = r.End, r.End.Add(time.Minute)
		r.Values[2].Num = v
	}
}

// BenchmarkDecideThreshold is one window result through an engine with a for: 3 threshold, over
// 1,000 keys.
func BenchmarkDecideThreshold(b *testing.B) {
	s := mustCompile(b, Config{
		Aggregates: []Aggregate{{Name: "count"}, {Name: "sum"}, {Name: "avg"}, {Name: "min"}, {Name: "max"}},
		Thresholds: []Threshold{{Name: "hot", Condition: "avg > 80.0 && count >= 10", ForWindows: 3}},
	})
	benchDecide(b, s)
}

// BenchmarkDecideAnomaly is one window result through a z-score (30 windows) and an EWMA detector,
// over 1,000 keys.
func BenchmarkDecideAnomaly(b *testing.B) {
	s := mustCompile(b, Config{
		Aggregates: []Aggregate{{Name: "count"}, {Name: "sum"}, {Name: "avg"}, {Name: "min"}, {Name: "max"}},
		Anomalies: []Anomaly{
			{Name: "z", Aggregate: "avg", Method: ZScore, Window: 30, Threshold: 3},
			{Name: "ew", Aggregate: "avg", Method: EWMA, Alpha: 0.1, Threshold: 4},
		},
	})
	benchDecide(b, s)
}

func benchDecide(b *testing.B, s *Set) {
	e := s.NewEngine()
	rs := benchResults(1000)
	emit := func(*core.Decision) {}
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Decide(ctx, rs[i], emit); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(rs) {
			i = 0
			advance(rs, float64(70+(i%3)*10))
		}
	}
}

// BenchmarkSnapshot encodes the state of 1,000 keys with a threshold and both detectors.
func BenchmarkSnapshot(b *testing.B) {
	s := mustCompile(b, Config{
		Aggregates: []Aggregate{{Name: "count"}, {Name: "sum"}, {Name: "avg"}, {Name: "min"}, {Name: "max"}},
		Thresholds: []Threshold{{Name: "hot", Condition: "avg > 80.0 && count >= 10", ForWindows: 3}},
		Anomalies: []Anomaly{
			{Name: "z", Aggregate: "avg", Method: ZScore, Window: 30, Threshold: 3},
			{Name: "ew", Aggregate: "avg", Method: EWMA, Alpha: 0.1, Threshold: 4},
		},
	})
	e := s.NewEngine()
	rs := benchResults(1000)
	for w := range 40 {
		for _, r := range rs {
			_ = e.Decide(context.Background(), r, func(*core.Decision) {})
		}
		advance(rs, float64(w%7))
	}
	buf, _ := e.AppendBinary(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(buf))/float64(e.Len()), "bytes/key")
}

// BenchmarkDecideCrossover is one window result through an SMA 20/50 and an EMA 12/26 crossover,
// over 1,000 keys.
func BenchmarkDecideCrossover(b *testing.B) {
	s := mustCompile(b, Config{
		Aggregates: []Aggregate{{Name: "count"}, {Name: "sum"}, {Name: "avg"}, {Name: "min"}, {Name: "max"}},
		Crossovers: []Crossover{
			{Name: "sma", Of: "avg", Fast: 20, Slow: 50},
			{Name: "ema", Of: "avg", Fast: 12, Slow: 26, Average: EMA},
		},
	})
	benchDecide(b, s)
}

// BenchmarkSnapshotCrossover encodes the state of 1,000 keys with an SMA 20/50 and an EMA 12/26
// crossover.
func BenchmarkSnapshotCrossover(b *testing.B) {
	s := mustCompile(b, Config{
		Aggregates: []Aggregate{{Name: "count"}, {Name: "sum"}, {Name: "avg"}, {Name: "min"}, {Name: "max"}},
		Crossovers: []Crossover{
			{Name: "sma", Of: "avg", Fast: 20, Slow: 50},
			{Name: "ema", Of: "avg", Fast: 12, Slow: 26, Average: EMA},
		},
	})
	e := s.NewEngine()
	rs := benchResults(1000)
	for w := range 60 {
		for _, r := range rs {
			_ = e.Decide(context.Background(), r, func(*core.Decision) {})
		}
		advance(rs, float64(w%7))
	}
	buf, _ := e.AppendBinary(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(buf))/float64(e.Len()), "bytes/key")
}
