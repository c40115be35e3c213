package runner

import (
	"context"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
)

// Observer receives one Observation per Run or Tick of a partition, after it finished (successfully
// or not), from the goroutine that called Run or Tick. Metrics exporters implement it. It must be
// cheap and must not block: it runs on the batch's path. It must not keep o after returning.
type Observer interface {
	Observe(ctx context.Context, o *Observation)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(ctx context.Context, o *Observation)

// Observe implements Observer.
func (f ObserverFunc) Observe(ctx context.Context, o *Observation) { f(ctx, o) }

// Observation is what one Run (a batch) or one Tick of one partition did, as a metrics exporter
// needs it. Times come from the batch's processing time (Batch.Now or the tick's now), so that
// figures computed from a replay are deterministic.
type Observation struct {
	Function  string
	Partition string
	// Tick is set for a Tick (no records); otherwise the observation is of a Run.
	Tick bool
	// Now is the batch's processing time.
	Now time.Time
	// Result is what Run or Tick returned (zero on error: the batch will come again).
	Result core.Result
	// Err is the error Run or Tick returned.
	Err error
	// Newest is the latest transport time (core.Record.Time) among the batch's records; zero when
	// the transport gave none. Now − Newest is the iterator age: how far behind the head of the
	// stream the function reads.
	Newest time.Time
	// Attempts counts the loads of the partition's state: 1, plus one per lost race.
	Attempts int
	// StoreCalls counts the Store calls made (each Get and each Put is one round trip to the backend
	// unless the value is split over chunks).
	StoreCalls int
	// LoadLatency is the total time spent in Store.Get.
	LoadLatency time.Duration
	// Commits counts the Store.Put calls (0 when nothing was written: a batch of records all
	// applied before, a tick that changed nothing; more than 1 after lost races).
	Commits int
	// CommitLatency is the time of the last Store.Put, the one that committed or failed.
	CommitLatency time.Duration
	// Committed is set when a conditional write of the state won.
	Committed bool
	// StateBytes is the size of the partition's stored state as last read or written.
	StateBytes int
}

// Lag returns Now minus the watermark after the batch: how far event time trails processing time.
// ok is false when the partition has no watermark yet (or the batch failed).
func (o *Observation) Lag() (lag time.Duration, ok bool) {
	if o.Result.Watermark.IsZero() {
		return 0, false
	}
	return o.Now.Sub(o.Result.Watermark), true
}

// IteratorAge returns Now minus the newest record's transport time; ok is false when no record
// carried one.
func (o *Observation) IteratorAge() (age time.Duration, ok bool) {
	if o.Newest.IsZero() {
		return 0, false
	}
	return o.Now.Sub(o.Newest), true
}

type probeKey struct{}

// probeFrom returns the Observation being filled for the current Run or Tick, or nil when no
// Observer is configured: the Runner's own code then does no extra work but this lookup.
func probeFrom(ctx context.Context) *Observation {
	o, _ := ctx.Value(probeKey{}).(*Observation)
	return o
}

// start returns the time to measure a store call from (zero when not observing).
func (o *Observation) start() time.Time {
	if o == nil {
		return time.Time{}
	}
	return time.Now()
}

// loaded records a Store.Get that began at t0 and found size bytes.
func (o *Observation) loaded(t0 time.Time, size int) {
	if o == nil {
		return
	}
	o.Attempts++
	o.StoreCalls++
	o.LoadLatency += time.Since(t0)
	o.StateBytes = size
}

// committed records a Store.Put of size bytes that began at t0.
func (o *Observation) committed(t0 time.Time, size int, err error) {
	if o == nil {
		return
	}
	o.StoreCalls++
	o.Commits++
	o.CommitLatency = time.Since(t0)
	if err == nil {
		o.Committed = true
		o.StateBytes = size
	}
}

// observations recycles Observations: an Observer does not keep one after Observe returns.
var observations = sync.Pool{New: func() any { return new(Observation) }}

// recycle clears o, so that the pool holds on to no batch's outputs, and returns it to the pool.
func recycle(o *Observation) {
	*o = Observation{}
	observations.Put(o)
}

// observeRun runs the batch with an Observation in ctx and hands it to the Observer.
func (r *Runner) observeRun(ctx context.Context, b core.Batch) (core.Result, error) {
	o := observations.Get().(*Observation)
	defer recycle(o)
	*o = Observation{Function: r.cfg.Function, Partition: b.Partition, Now: b.Now}
	for i := range b.Records {
		if t := b.Records[i].Time; t.After(o.Newest) {
			o.Newest = t
		}
	}
	res, err := r.runBatch(context.WithValue(ctx, probeKey{}, o), b)
	o.Result, o.Err = res, err
	r.cfg.Observer.Observe(ctx, o)
	return res, err
}

// observeTick ticks the partition with an Observation in ctx and hands it to the Observer.
func (r *Runner) observeTick(ctx context.Context, partition string, now time.Time) (core.Result, error) {
	o := observations.Get().(*Observation)
	defer recycle(o)
	*o = Observation{Function: r.cfg.Function, Partition: partition, Now: now, Tick: true}
	res, err := r.tickPartition(context.WithValue(ctx, probeKey{}, o), partition, now)
	o.Result, o.Err = res, err
	r.cfg.Observer.Observe(ctx, o)
	return res, err
}
