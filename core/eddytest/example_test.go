package eddytest_test

import (
	"fmt"

	"github.com/eddyhq/eddy/core/eddytest"
)

func ExampleRunSuite() {
	outcomes, err := eddytest.RunSuite("testdata/eddy_test.yaml")
	if err != nil {
		panic(err)
	}
	for _, o := range outcomes {
		fmt.Println(len(o.Problems) == 0, o.Name)
	}
	// Output:
	// true a hot press fires, then resolves
	// true a spike then a stop is a pattern, with the stop's status
	// true a bad time is a dead letter naming the field
}
