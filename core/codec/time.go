package codec

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"
)

// TimeFormat says how an event-time field is written.
type TimeFormat uint8

// Time formats. The zero value is TimeAuto.
const (
	// TimeAuto accepts numbers (the unit picked by magnitude: below 1e11 seconds, below 1e14
	// milliseconds, below 1e17 microseconds, else nanoseconds) and strings (RFC 3339 or numeric, the
	// same way). Milliseconds before March 1973 would read as seconds; name the unit if that matters.
	TimeAuto TimeFormat = iota
	// TimeUnix is unix seconds; a fraction is allowed ("1700000000.123").
	TimeUnix
	// TimeUnixMilli is unix milliseconds.
	TimeUnixMilli
	// TimeUnixMicro is unix microseconds.
	TimeUnixMicro
	// TimeUnixNano is unix nanoseconds.
	TimeUnixNano
	// TimeRFC3339 is an RFC 3339 timestamp, with or without a fraction, with any offset.
	TimeRFC3339
)

// ParseTimeFormat parses a time format name: "auto" (or ""), "unix" (or "unix_s", "s"), "unix_ms"
// ("ms"), "unix_us" ("us", "µs"), "unix_ns" ("ns"), "rfc3339".
func ParseTimeFormat(s string) (TimeFormat, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return TimeAuto, nil
	case "unix", "unix_s", "s":
		return TimeUnix, nil
	case "unix_ms", "ms":
		return TimeUnixMilli, nil
	case "unix_us", "us", "µs", "unix_µs":
		return TimeUnixMicro, nil
	case "unix_ns", "ns":
		return TimeUnixNano, nil
	case "rfc3339":
		return TimeRFC3339, nil
	}
	return 0, fmt.Errorf("unknown time format %q (want auto, unix, unix_ms, unix_us, unix_ns or rfc3339)", s)
}

// String returns the format's name as ParseTimeFormat accepts it.
func (f TimeFormat) String() string {
	switch f {
	case TimeUnix:
		return "unix"
	case TimeUnixMilli:
		return "unix_ms"
	case TimeUnixMicro:
		return "unix_us"
	case TimeUnixNano:
		return "unix_ns"
	case TimeRFC3339:
		return "rfc3339"
	}
	return "auto"
}

// what names the accepted forms in error reasons.
func (f TimeFormat) what() string {
	switch f {
	case TimeUnix:
		return "a unix time in seconds"
	case TimeUnixMilli:
		return "a unix time in milliseconds"
	case TimeUnixMicro:
		return "a unix time in microseconds"
	case TimeUnixNano:
		return "a unix time in nanoseconds"
	case TimeRFC3339:
		return "an RFC 3339 timestamp"
	}
	return "a unix time or RFC 3339 timestamp"
}

// ErrTime is wrapped by errors for values that are not timestamps in the expected format.
var ErrTime = errors.New("not a timestamp")

// ParseTime parses s as format says: a decimal number (JSON number grammar, an exponent allowed) for
// the unix formats, RFC 3339 for TimeRFC3339, either for TimeAuto. Unix times are converted exactly
// (no float rounding) to the nearest nanosecond. The result is in UTC and within the range of
// time.Time.UnixNano (years 1678 to 2262); times outside it are errors.
func ParseTime(s string, format TimeFormat) (time.Time, error) {
	t, ok := parseTime([]byte(s), format, true)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %q is not %s", ErrTime, clip(s), format.what())
	}
	return t, nil
}

// parseTime parses b; isString tells whether it came from a JSON string (a JSON number may not be
// RFC 3339).
func parseTime(b []byte, format TimeFormat, isString bool) (time.Time, bool) {
	if format == TimeRFC3339 {
		if !isString {
			return time.Time{}, false
		}
		return parseRFC3339(b)
	}
	if format == TimeAuto && isString && !looksNumeric(b) {
		return parseRFC3339(b)
	}
	return parseUnix(b, format)
}

func looksNumeric(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	// "2023-11-14T..." starts with digits too; a number has no '-' or ':' after its first byte.
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return false
	}
	for _, c := range b {
		if c == '-' || c == ':' || c == 'T' || c == 't' || c == ' ' {
			return false
		}
	}
	return true
}

