package adaptertest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// Record is one record of a scenario's logical stream, before an adapter turns it into its
// platform's payload.
type Record struct {
	// ID is unique across the scenario. Transports that carry message ids (Pub/Sub, the local
	// broker) use it as the message id; transports with sequence numbers use those as ids
	// instead (see Harness.Locate).
	ID string
	// Seq is the record's position in its partition, from 1, without gaps: the Kinesis sequence
	// number, the Event Hubs sequence number or the broker offset is derived from it. A record
	// delivered again keeps its Seq.
	Seq int64
	// Key is the transport's partition key (the event's device), as a producer would set it.
	Key string
	// Time is the arrival time the transport stamps (approximate arrival, publish or enqueued
	// time); the functions take their event time from the payload.
	Time time.Time
	// Data is the payload.
	Data []byte
}

// Delivery is what one Deliver call made the adapter do.
type Delivery struct {
	// Invocations counts the calls of the adapter's entry point, retries included.
	Invocations int
	// Failed counts the invocations the platform saw fail (a Lambda function error, an HTTP 5xx,
	// a batch the local broker retried).
	Failed int
	// Reported holds the ids (as Harness.Locate gives them) of the records the adapter reported
	// to the trigger as failed, on platforms with per-record reports (Lambda's
	// batchItemFailures). Only poison records may appear here (see also Reporter).
	Reported []string
}

// DeadLetter is one record the adapter wrote to its dead-letter output, read back from there.
type DeadLetter struct {
	// ID is the record's id as the adapter gave it (see Harness.Locate).
	ID string
	// Field names the field at fault ("" when the whole payload is).
	Field string
	// Reason says what is wrong.
	Reason string
	// Data is the record's payload as dead-lettered.
	Data []byte
}

// Harness drives one adapter through its real entry point and payload format, with its state in
// the platform's store (or its local stand-in), and reads back what its real sinks received. The
// suite calls it from one goroutine.
type Harness interface {
	// Deliver hands recs (records of one partition, in partition order) to the adapter as the
	// platform would deliver them in one batch at processing time now, and then behaves as the
	// platform does after each answer: it delivers again from the platform's retry point (the
	// lowest batchItemFailure, a nacked message, a failed invocation) until the platform would
	// move on. Records already delivered come again with their original Seq and ID. An error
	// means the harness itself could not deliver (a broken payload, a transport error), or the
	// platform would have given up: it fails the test.
	Deliver(ctx context.Context, partition string, recs []Record, now time.Time) (Delivery, error)
	// Tick invokes the adapter's scheduled entry point at processing time now, which advances
	// every partition with stored state (idle timeouts close the windows of quiet partitions).
	Tick(ctx context.Context, now time.Time) error
	// Restart drops the adapter instance (handler, runner, store client, in-memory caches) and
	// starts a cold one on the same state store and the same sinks, as when the platform
	// replaces an instance. Records delivered from then on go to the new instance.
	Restart(ctx context.Context) error
	// Outputs returns every output the adapter's sink has received so far, as the JSON text of
	// eddy's output contract, in any order, duplicates (re-emissions after a failure) included.
	Outputs(ctx context.Context) ([][]byte, error)
	// DeadLetters returns every record the adapter's dead-letter output has received so far.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
	// Locate returns the id and the position (partition, offset) the adapter's core.Record for r
	// carries: a Kinesis shard and sequence number, an Event Hubs partition and sequence number,
	// a Pub/Sub message id and ordering key. They appear in late outputs and dead letters, and
	// the suite's reference gives its records the same.
	Locate(partition string, r Record) (id string, pos core.Pos)
}

// Reporter is implemented by harnesses of platforms that report failed records to the trigger one
// by one (Lambda's batchItemFailures): the suite then also checks that every poison record is
// reported by the delivery that first applies it.
type Reporter interface {
	// ReportsFailures reports whether Delivery.Reported is complete.
	ReportsFailures() bool
}

// Setup is what the suite hands a new harness.
type Setup struct {
	// Function is the function under test; its NewProcessor is the runner's processor factory.
	Function *Function
	// Faults must sit in front of the adapter's output sink (Faults.Wrap): the suite arms it to
	// make an invocation fail, as an output or a store outage would.
	Faults *Faults
	// Partitions are the partitions the scenario delivers to (for adapters that must lay out
	// their shards, partitions or topics in advance).
	Partitions []string
}

// NewHarness makes a harness for one scenario run: a fresh adapter instance with empty state and
// empty sinks (a new table, bucket, container or topic). Fatal setup errors go to t.
type NewHarness func(t *testing.T, s Setup) Harness

// FaultMode says how an armed Faults fails an emit.
type FaultMode int

// Fault modes.
const (
	// Outage fails the emit before anything is written, as an unavailable output does: the
	// invocation fails, nothing is emitted or committed, and the platform delivers again.
	Outage FaultMode = iota + 1
	// CrashAfterEmit writes the outputs and then fails, as an instance that dies between emit
	// and commit: the retry emits the same outputs again (with the same ids), which consumers
	// drop as duplicates.
	CrashAfterEmit
)

// ErrInjected is the error an armed Faults returns.
var ErrInjected = errors.New("adaptertest: injected fault")

// Faults injects failures into an adapter's output path. It is safe for concurrent use.
type Faults struct {
	mu      sync.Mutex
	mode    FaultMode
	pending int
	fired   int
}

// Arm makes the next n emits fail in the given mode.
func (f *Faults) Arm(mode FaultMode, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.pending = mode, n
}

// Pending returns how many armed failures have not fired yet.
func (f *Faults) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending
}

// Fired returns how many failures fired so far.
func (f *Faults) Fired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// take reports whether this emit fails, and how.
func (f *Faults) take() FaultMode {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending == 0 {
		return 0
	}
	f.pending--
	f.fired++
	return f.mode
}

// Wrap returns a sink that fails as armed and otherwise passes the outputs to next (nil: a sink
// that keeps nothing, for adapters whose outputs travel in the invocation's reply).
func (f *Faults) Wrap(next runner.Sink) runner.Sink { return &faultySink{f: f, next: next} }

type faultySink struct {
	f    *Faults
	next runner.Sink
}

func (s *faultySink) Emit(ctx context.Context, outs []core.Output) error {
	mode := s.f.take()
	if mode == Outage {
		return ErrInjected
	}
	if s.next != nil {
		if err := s.next.Emit(ctx, outs); err != nil {
			return err
		}
	}
	if mode == CrashAfterEmit {
		return ErrInjected
	}
	return nil
}
