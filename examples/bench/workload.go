// Package bench defines eddy's standard workloads (W1–W4 of the design) in Go: the event generator,
// the functions, and naive reference implementations that the engine must agree with exactly. The
// same functions exist as specs beside this file (w1.yaml … w4.yaml) for `eddy replay`.
package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/internal/aggregate"
	"github.com/eddyhq/eddy/internal/pattern"
	"github.com/eddyhq/eddy/internal/pipeline"
	"github.com/eddyhq/eddy/internal/window"
)

// Start is the event time of the first generated event (2023-11-14T22:13:20Z).
const Start = int64(1_700_000_000_000)

// OutOfOrder is the workloads' out-of-orderness bound: events are generated at most this far
// behind the newest one, so nothing is late.
const OutOfOrder = 2 * time.Second

// Event is one generated event.
type Event struct {
	Key   string
	TS    int64 // unix ms
	Value float64
}

// Generate makes n events for the given number of keys: event time advances 1 ms per event with up
// to 2 s of random out-of-orderness, keys are uniform, values uniform in [0, 100) in steps of 0.25
// (exact in binary, so sums do not depend on the order of addition). The same seed gives the same
// events.
func Generate(seed uint64, n, keys int) []Event {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("sensor-%04d", i)
	}
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{
			Key:   names[r.IntN(keys)],
			TS:    Start + int64(i) - r.Int64N(int64(OutOfOrder/time.Millisecond)+1),
			Value: float64(r.IntN(400)) / 4,
		}
	}
	return evs
}

// AppendJSON appends e as the standard JSON line {"key":...,"ts":...,"value":...} (no newline).
func (e Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"key":"`...)
	b = append(b, e.Key...)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, e.TS, 10)
	b = append(b, `,"value":`...)
	b = core.AppendNumber(b, e.Value)
	return append(b, '}')
}

// Records turns events into records as an adapter would deliver them, offsets counting from 1.
func Records(evs []Event) []core.Record {
	recs := make([]core.Record, len(evs))
	buf := make([]byte, 0, len(evs)*56)
	for i, e := range evs {
		start := len(buf)
		buf = e.AppendJSON(buf)
		off := strconv.Itoa(i + 1)
		recs[i] = core.Record{ID: off, Offset: off, Data: buf[start:len(buf):len(buf)]}
	}
	return recs
}

// Input is how the workloads decode events.
var Input = codec.Config{Format: "json", Key: "key", Time: "ts", TimeFormat: "unix_ms"}

var w1Aggs = []aggregate.Spec{
	{Op: aggregate.Count}, {Op: aggregate.Sum, Field: "value"}, {Op: aggregate.Avg, Field: "value"},
	{Op: aggregate.Min, Field: "value"}, {Op: aggregate.Max, Field: "value"},
}

// W1 is tumbling 60 s windows, per key count/sum/avg/min/max.
var W1 = pipeline.Config{
	Function: "w1", Window: window.Spec{Kind: window.Tumbling, Size: time.Minute},
	Time: window.Time{OutOfOrder: OutOfOrder}, Aggregates: w1Aggs,
}

// W2 is 5 min sliding windows every 1 s, per key avg (300 overlapping windows per event).
var W2 = pipeline.Config{
	Function: "w2", Window: window.Spec{Kind: window.Sliding, Size: 5 * time.Minute, Slide: time.Second},
	Time: window.Time{OutOfOrder: OutOfOrder}, Aggregates: []aggregate.Spec{{Op: aggregate.Avg, Field: "value"}},
}

// W3 is session windows with a 30 s gap, per key count.
var W3 = pipeline.Config{
	Function: "w3", Window: window.Spec{Kind: window.Session, Gap: 30 * time.Second},
	Time: window.Time{OutOfOrder: OutOfOrder}, Aggregates: []aggregate.Spec{{Op: aggregate.Count}},
}

// W4 is the pattern: per key, three consecutive events with value > 90 immediately followed by one
// with value < 10, the fourth at most 10 s after the first; matching restarts after a match.
var W4 = pattern.Config{
	Name: "w4", Function: "w4",
	Steps: []pattern.Step{
		{Name: "hot", Where: "value > 90.0", Times: 3},
		{Name: "cold", Where: "value < 10.0"},
	},
	Within:     10 * time.Second,
	Contiguity: pattern.Strict,
	Skip:       pattern.SkipPastLastEvent,
}

// W4Config is the pipeline that runs W4 (patterns only, no windows).
var W4Config = pipeline.Config{Function: "w4", Time: window.Time{OutOfOrder: OutOfOrder}}

// Build makes a pipeline for cfg (and the W4 pattern when cfg is W4Config).
func Build(cfg pipeline.Config) (*pipeline.Pipeline, error) {
	b, err := pipeline.New(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Function == "w4" {
		p, err := pattern.Compile(W4, b.Fields())
		if err != nil {
			return nil, err
		}
		b.Match(p.NewMatcher())
	}
	return b.Build(func(paths []string) (pipeline.Decoder, error) {
		in := Input
		in.Paths = paths
		return codec.New(in)
	})
}
