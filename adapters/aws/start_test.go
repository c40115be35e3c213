package aws_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/adapters/aws/internal/testfn/fn"
	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core/sink"
)

// Start opens the outputs AWS users name: its own transports and the portable ones.
func TestStartRegistersOutputs(t *testing.T) {
	for _, s := range []string{"log", "mem", "kinesis", "awssns", "awssqs", "https"} {
		if !slices.Contains(sink.DefaultURLMux().Schemes(), s) {
			t.Errorf("scheme %s: not registered (have %v)", s, sink.DefaultURLMux().Schemes())
		}
	}
}

// Open needs a state store, or Lambda's window state, and not both; the function's name defaults
// to its own (no os.Setenv to keep the spec's name).
func TestOpenConfig(t *testing.T) {
	ctx := context.Background()
	newProc, err := fn.New()
	if err != nil {
		t.Fatal(err)
	}
	f := env.Func(fn.Name, newProc)
	if _, _, err := aws.Open(ctx, aws.Config{}, f); err == nil || !strings.Contains(err.Error(), "EDDY_STATE_URL") {
		t.Errorf("no store: %v", err)
	}
	if _, _, err := aws.Open(ctx, aws.Config{StateURL: "mem://", WindowState: "lambda"}, f); err == nil {
		t.Error("a store and Lambda's window state both opened")
	}
	for _, cfg := range []aws.Config{{StateURL: "mem://"}, {WindowState: "lambda"}} {
		h, closeFn, err := aws.Open(ctx, cfg, f)
		if err != nil || h == nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
		closeFn()
	}
}
