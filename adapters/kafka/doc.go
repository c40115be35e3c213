// Package kafka runs an eddy function on Apache Kafka (and Kafka-compatible brokers: Redpanda,
// Amazon MSK, Confluent, Event Hubs' Kafka endpoint) as a long-lived consumer-group worker, for
// containers and VMs. Start as many workers with one group as the topic has partitions to spread,
// and Kafka balances the partitions over them (cooperative-sticky); kill one and its partitions
// move to the others.
//
// Each partition's fetched records are one batch for the function's runner: the runner loads the
// partition's state (from any core/state store, keyed by function and "TOPIC-PARTITION"), skips the
// offsets its state says were applied, processes, emits, and commits the state with the new offset;
// then the worker commits the offset to Kafka. A worker that takes a partition over re-reads from
// Kafka's committed offset and skips what the state already holds, so every record is applied once
// and every output has one content, under an id consumers drop repeats by. The store's conditional
// writes fence a member that lost its partitions without noticing.
//
// Start(fn) is the entry point, configured like the other adapters by EDDY_* variables
// (EDDY_SOURCE_URL=kafka://BROKER1,BROKER2/TOPIC?group=G, EDDY_STATE_URL, EDDY_OUTPUT_URL,
// EDDY_DEADLETTER_URL, EDDY_VIEW_STORE); `eddy run --from kafka://...` runs a spec the same way. Outputs and dead
// letters go anywhere the sink URL mux opens, including kafka:// topics (package kafkasink).
package kafka
