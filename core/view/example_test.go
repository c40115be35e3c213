package view_test

import (
	"context"
	"fmt"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	_ "github.com/eddyhq/eddy/core/view/memview"
)

func ExampleWriter() {
	ctx := context.Background()
	store, err := view.Open(ctx, "mem://example-views")
	if err != nil {
		panic(err)
	}
	defer store.Close()
	w, err := view.NewWriter(store, "press", []view.Def{{Name: "latest", Kind: view.Latest, TTL: time.Hour}}, nil)
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	win := func(minute int, avg float64) core.Output {
		s := start.Add(time.Duration(minute) * time.Minute)
		return &core.WindowResult{Function: "press", Key: "m-7", Start: s, End: s.Add(time.Minute), Values: []core.NamedValue{{Name: "avg", Num: avg}}}
	}
	// A batch, then an older window redelivered: the view keeps the newest.
	if err := w.Emit(ctx, []core.Output{win(0, 70), win(1, 82.5)}); err != nil {
		panic(err)
	}
	if err := w.Emit(ctx, []core.Output{win(0, 70)}); err != nil {
		panic(err)
	}
	row, _, _ := store.Get(ctx, "press", "latest", "m-7")
	fmt.Println(string(row.Data))
	// Output: {"key":"m-7","start":"2026-01-01T00:01:00.000Z","end":"2026-01-01T00:02:00.000Z","revision":0,"values":{"avg":82.5}}
}
