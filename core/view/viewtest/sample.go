package viewtest

import (
	"context"
	"testing"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
)

// Sample fills the view store at url with what a dashboard shows for function "press": a latest
// and a firing view, three keys (m1, m2, m3 with avg 1, 2, 3) and one firing decision (rule hot on
// m2). Tests of the code that serves views use it; the store's driver must be registered.
func Sample(t testing.TB, url string) {
	t.Helper()
	ctx := context.Background()
	store, err := view.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	defs := []view.Def{{Name: "latest", Kind: view.Latest}, {Name: "alerts", Kind: view.Firing}}
	if err := store.PutCatalog(ctx, &view.Catalog{Function: "press", Views: defs, Aggregates: []string{"count", "avg"}}); err != nil {
		t.Fatal(err)
	}
	w, err := view.NewWriter(store, "press", defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	outs := []core.Output{Win("press", "m1", 1, 0), Win("press", "m2", 2, 0), Win("press", "m3", 3, 0),
		Dec("press", "hot", "m2", 2, core.StateFiring)}
	if err := w.Emit(ctx, outs); err != nil {
		t.Fatal(err)
	}
}
