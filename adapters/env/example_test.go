package env_test

import (
	"context"
	"fmt"

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink/memsink"
)

// Every adapter's Start reads the same variables; here they come from a map instead of the
// environment.
func ExampleRead() {
	vars := map[string]string{"EDDY_STATE_URL": "dynamodb://eddy-state?partition_key=id", "EDDY_IDLE_TTL": "168h"}
	cfg, err := env.Read(func(k string) string { return vars[k] })
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.StateURL, cfg.IdleTTL, cfg.OutputURL == "")
	// Output: dynamodb://eddy-state?partition_key=id 168h0m0s true
}

// Open gives a function its store and sinks; the runner built on them sends dead letters as the
// wire contract's envelope.
func ExampleOpen() {
	ctx := context.Background()
	fn, err := env.ParseSpec("eddy.yaml", []byte("name: press\ninput: {key: machine, time: ts}\nwindow: {tumbling: 10s}\naggregates: [{name: n, count: true}]\n"))
	if err != nil {
		panic(err)
	}
	o, err := env.Open(ctx, env.Config{StateURL: "mem://", DeadLetterURL: "mem://example-dead"}, fn)
	if err != nil {
		panic(err)
	}
	defer o.Close(ctx)
	r, err := o.NewRunner()
	if err != nil {
		panic(err)
	}
	if _, err := r.Run(ctx, core.Batch{Partition: "0", Records: []core.Record{{ID: "r1", Offset: "1", Data: []byte("oops")}}}); err != nil {
		panic(err)
	}
	m := memsink.Named("example-dead").Messages()[0]
	fmt.Println(o.Config.OutputURL, m.Metadata["eddy_type"], m.Metadata["eddy_function"], m.Metadata["eddy_record"])
	// Output: log: deadletter press r1
}
