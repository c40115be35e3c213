package blobstate_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/memblob"
	"google.golang.org/api/option"

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/blobstate"
	_ "github.com/eddyhq/eddy/core/state/blobstate/gcsstate"
	"github.com/eddyhq/eddy/core/state/statetest"
)

var seq atomic.Int64

// TestConformanceGCS runs the suite on GCS's stand-in, fake-gcs-server, in process: conditional
// writes are generation preconditions, exactly as on GCS.
func TestConformanceGCS(t *testing.T) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	client, err := storage.NewClient(ctx, option.WithEndpoint(srv.URL()+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		name := fmt.Sprintf("eddy-state-%d", seq.Add(1))
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
		b, err := gcsblob.OpenBucket(ctx, nil, name, &gcsblob.Options{Client: client})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		d, err := blobstate.New(b)
		if err != nil {
			t.Fatal(err)
		}
		if d.Provider() != "gcs" {
			t.Fatalf("provider %q, want gcs", d.Provider())
		}
		return func(opts *state.Options) *state.Store { return state.NewStore(d, opts) }
	}, statetest.Config{})
}

// Buckets without preconditions are refused rather than silently racy.
func TestRefusesBucketsWithoutPreconditions(t *testing.T) {
	b := memblob.OpenBucket(nil)
	defer b.Close()
	if _, err := blobstate.New(b); err == nil {
		t.Fatal("memblob accepted")
	}
}
