// Package aws runs eddy functions on AWS Lambda behind a Kinesis event source mapping.
//
// The adapter is thin: a Kinesis batch becomes a core.Batch of its shard (Batch), a
// *runner.Runner applies it to the function's state exactly once, and the result becomes Lambda's
// response (ItemFailures). A deployed function's main is one line:
//
//	func main() { aws.Start(newProcessor) }
//
// configured by environment variables: EDDY_STATE_URL (e.g.
// "dynamodb://eddy-state?partition_key=id"), EDDY_OUTPUT_URL and EDDY_DEADLETTER_URL ("log:",
// "kinesis://STREAM", "awssns:///ARN", "awssqs://…"), EDDY_WINDOW_STATE=lambda, EDDY_IDLE_TTL.
// Build it as Lambda runs it, and deploy on provided.al2023 with the handler "bootstrap":
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -o bootstrap ./cmd/fn && zip fn.zip bootstrap
//
// Event source mapping settings that matter: FunctionResponseTypes ["ReportBatchItemFailures"]
// (so poison records do not fail the whole batch), finite MaximumRetryAttempts and
// MaximumRecordAgeInSeconds (so an outage does not block a shard for the stream's retention), and
// ParallelizationFactor 1 (the state is per shard, and KPL aggregation rules out more anyway).
//
// Delivery: Lambda redelivers from the lowest sequence number a response reports, and the whole
// batch on a function error. The runner stores the last applied sequence number with the state,
// so a redelivered record is skipped, and emits before it commits, so a crash repeats an output
// (with the same id) rather than losing it. Poison records (that fail to decode) are written to
// the dead-letter output with the reason and reported in batchItemFailures; Lambda's retry from
// them finds them applied and moves on.
//
// KPL: records aggregated by the Kinesis Producer Library are split (Deaggregate); each user
// record gets the id "SEQUENCE:N" and shares its aggregate's sequence number as offset, because
// Lambda can only redeliver, and report, the aggregate as a whole.
//
// State: in a store (DynamoDB through core/state/docstate: dynamodb://TABLE, or S3 through
// core/state/blobstate/s3state: s3://BUCKET), or, for a tumbling window of at most
// 900 s, in Lambda's own tumbling-window state (NewWindowRunner, Options.LambdaWindowState,
// EDDY_WINDOW_STATE=lambda), which needs no store at all: the state travels in the invocation and
// the window's final invocation closes every window. Lambda starts every window with empty state,
// so nothing carries over from one window to the next (a rule firing in one window is not firing
// in the next); take the event time from the arrival time ("$time") with the window of
// TumblingWindowInSeconds, so the function's windows are Lambda's. When Lambda ends a window early
// (isWindowTerminatedEarly, state over 1 MB; eddy's state budget stays under it) the windows so far
// are emitted, their decisions under ids naming the cut (SegmentDecisionID), and the rest of the
// window is emitted at its end under the usual ids: an id never stands for two contents.
//
// Sparse streams: an EventBridge schedule invoking the same function (any "Scheduled Event"
// payload) ticks every shard with stored state, closing the windows of shards that went quiet.
//
// The Lambda binary links only AWS SDKs: a test checks `go version -m bootstrap` for GCP and Azure
// modules.
package aws
