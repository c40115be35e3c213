package memstate_test

import (
	"context"
	"testing"

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/core/state/statetest"
)

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		d := memstate.NewDriver(0)
		return func(opts *state.Options) *state.Store { return state.NewStore(d, opts) }
	}, statetest.Config{})
}

// The max_value parameter makes the driver itself refuse large items, so the portable type must
// chunk on its own.
func TestConformanceSmallItems(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		d := memstate.NewDriver(1500)
		return func(opts *state.Options) *state.Store { return state.NewStore(d, opts) }
	}, statetest.Config{})
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	s, err := state.Open(ctx, "mem://?max_value=1KiB&budget=1MiB")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Budget() != 1<<20 {
		t.Fatalf("budget = %d, want 1 MiB", s.Budget())
	}
	if _, err := s.Put(ctx, "k", make([]byte, 5000), "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := state.Open(ctx, "mem://?bogus=1"); err == nil {
		t.Fatal("unknown parameter accepted")
	}
	if _, err := state.Open(ctx, "nosuch://x"); err == nil {
		t.Fatal("unknown scheme accepted")
	}
}
