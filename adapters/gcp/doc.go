// Package gcp runs an eddy function on Google Cloud: Pub/Sub messages in, decisions out.
//
// Two ways in and a clock, one Runner behind them:
//
//   - Push: a Cloud Run function (functions-framework-go) triggered by
//     google.cloud.pubsub.topic.v1.messagePublished CloudEvents, in binary or structured mode, or by
//     the raw push body that the framework converts into such an event. Register it from the init
//     of a non-main package (the deployed module's root, as Cloud Run functions require) with
//     Register. Each invocation carries one message; an error makes Pub/Sub redeliver it. Deploy it
//     with a request concurrency of 1 (the scaffold does): the framework's CloudEvent receiver
//     can leave one of two overlapping requests hanging for good (cloudevents/sdk-go#1224).
//   - Pull: Function.Pull on a gocloud.dev subscription (gcppubsubv2), in a Cloud Run service or
//     any container, for throughput: messages are gathered into rounds, grouped per partition,
//     run as one batch each, acknowledged after the state commit and nacked on failure.
//   - Tick: Pub/Sub invokes the function only when a message comes, so the windows of an
//     ordering key that went quiet would never close. RegisterTick registers an HTTP function
//     that a Cloud Scheduler job POSTs to every minute (OIDC-authenticated); it advances every
//     partition with stored state to the current time (Function.Tick, runner.TickAll), so that
//     idle timeouts close those windows, and answers a TickSummary. OpenOnce lets both entry
//     points of one process share a Function.
//
// A message becomes a core.Record (ID = message id, no offset since Pub/Sub has no order, Key =
// ordering key, Attrs = attributes, Data = the decoded data, Time = publish time) in a core.Batch
// whose partition is the ordering key, a configured attribute or the event key (see Partitioner).
// The Runner dedupes by message id, since delivery is at least once, and commits the partition's
// state with a conditional write, so concurrent invocations on one key never lose an update.
//
// A poison message (one that is not a Pub/Sub message at all, or that has no partition) is
// acknowledged, logged with its reason and published to the dead-letter topic; records the
// function cannot decode go the same way through the Runner's DeadLetter sink. Outputs and dead
// letters go to the sinks EDDY_OUTPUT_URL and EDDY_DEADLETTER_URL open (package core/sink), such
// as gcppubsub://projects/P/topics/T?ordering=true (package adapters/gcp/pubsubsink).
package gcp
