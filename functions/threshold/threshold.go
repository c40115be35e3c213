// Package threshold is a ready-made decision function: a threshold alarm on the average of a field
// per key and tumbling window, Prometheus-style, that fires once the average has been above a level
// for a number of consecutive windows and resolves only once it falls below a lower level
// (hysteresis), so that a value hovering at the threshold does not flap.
//
// Use it from Go (New returns a eddy.Function to build or deploy) or copy eddy.yaml beside this file,
// which is the same function as a spec with the defaults filled in.
package threshold

import (
	"cmp"
	"fmt"
	"strconv"
	"time"

	"github.com/eddyhq/eddy"
)

// Config describes the alarm. Zero values take the defaults noted.
type Config struct {
	// Name is the function's name (default "threshold-alarm").
	Name string
	// Key is the field path of the key, e.g. "device.id" (required).
	Key string
	// Time is the field path of the event time (required), written as TimeFormat (default auto).
	Time       string
	TimeFormat string
	// Field is the numeric field watched (required).
	Field string
	// Window is the tumbling window length (default 1m).
	Window time.Duration
	// OutOfOrder is the allowed out-of-orderness of the input (default 5s).
	OutOfOrder time.Duration
	// Above is the level the window average must exceed to fire.
	Above float64
	// ClearBelow is the level the average must fall below to resolve (default Above: no
	// hysteresis). It must not exceed Above.
	ClearBelow *float64
	// For is how many consecutive windows above the level fire the alarm (default 1).
	For int
	// MinReadings ignores windows with fewer events (default 1).
	MinReadings int
	// Severity labels the decisions (default "warning").
	Severity string
}

func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	for _, c := range s {
		if c == '.' || c == 'e' {
			return s
		}
	}
	return s + ".0"
}

// New returns the alarm as a function spec, validated.
func New(c Config) (*eddy.Function, error) {
	if c.Key == "" || c.Time == "" || c.Field == "" {
		return nil, fmt.Errorf("threshold: Key, Time and Field are required")
	}
	c.Name = cmp.Or(c.Name, "threshold-alarm")
	c.Window = cmp.Or(c.Window, time.Minute)
	c.OutOfOrder = cmp.Or(c.OutOfOrder, 5*time.Second)
	c.For = cmp.Or(c.For, 1)
	c.MinReadings = cmp.Or(c.MinReadings, 1)
	c.Severity = cmp.Or(c.Severity, "warning")
	clear := c.Above
	if c.ClearBelow != nil {
		clear = *c.ClearBelow
	}
	if clear > c.Above {
		return nil, fmt.Errorf("threshold: ClearBelow %v is above Above %v", clear, c.Above)
	}
	f := &eddy.Function{
		Name:        c.Name,
		Description: fmt.Sprintf("alarm when the %s average of %s exceeds %v for %d windows; clears below %v", c.Window, c.Field, c.Above, c.For, clear),
		Input:       eddy.Input{Format: "json", Key: c.Key, Time: c.Time, TimeFormat: c.TimeFormat, OutOfOrder: c.OutOfOrder},
		Window:      eddy.Window{Tumbling: c.Window},
		Aggregates: []eddy.Aggregate{
			{Name: "readings", Op: "count"},
			{Name: "avg", Op: "avg", Field: c.Field},
			{Name: "max", Op: "max", Field: c.Field},
		},
		Rules: []eddy.Rule{{
			Name:     "above",
			When:     fmt.Sprintf("avg > %s && readings >= %d", num(c.Above), c.MinReadings),
			Clear:    fmt.Sprintf("avg < %s", num(clear)),
			For:      eddy.Windows(c.For),
			Severity: c.Severity,
		}},
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}
