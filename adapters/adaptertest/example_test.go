package adaptertest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
)

// A harness puts Faults in front of its adapter's sink; the suite arms it to make invocations
// fail as an output outage or a crash between emit and commit would.
func ExampleFaults() {
	fns, err := adaptertest.Functions()
	if err != nil {
		panic(err)
	}
	fn := fns[0]
	faults := &adaptertest.Faults{}
	sink := &collector{}
	r, err := runner.New(runner.Config{Function: fn.Name, Store: memstate.New(nil), New: fn.NewProcessor,
		Sink: faults.Wrap(sink), DeadLetter: sink})
	if err != nil {
		panic(err)
	}
	_ = r // the adapter's entry point runs its batches through r

	faults.Arm(adaptertest.Outage, 1)
	err = faults.Wrap(sink).Emit(context.Background(), nil)
	fmt.Println(errors.Is(err, adaptertest.ErrInjected), faults.Fired(), faults.Pending())
	fmt.Println(adaptertest.ScenarioNames())
	// Output:
	// true 1 0
	// [in-order out-of-order late duplicates poison failure-redelivery restart idle-tick]
}

// The functions every adapter runs, compiled from the suite's embedded specs.
func ExampleFunctions() {
	fns, err := adaptertest.Functions()
	if err != nil {
		panic(err)
	}
	for _, fn := range fns {
		fmt.Println(fn.Name)
	}
	// Output:
	// conformance-sliding
	// conformance-threshold
}
