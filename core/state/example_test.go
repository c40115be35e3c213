package state_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/eddyhq/eddy/core/state"
	_ "github.com/eddyhq/eddy/core/state/memstate" // registers mem://
)

// A read-modify-write cycle: the write is conditional on the revision read, so a concurrent writer
// makes it fail with ErrConflict instead of losing an update.
func Example() {
	ctx := context.Background()
	s, err := state.Open(ctx, "mem://?budget=1MiB")
	if err != nil {
		panic(err)
	}
	defer s.Close()

	e, _ := s.Get(ctx, "w1/shard-0") // not found: a fresh partition
	rev, _ := s.Put(ctx, "w1/shard-0", []byte("v1"), e.Rev, nil)
	_, err = s.Put(ctx, "w1/shard-0", []byte("v1 again"), e.Rev, nil) // stale revision
	fmt.Println(errors.Is(err, state.ErrConflict))
	_, err = s.Put(ctx, "w1/shard-0", []byte("v2"), rev, nil)
	fmt.Println(err)
	e, _ = s.Get(ctx, "w1/shard-0")
	fmt.Println(string(e.Value))
	// Output:
	// true
	// <nil>
	// v2
}
