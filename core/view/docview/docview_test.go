package docview_test

import (
	"context"
	"testing"

	"gocloud.dev/docstore/memdocstore"

	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/docview"
	"github.com/eddyhq/eddy/core/view/driver"
	"github.com/eddyhq/eddy/core/view/viewtest"
)

// memdocstore stands in for Firestore: it is gocloud's in-memory docstore driver, reached through
// the same portable docstore API (action lists, revisions, queries) the firestore:// scheme uses.
// Firestore itself is not exercised here (its emulator needs Java).
func TestConformanceMemdocstore(t *testing.T) {
	viewtest.Run(t, func(t *testing.T) driver.Store {
		coll, err := memdocstore.OpenCollection("id", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { coll.Close() })
		return docview.New(coll, "id")
	}, viewtest.Config{})
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	s, err := view.Open(ctx, "docstore+mem://eddyviews/id")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := view.Open(ctx, "dynamodb://t"); err == nil {
		t.Fatal("dynamodb URL without partition_key accepted")
	}
	if _, err := view.Open(ctx, "redis://x"); err == nil {
		t.Fatal("an unknown scheme opened")
	}
}
