package docstate_test

import (
	"context"
	"testing"

	"gocloud.dev/docstore/memdocstore"

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/docstate"
	"github.com/eddyhq/eddy/core/state/statetest"
)

func TestConformanceMemdocstore(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		coll, err := memdocstore.OpenCollection("id", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { coll.Close() })
		d := docstate.New(coll, nil)
		return func(opts *state.Options) *state.Store { return state.NewStore(d, opts) }
	}, statetest.Config{})
}

func TestOpenURLMemdocstore(t *testing.T) {
	ctx := context.Background()
	s, err := state.Open(ctx, "docstore+mem://eddystate/key?max_value=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := make([]byte, 5000)
	rev, err := s.Put(ctx, "fn/p", v, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, "fn/p")
	if err != nil || !e.Found || len(e.Value) != 5000 || e.Rev != rev {
		t.Fatalf("Get = %v, %v", e.Found, err)
	}
	if _, err := state.Open(ctx, "dynamodb://t"); err == nil {
		t.Fatal("dynamodb URL without partition_key accepted")
	}
}
