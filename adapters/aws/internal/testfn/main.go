// Command testfn is the Lambda function the aws adapter's integration test builds as `bootstrap`
// and runs under the Lambda Runtime Interface Emulator: per sensor key, 1 s tumbling windows of
// count/avg/max, and a threshold rule on the average that fires and resolves. It is configured
// like any deployed eddy function, through the EDDY_* environment variables.
//
// EDDY_TEST_TIME=arrival runs fn.NewArrival instead of fn.New (for Lambda window state).
// EDDY_TEST_SPEC=FILE runs the function that spec (eddy.yaml) declares instead, views included.
//
// For crash tests, EDDY_TEST_CRASH_AFTER_EMITS=N makes the process exit right after its N-th
// emit, before the state commit, unless the file EDDY_TEST_CRASH_MARKER exists (it is created
// first, so the restarted process runs on).
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/adapters/aws/internal/testfn/fn"
	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	ctx := context.Background()
	cfg, err := aws.ConfigFromEnv()
	if err != nil {
		fail(err)
	}
	newFn := fn.New
	if os.Getenv("EDDY_TEST_TIME") == "arrival" {
		newFn = fn.NewArrival
	}
	newProc, err := newFn()
	if err != nil {
		fail(err)
	}
	if n, _ := strconv.Atoi(os.Getenv("EDDY_TEST_CRASH_AFTER_EMITS")); n > 0 {
		if marker := os.Getenv("EDDY_TEST_CRASH_MARKER"); marker != "" {
			if _, err := os.Stat(marker); err != nil {
				crashAfter.Store(int64(n))
			}
		}
	}
	f := env.Func("", newProc)
	if path := os.Getenv("EDDY_TEST_SPEC"); path != "" {
		y, err := os.ReadFile(path)
		if err != nil {
			fail(err)
		}
		if f, err = env.ParseSpec(path, y); err != nil {
			fail(err)
		}
	}
	h, _, err := aws.OpenWith(ctx, cfg, f, wrapSink)
	if err != nil {
		fail(err)
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx))
}

var crashAfter, emits atomic.Int64

// crashSink exits the process after the configured number of emits, between emit and commit.
type crashSink struct{ runner.Sink }

func (c crashSink) Emit(ctx context.Context, outs []core.Output) error {
	if err := c.Sink.Emit(ctx, outs); err != nil {
		return err
	}
	if n := crashAfter.Load(); n > 0 && emits.Add(1) == n {
		if f, err := os.Create(os.Getenv("EDDY_TEST_CRASH_MARKER")); err == nil {
			f.Close()
		}
		fmt.Fprintln(os.Stderr, "testfn: crashing after emit, before commit")
		os.Exit(3)
	}
	return nil
}

func wrapSink(s runner.Sink) runner.Sink { return crashSink{s} }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "testfn:", err)
	os.Exit(1)
}
