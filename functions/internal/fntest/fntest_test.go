package fntest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/functions/internal/fntest"
	"github.com/eddyhq/eddy/functions/threshold"
)

// TestRun: a stream run in one batch and in batches with the state restored in between gives the
// same outputs, every one passed to observe and returned as its JSON line.
func TestRun(t *testing.T) {
	f, err := threshold.New(threshold.Config{Key: "device", Time: "ts", TimeFormat: "unix_ms", Field: "temp", Above: 80})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	var recs []core.Record
	for i, temp := range []float64{70, 85, 90, 60, 65, 85} {
		id := fmt.Sprint(i + 1)
		recs = append(recs, core.Record{ID: id, Offset: id,
			Data: fmt.Appendf(nil, `{"device":"d1","ts":%d,"temp":%v}`, t0.Add(time.Duration(i)*time.Minute).UnixMilli(), temp)})
	}
	var observed, decisions int
	lines := fntest.Run(t, f, recs, 0, t0, func(o core.Output) {
		observed++
		if _, ok := o.(*core.Decision); ok {
			decisions++
		}
	})
	if observed != len(lines) || decisions == 0 {
		t.Fatalf("%d outputs observed, %d decisions, %d lines:\n%s", observed, decisions, len(lines), strings.Join(lines, "\n"))
	}
	fntest.Equal(t, "batches of 2 against one batch", fntest.Run(t, f, recs, 2, t0, nil), lines)
}

func TestValues(t *testing.T) {
	got := fntest.Values([]core.NamedValue{{Name: "avg", Num: 81.5}, {Name: "readings", Num: 10}})
	if got != "avg=81.5 readings=10" {
		t.Fatalf("Values: %q", got)
	}
}