// parseUnix parses a decimal number exactly (no float rounding, so nanosecond timestamps survive) as
// a unix time in the format's unit.
func parseUnix(b []byte, format TimeFormat) (time.Time, bool) {
	i := 0
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	// digits accumulates the significant digits (at most 19); exp is the power of ten they are scaled
	// by; dropped counts digits beyond the 19th (their value only matters below a nanosecond).
	var digits uint64
	nd, exp := 0, 0
	start := i
	if i < len(b) && b[i] == '0' {
		i++
	} else {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if nd < 19 {
				digits = digits*10 + uint64(b[i]-'0')
				if digits != 0 {
					nd++
				}
			} else {
				exp++
			}
			i++
		}
	}
	if i == start {
		return time.Time{}, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if nd < 19 {
				digits = digits*10 + uint64(b[i]-'0')
				if digits != 0 {
					nd++
				}
				exp--
			}
			i++
		}
		if i == fs {
			return time.Time{}, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		e := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if e < 10000 {
				e = e*10 + int(b[i]-'0')
			}
			i++
		}
		if i == es {
			return time.Time{}, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(b) {
		return time.Time{}, false
	}
	return unixFrom(decimal{mant: digits, exp: exp, neg: neg, fits: true}, format)
}

// unixFrom converts d (mant * 10^exp) in the format's unit to a time, rounding to the nanosecond.
func unixFrom(d decimal, format TimeFormat) (time.Time, bool) {
	digits, exp, neg := d.mant, d.exp, d.neg
	if format == TimeAuto {
		// Pick the unit by magnitude: the number of integer digits.
		nd := bits.Len64(digits) * 1233 >> 12 // floor(log10(2^len)): nd or nd-1 digits
		if nd < len(pow10u) && digits >= pow10u[nd] {
			nd++
		}
		mag := nd + exp
		switch {
		case digits == 0 || mag <= 11:
			format = TimeUnix
		case mag <= 14:
			format = TimeUnixMilli
		case mag <= 17:
			format = TimeUnixMicro
		default:
			format = TimeUnixNano
		}
	}
	switch format {
	case TimeUnix:
		exp += 9
	case TimeUnixMilli:
		exp += 6
	case TimeUnixMicro:
		exp += 3
	}
	// ns = digits * 10^exp, rounded to the nearest nanosecond.
	if digits == 0 {
		return time.Unix(0, 0).UTC(), true
	}
	var ns uint64
	switch {
	case exp >= 0:
		if exp > 19 {
			return time.Time{}, false
		}
		// A 128-bit product instead of MaxInt64/p: no division on the per-event path.
		hi, lo := bits.Mul64(digits, pow10u[exp])
		if hi != 0 || lo > math.MaxInt64 {
			return time.Time{}, false
		}
		ns = lo
	case exp < -19:
		ns = 0
	default:
		p := pow10u[-exp]
		ns = digits / p
		if digits%p >= (p+1)/2 {
			ns++
		}
	}
	if ns > math.MaxInt64 {
		return time.Time{}, false
	}
	n := int64(ns)
	if neg {
		n = -n
	}
	return time.Unix(0, n).UTC(), true
}

var pow10u = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
	1e15, 1e16, 1e17, 1e18, 1e19}

// parseRFC3339 parses YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|±HH:MM) without allocating (time.Parse
// allocates a zone for every non-UTC offset).
func parseRFC3339(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	if c := b[10]; c != 'T' && c != 't' && c != ' ' {
		return time.Time{}, false
	}
	year, ok1 := fixedInt(b[0:4])
	month, ok2 := fixedInt(b[5:7])
	day, ok3 := fixedInt(b[8:10])
	hour, ok4 := fixedInt(b[11:13])
	minute, ok5 := fixedInt(b[14:16])
	sec, ok6 := fixedInt(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		fs := i
		scale := 100000000
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nsec += int(b[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == fs {
			return time.Time{}, false
		}
	}
	if i >= len(b) {
		return time.Time{}, false
	}
	offset := 0
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return time.Time{}, false
		}
		oh, ok1 := fixedInt(b[i+1 : i+3])
		om, ok2 := fixedInt(b[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return time.Time{}, false
	}
	if i != len(b) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

func fixedInt(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// clip shortens a value quoted in an error reason.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
