package core

import "time"

// Result is what processing one batch (or one tick) produced.
type Result struct {
	// Outputs are window results, decisions and late events in the order they were produced. Sinks
	// receive them in this order.
	Outputs []Output
	// Failures are the records that could not be processed; the rest of the batch went on.
	Failures []*Failure
	// Stats counts what happened.
	Stats Stats
	// Checkpoint is the offset of the last record applied ("" if none).
	Checkpoint string
	// Watermark is the partition's watermark after the batch.
	Watermark time.Time
}

// Stats counts a batch's events by fate.
type Stats struct {
	Records   int // records handed in
	Skipped   int // records skipped as already applied
	Events    int // events decoded and processed
	Late      int // events beyond the allowed lateness, written to the late output
	Failed    int // records that failed to decode
	Windows   int // window results emitted
	Decisions int // decisions emitted
	// RuleErrors counts rule evaluations that failed for one window (a CEL error such as a division
	// by zero or the cost limit): each is dead-lettered as a failure and the stream goes on.
	RuleErrors int
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Skipped += o.Skipped
	s.Events += o.Events
	s.Late += o.Late
	s.Failed += o.Failed
	s.Windows += o.Windows
	s.Decisions += o.Decisions
	s.RuleErrors += o.RuleErrors
}
