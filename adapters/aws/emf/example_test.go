package emf_test

import (
	"context"
	"os"
	"time"

	"github.com/eddyhq/eddy/adapters/aws/emf"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// An Exporter is a runner.Observer: set it as runner.Config.Observer, writing to os.Stdout in a
// Lambda function. Here it is handed one Observation directly.
func ExampleExporter() {
	exp, err := emf.New(os.Stdout, &emf.Options{NoPartitionDimension: true})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 0, 1, 10, 0, time.UTC)
	exp.Observe(context.Background(), &runner.Observation{
		Function: "alarms", Partition: "shardId-000000000001", Now: now, Attempts: 1, StoreCalls: 2,
		Result: core.Result{Watermark: now.Add(-9 * time.Second), Stats: core.Stats{Records: 6, Events: 5, Windows: 2, Late: 1}},
	})
	// Output:
	// {"_aws":{"Timestamp":1767225670000,"CloudWatchMetrics":[{"Namespace":"eddy","Dimensions":[["Function"]],"Metrics":[{"Name":"Records","Unit":"Count"},{"Name":"RecordsSkipped","Unit":"Count"},{"Name":"Events","Unit":"Count"},{"Name":"WindowResults","Unit":"Count"},{"Name":"Decisions","Unit":"Count"},{"Name":"LateEvents","Unit":"Count"},{"Name":"DeadLetters","Unit":"Count"},{"Name":"BatchErrors","Unit":"Count"},{"Name":"StateConflicts","Unit":"Count"},{"Name":"StoreRoundTrips","Unit":"Count"},{"Name":"LoadLatency","Unit":"Milliseconds"},{"Name":"WatermarkLag","Unit":"Seconds"}]}]},"Function":"alarms","Partition":"shardId-000000000001","Kind":"batch","Watermark":"2026-01-01T00:01:01.000Z","Records":6,"RecordsSkipped":0,"Events":5,"WindowResults":2,"Decisions":0,"LateEvents":1,"DeadLetters":0,"BatchErrors":0,"StateConflicts":0,"StoreRoundTrips":2,"LoadLatency":0,"WatermarkLag":9}
}
