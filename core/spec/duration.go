package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationHint is the hint of every bad duration.
const durationHint = "use e.g. 1s, 5m, 1h30m or 1d"

var durationUnits = map[string]float64{
	"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
	"d": 86400e9, "w": 7 * 86400e9,
}

// ParseDuration parses a duration as Go writes them ("1h30m", "250ms", "1.5s") with Prometheus'
// d (24h) and w (7d) units too ("1d", "2w3d"). "0" is zero; negative durations are refused, since
// nothing in a spec is negative.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if s[0] == '-' {
		return 0, fmt.Errorf("%q is negative", orig)
	}
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%q is not a duration", orig)
		}
		num, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", orig)
		}
		s = s[i:]
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		unit := s[:j]
		s = s[j:]
		mult, ok := durationUnits[unit]
		if !ok {
			if unit == "" {
				return 0, fmt.Errorf("%q has no unit", orig)
			}
			return 0, fmt.Errorf("%q is not a duration", orig)
		}
		total += num * mult
	}
	if total >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too long (at most about 292 years)", orig)
	}
	return time.Duration(math.Round(total)), nil
}

// FormatDuration writes d the way ParseDuration reads it, with whole days as d ("1d", "1d12h",
// "5m", "250ms").
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	if days := d / (24 * time.Hour); days > 0 && d%time.Second == 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('d')
		d -= days * 24 * time.Hour
		if d == 0 {
			return b.String()
		}
	}
	s := d.String()
	// time.Duration writes 5m0s and 1h0m0s: drop the zero parts.
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	b.WriteString(s)
	return b.String()
}
