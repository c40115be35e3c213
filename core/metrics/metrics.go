// Package metrics keeps the per-partition metrics of eddy functions — events in, outputs, late
// events, dead letters, watermark lag, iterator age, state bytes, store round trips and commit
// latency — from the Observations a runner.Runner hands its Observer, and serves them in the
// Prometheus text format (Handler) and as a JSON snapshot a dashboard can poll (JSONHandler).
//
// A Registry is what `eddy dev` serves on /metrics. In the clouds, exporters that speak each cloud's
// own format (adapters/aws/emf for CloudWatch) implement runner.Observer the same way.
package metrics

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// CommitBuckets are the upper bounds, in seconds, of the commit latency histogram: from a memory
// store's microseconds to a slow cloud store's seconds.
var CommitBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Registry accumulates Observations per (function, partition). It implements runner.Observer and is
// safe for concurrent use; Observe takes one short lock.
type Registry struct {
	mu    sync.Mutex
	parts map[partID]*Partition
}

type partID struct{ function, partition string }

// New returns an empty Registry.
func New() *Registry {
	return &Registry{parts: make(map[partID]*Partition)}
}

// Partition is the metrics of one partition of one function. Counters count from the Registry's
// start; gauges hold the value after the partition's last successful batch or tick. Its JSON form
// is the element of the JSON snapshot's "partitions" list.
type Partition struct {
	Function  string `json:"function"`
	Partition string `json:"partition"`

	// Batches counts successful Runs (batches of records); Ticks successful Ticks; Errors the Runs
	// and Ticks that failed (the transport delivers those batches again).
	Batches int64 `json:"batches"`
	Ticks   int64 `json:"ticks"`
	Errors  int64 `json:"errors"`
	// Records counts the records handed in by successful batches, Skipped those among them that
	// were already applied (redeliveries), Events the records decoded and processed.
	Records int64 `json:"records"`
	Skipped int64 `json:"skipped"`
	Events  int64 `json:"events"`
	// Outputs counts outputs by type ("window", "decision", "late").
	Outputs map[string]int64 `json:"outputs"`
	// Late counts events beyond the allowed lateness (they went to the late output).
	Late int64 `json:"late"`
	// DeadLetters counts records that could not be processed (the dead-letter output).
	DeadLetters int64 `json:"deadLetters"`
	// Conflicts counts lost races on the partition's state (each costs a reload and a retry).
	Conflicts int64 `json:"conflicts"`
	// StoreRoundTrips counts the state store calls (Get and Put).
	StoreRoundTrips int64 `json:"storeRoundTrips"`
	// StateBytes is the size of the partition's stored state.
	StateBytes int64 `json:"stateBytes"`
	// Watermark is the partition's watermark (absent before the first event).
	Watermark time.Time `json:"watermark,omitzero"`
	// WatermarkLagSeconds is processing time minus the watermark at the last batch or tick
	// (absent before the first event).
	WatermarkLagSeconds *float64 `json:"watermarkLagSeconds,omitempty"`
	// IteratorAgeSeconds is processing time minus the newest record's transport time at the last
	// batch (absent when the transport gives no arrival time).
	IteratorAgeSeconds *float64 `json:"iteratorAgeSeconds,omitempty"`
	// CommitLatency is the distribution of the state commits' latencies.
	CommitLatency Histogram `json:"commitLatency"`
	// Updated is the processing time of the last batch or tick observed.
	Updated time.Time `json:"updated,omitzero"`

	// The gauges as Observe keeps them; Snapshot exposes them through the pointers above, so that
	// Observe allocates nothing.
	lag, age                  float64
	hasLag, hasAge            bool
	windows, decisions, lates int64
}

// Histogram is a cumulative latency histogram in seconds, as Prometheus exposes one.
type Histogram struct {
	// Count and SumSeconds are the number and the total of the observations.
	Count      int64   `json:"count"`
	SumSeconds float64 `json:"sumSeconds"`
	// MaxSeconds and LastSeconds are the largest and the latest observation.
	MaxSeconds  float64 `json:"maxSeconds"`
	LastSeconds float64 `json:"lastSeconds"`
	// Buckets hold, for each upper bound of CommitBuckets, the observations at most that large.
	Buckets []Bucket `json:"buckets"`
}

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	LE    float64 `json:"le"`
	Count int64   `json:"count"`
}

