// Package azure runs eddy functions on Azure Event Hubs, in two deployment shapes over one core
// path (events → core.Batch of one partition → runner.Run):
//
//   - An Azure Functions custom handler (Handler, Serve): an HTTP server on
//     FUNCTIONS_CUSTOMHANDLER_PORT answering the host's POST /{FunctionName} for an
//     eventHubTrigger with cardinality "many". The host advances its checkpoint even when an
//     invocation fails, so nothing may be lost on failure: records that fail are written to a
//     dead-letter output before the reply, and so is a whole batch that cannot be processed on
//     the host's last attempt; the generated function.json (FunctionJSON) sets a retry policy so
//     that a passing infrastructure fault is retried first.
//   - A container consumer (Consumer) on azeventhubs/v2: a Processor with the blob checkpoint
//     store balances partitions across replicas; each partition's events go through the runner,
//     and the checkpoint is updated only after the state commit. Losing a partition to another
//     replica ends its loop cleanly; the new owner resumes from the checkpoint and the runner
//     skips what was already applied.
//
// The partition is the Event Hubs partition id and the offset is the sequence number. The state
// lives wherever the runner's store says (Azure Blob with ETag preconditions through
// core/state/blobstate/azurestate: azblob://container). Start and Open configure all of it from
// the EDDY_* variables of package adapters/env, as on every cloud: outputs and dead letters go to
// the sinks EDDY_OUTPUT_URL and EDDY_DEADLETTER_URL name (sink.Open: eventhubs://, log:, ...),
// under one wire contract.
package azure
