package window_test

import (
	"fmt"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
	"github.com/eddyhq/eddy/internal/window"
)

// An hour-long tumbling window that speaks early: every 2 events of a key, and once per 10 s of
// processing time for the keys that changed. The early results say Early (JSON "final":false) and
// take revisions 0, 1, ...; the closed window follows with the next revision.
func ExampleOperator_FireEarly() {
	var fields core.FieldTable
	plan, _ := aggregate.Compile([]aggregate.Spec{{Op: aggregate.Count}}, &fields)
	op, _ := window.New("visits", window.Spec{Kind: window.Tumbling, Size: time.Hour,
		Early: window.Early{Every: 10 * time.Second, Count: 2}}, window.Time{}, plan)
	emit := func(r *core.WindowResult) {
		n, _ := r.Value("count")
		fmt.Printf("%s %s-%s revision %d early %v: %v\n", r.Key, r.Start.Format("15:04"), r.End.Format("15:04"), r.Revision, r.Early, n.Num)
	}
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	add := func(min int) {
		op.Add(&core.Event{Key: "shop", Time: t0.Add(time.Duration(min) * time.Minute)}, emit)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) // processing time
	op.FireEarly(now, emit)                              // the first call starts the clock
	add(1)
	add(5) // the key's 2nd event: early by count
	add(7)
	op.FireEarly(now.Add(5*time.Second), emit)  // before the next multiple of 10 s: nothing
	op.FireEarly(now.Add(10*time.Second), emit) // the key changed since: early by time
	op.FireEarly(now.Add(20*time.Second), emit) // no event since the last firing: nothing
	add(20)                                     // the key's 4th event: early by count
	op.Advance(t0.Add(time.Hour), emit)         // the watermark closes the window
	// Output:
	// shop 09:00-10:00 revision 0 early true: 2
	// shop 09:00-10:00 revision 1 early true: 3
	// shop 09:00-10:00 revision 2 early true: 4
	// shop 09:00-10:00 revision 3 early false: 4
}
