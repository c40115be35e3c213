// Package adaptertest is the conformance suite of eddy's adapters: one set of scenarios, run the
// same way through every adapter's real entry point and payload format, whose results must be
// identical to a reference run of the core pipeline, and so identical across AWS, Google Cloud,
// Azure and the local broker.
//
// # What it checks
//
// Run runs two functions (specs/threshold.yaml: tumbling windows and a threshold alarm with for:
// and hysteresis; specs/sliding.yaml: sliding windows, a spike rule and a temporal pattern) over
// generated telemetry of two partitions, in these scenarios:
//
//   - in-order: batches in event-time order;
//   - out-of-order: disorder within out_of_order, and readings late within allowed_lateness
//     (revised windows);
//   - late: readings late beyond allowed_lateness (the late output);
//   - duplicates: every batch delivered twice, and redelivered prefixes overlapping new records;
//   - poison: records that are not JSON, lack the key or the time, or carry a non-numeric value,
//     which go to the dead-letter output with their field and reason while the batch goes on;
//   - failure-redelivery: an output outage and a crash between emit and commit (Faults), after
//     which the platform delivers again from its retry point;
//   - restart: cold instances taking over between batches and after a crash, with their state
//     from the store alone, and a replay of the stream from its start;
//   - idle-tick: a partition going quiet, a tick before the idle timeout (nothing closes) and
//     one after it (its windows close).
//
// After every step the adapter's sinks must hold exactly what the reference produced so far: the
// same window results and decisions byte for byte (decision ids included), the same late events,
// the same dead letters (id, field, reason, payload). The reference gives its records the ids and
// positions the adapter does (Harness.Locate), since late outputs and dead letters carry them. A
// second, portable reference, with the scenario's own ids and partitions, checks that the results
// do not depend on the transport at all (but for the record id, partition and offset a late event
// names): the same window results, the same decisions with the same ids, on every platform. Each
// subtest logs a digest of them, which is the same for every adapter.
//
// Harnesses that implement Wire (embed a WireTap in front of the adapter's sinks, or read the
// adapter's mem:// sinks) are also compared message by message under the wire contract of
// package core/sink: every output's id, key, metadata and body, and every dead-letter envelope
// (record id, partition, offset, field, reason, original bytes), must be what the contract makes
// of the reference's. Metadata or envelope drift between adapters fails the suite.
//
// # Joining the suite
//
// A new adapter joins with one test in its own package that calls Run with a NewHarness:
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, func(t *testing.T, s adaptertest.Setup) adaptertest.Harness {
//			return newMyHarness(t, s) // fresh state store and sinks for each scenario
//		})
//	}
//
// The harness builds the adapter as a deployment does: a runner.Runner on the platform's store
// (its local stand-in in tests) with s.Function.NewProcessor as its processors and
// s.Faults.Wrap(realSink) as its sink, behind the adapter's real entry point. Then:
//
//   - Deliver turns the records into the platform's trigger payload, invokes the entry point, and
//     follows the platform's retry rules on the answer (Lambda restarts from the lowest
//     batchItemFailure and retries function errors; Pub/Sub redelivers nacked messages; the
//     Functions host re-invokes failed batches while its retry policy allows);
//   - Tick invokes the adapter's scheduled entry point;
//   - Restart drops every in-memory piece (handler, runner, store client) and builds them again
//     on the same store and sinks;
//   - Outputs and DeadLetters read back what the real sinks received, from where the platform
//     would keep it (a log stream, a topic, a container, a reply's output binding);
//   - Locate says which id and position (partition, offset) the adapter's records get.
//
// Harnesses may be slow to set up (a stand-in to start, a table to create): start shared
// stand-ins once in the test and give each harness its own table, bucket or container. Pass
// Parallel() when the harnesses are independent and mostly wait on I/O.
package adaptertest
