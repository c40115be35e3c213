package view_test

import (
	"context"
	"encoding/json"
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

func ExampleBuffer() {
	ctx := context.Background()
	store, err := view.Open(ctx, "mem://")
	if err != nil {
		panic(err)
	}
	w, err := view.NewWriter(store, "press", []view.Def{{Name: "chart", Kind: view.History, Windows: 3}}, nil)
	if err != nil {
		panic(err)
	}
	buf := view.NewBuffer(w, 0)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for minute := range 5 { // five batches of a replay, one window each
		s := start.Add(time.Duration(minute) * time.Minute)
		out := &core.WindowResult{Function: "press", Key: "m-7", Start: s, End: s.Add(time.Minute), Values: []core.NamedValue{{Name: "n", Num: float64(minute)}}}
		if err := buf.Emit(ctx, []core.Output{out}); err != nil {
			panic(err)
		}
	}
	if err := buf.Flush(ctx); err != nil {
		panic(err)
	}
	st := store.Stats()
	row, _, _ := store.Get(ctx, "press", "chart", "m-7")
	var h view.HistoryRow
	_ = json.Unmarshal(row.Data, &h)
	fmt.Println(st.Written, "row written,", len(h.Windows), "windows kept, the last ending", h.Windows[2].End.Format("15:04"))
	// Output: 1 row written, 3 windows kept, the last ending 00:05
}
