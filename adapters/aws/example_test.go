package aws_test

import (
	"context"
	"fmt"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/examples/bench"
)

// A handler around a runner, invoked with a Kinesis event as Lambda would. In a deployed function,
// main is `aws.Start(newProcessor)` and the state and outputs come from EDDY_* variables.
func ExampleNewHandler() {
	r, err := runner.New(runner.Config{
		Function: "w1",
		Store:    memstate.New(nil), // dynamodb://… in Lambda
		New:      func(string) (runner.Processor, error) { return bench.Build(bench.W1) },
		// Sink and DeadLetter: a *sink.Sink from sink.Open(ctx, "kinesis://decisions"), "log:"…
	})
	if err != nil {
		panic(err)
	}
	h, err := aws.NewHandler(r, nil)
	if err != nil {
		panic(err)
	}
	// lambda.Start(h) in main; here one invocation by hand.
	resp, err := h.Invoke(context.Background(), []byte(`{"Records":[
		{"eventID":"shardId-000000000000:101","kinesis":{"sequenceNumber":"101","partitionKey":"sensor-1",
		 "data":"eyJrZXkiOiJzZW5zb3ItMSIsInRzIjoxNzAwMDAwMDAwMDAwLCJ2YWx1ZSI6NDJ9"}},
		{"eventID":"shardId-000000000000:102","kinesis":{"sequenceNumber":"102","partitionKey":"sensor-1",
		 "data":"bm90IGpzb24="}}]}`))
	fmt.Println(string(resp), err)
	// Output:
	// {"batchItemFailures":[{"itemIdentifier":"102"}]} <nil>
}
