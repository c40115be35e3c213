package view

import (
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

func TestAppendTime(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(0, 0), time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1999, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("x", 3600)), time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, want := string(appendTime(nil, tm)), string(core.AppendTime(nil, tm)); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
