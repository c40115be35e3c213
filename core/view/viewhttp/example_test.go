package viewhttp_test

import (
	"fmt"
	"time"

	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/memview"
	"github.com/eddyhq/eddy/core/view/viewhttp"
)

// A live function's views and their event stream: the view writer publishes each batch's outputs
// to the hub, and the server streams them to dashboards (/api/events) at most every Interval.
func ExampleNewHub() {
	hub := viewhttp.NewHub(&viewhttp.HubOptions{Interval: 100 * time.Millisecond})
	store := view.NewStore(memview.New(), nil)
	w, err := view.NewWriter(store, "fn", []view.Def{{Name: "latest", Kind: view.Latest}}, &view.WriterOptions{OnWrite: hub.PublishOutputs})
	if err != nil {
		panic(err)
	}
	_ = w // the runner's sink, teed with the function's outputs (view.Tee)
	handler := (&viewhttp.Server{Store: store, Hub: hub}).Handler()
	_ = handler // served on a loopback address
	fmt.Println(hub.Stats().Bound>>20, "MiB at most, and 256 KiB per client writing")
	// Output: 21 MiB at most, and 256 KiB per client writing
}