func (h *Histogram) observe(v float64) {
	if h.Buckets == nil {
		h.Buckets = make([]Bucket, len(CommitBuckets))
		for i, le := range CommitBuckets {
			h.Buckets[i].LE = le
		}
	}
	h.Count++
	h.SumSeconds += v
	h.LastSeconds = v
	h.MaxSeconds = max(h.MaxSeconds, v)
	for i := len(h.Buckets) - 1; i >= 0 && v <= h.Buckets[i].LE; i-- {
		h.Buckets[i].Count++
	}
}

// Observe implements runner.Observer.
func (r *Registry) Observe(_ context.Context, o *runner.Observation) {
	id := partID{o.Function, o.Partition}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.parts[id]
	if p == nil {
		p = &Partition{Function: o.Function, Partition: o.Partition, Outputs: make(map[string]int64, 3)}
		r.parts[id] = p
	}
	p.StoreRoundTrips += int64(o.StoreCalls)
	if o.Attempts > 1 {
		p.Conflicts += int64(o.Attempts - 1)
	}
	if o.Commits > 0 {
		p.CommitLatency.observe(o.CommitLatency.Seconds())
	}
	p.Updated = o.Now
	if o.Err != nil {
		p.Errors++
		return
	}
	if o.Tick {
		p.Ticks++
	} else {
		p.Batches++
	}
	st := o.Result.Stats
	p.Records += int64(st.Records)
	p.Skipped += int64(st.Skipped)
	p.Events += int64(st.Events)
	p.Late += int64(st.Late)
	p.DeadLetters += int64(len(o.Result.Failures))
	for _, out := range o.Result.Outputs {
		// A type switch, not a map update per output: a batch may have thousands.
		switch out.(type) {
		case *core.WindowResult:
			p.windows++
		case *core.Decision:
			p.decisions++
		case *core.Late:
			p.lates++
		default:
			p.Outputs[out.Type()]++
		}
	}
	if o.StateBytes > 0 || o.Committed {
		p.StateBytes = int64(o.StateBytes)
	}
	if lag, ok := o.Lag(); ok {
		p.Watermark = o.Result.Watermark
		p.lag, p.hasLag = lag.Seconds(), true
	}
	if age, ok := o.IteratorAge(); ok {
		p.age, p.hasAge = age.Seconds(), true
	}
}

func ptr(f float64) *float64 { return &f }

// Snapshot returns a copy of every partition's metrics, ordered by function and partition.
func (r *Registry) Snapshot() []Partition {
	r.mu.Lock()
	out := make([]Partition, 0, len(r.parts))
	for _, p := range r.parts {
		c := *p
		c.Outputs = make(map[string]int64, len(p.Outputs)+3)
		for k, v := range p.Outputs {
			c.Outputs[k] = v
		}
		for t, n := range map[string]int64{"window": p.windows, "decision": p.decisions, "late": p.lates} {
			if n > 0 {
				c.Outputs[t] += n
			}
		}
		c.CommitLatency.Buckets = slices.Clone(p.CommitLatency.Buckets)
		if p.hasLag {
			c.WatermarkLagSeconds = ptr(p.lag)
		}
		if p.hasAge {
			c.IteratorAgeSeconds = ptr(p.age)
		}
		out = append(out, c)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Partition) int {
		if c := strings.Compare(a.Function, b.Function); c != 0 {
			return c
		}
		return strings.Compare(a.Partition, b.Partition)
	})
	return out
}

// Tee returns an Observer that hands each Observation to every non-nil observer in turn (nil when
// there is none, so that a runner.Config with no observer costs nothing).
func Tee(obs ...runner.Observer) runner.Observer {
	var live []runner.Observer
	for _, o := range obs {
		if o != nil {
			live = append(live, o)
		}
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		return live[0]
	}
	return runner.ObserverFunc(func(ctx context.Context, o *runner.Observation) {
		for _, ob := range live {
			ob.Observe(ctx, o)
		}
	})
}
