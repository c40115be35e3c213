//go:build unix

package blobstate_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob/azureblob"

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/blobstate"
	_ "github.com/eddyhq/eddy/core/state/blobstate/azurestate"
	"github.com/eddyhq/eddy/core/state/statetest"
	"github.com/eddyhq/eddy/internal/standin"
)

// TestConformanceAzurite runs the suite on Azure Blob's stand-in: conditional writes are If-Match /
// If-None-Match on ETags.
func TestConformanceAzurite(t *testing.T) {
	conn := standin.AzuriteConnString(standin.Azurite(t))
	ctx := context.Background()
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		name := fmt.Sprintf("eddy-state-%d", seq.Add(1))
		cc, err := container.NewClientFromConnectionString(conn, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cc.Create(ctx, nil); err != nil {
			t.Fatal(err)
		}
		b, err := azureblob.OpenBucket(ctx, cc, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		d, err := blobstate.New(b)
		if err != nil {
			t.Fatal(err)
		}
		if d.Provider() != "azure" {
			t.Fatalf("provider %q, want azure", d.Provider())
		}
		return func(opts *state.Options) *state.Store { return state.NewStore(d, opts) }
	}, statetest.Config{})
}
