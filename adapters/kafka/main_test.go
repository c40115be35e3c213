//go:build unix

package kafka_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	_ "github.com/eddyhq/eddy/core/state/docstate" // dynamodb:// state for the worker processes
	_ "gocloud.dev/docstore/awsdynamodb/v2"
)

// envWorker makes the test binary a worker process (kafka.Start with the test spec), so that the
// scale-out test and benchmark run real processes it can SIGKILL.
const envWorker = "EDDY_KAFKA_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(envWorker) == "1" {
		f, err := spec.Parse("eddy.yaml", []byte(testSpec))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		c, err := f.Compile(spec.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		kafka.Start(kafka.Func(c.Name(), func(string) (runner.Processor, error) { return c.NewPipeline() }))
	}
	os.Exit(m.Run())
}
