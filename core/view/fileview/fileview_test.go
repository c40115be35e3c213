package fileview_test

import (
	"context"
	"testing"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/driver"
	"github.com/eddyhq/eddy/core/view/fileview"
	"github.com/eddyhq/eddy/core/view/viewtest"
)

func TestConformance(t *testing.T) {
	viewtest.Run(t, func(t *testing.T) driver.Store {
		d, err := fileview.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, viewtest.Config{})
}

// Two drivers on one directory (two processes: eddy dev writing, eddy dashboard reading) see
// each other's rows and conflicts.
func TestSharedDirectory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := view.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := view.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := view.NewWriter(a, "fn", []view.Def{{Name: "latest", Kind: view.Latest}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Emit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Emit(ctx, []core.Output{viewtest.Win("fn", "k", 1, 0)}); err != nil {
		t.Fatal(err)
	}
	rows, err := b.Scan(ctx, "fn", "latest")
	if err != nil || len(rows) != 1 || rows[0].Key != "k" {
		t.Fatalf("the second opener sees %v (%v), want key k", rows, err)
	}
	if _, err := view.Open(ctx, "file://host/dir"); err == nil {
		t.Error("a file URL with a host opened")
	}
}
