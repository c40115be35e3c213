package codec

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

func TestParseTime(t *testing.T) {
	ms := time.UnixMilli(1700000000123).UTC()
	tests := []struct {
		in     string
		format TimeFormat
		want   time.Time
	}{
		{"1700000000", TimeUnix, time.Unix(1700000000, 0)},
		{"1700000000.123", TimeUnix, ms},
		{"1700000000.1234567891", TimeUnix, time.Unix(1700000000, 123456789)},
		{"1700000000.5e0", TimeUnix, time.Unix(1700000000, 5e8)},
		{"1.7e9", TimeUnix, time.Unix(1700000000, 0)},
		{"-1.5", TimeUnix, time.Unix(-2, 5e8)},
		{"0", TimeUnix, time.Unix(0, 0)},
		{"1700000000123", TimeUnixMilli, ms},
		{"1700000000123.5", TimeUnixMilli, time.Unix(1700000000, 123500000)},
		{"1700000000123456", TimeUnixMicro, time.Unix(1700000000, 123456000)},
		{"1700000000123456789", TimeUnixNano, time.Unix(1700000000, 123456789)},
		{"1700000000", TimeAuto, time.Unix(1700000000, 0)},
		{"1700000000.25", TimeAuto, time.Unix(1700000000, 25e7)},
		{"1700000000123", TimeAuto, ms},
		{"1700000000123456", TimeAuto, time.Unix(1700000000, 123456000)},
		{"1700000000123456789", TimeAuto, time.Unix(1700000000, 123456789)},
		{"9000000000", TimeAuto, time.Unix(9000000000, 0)},
		{"99999999999", TimeAuto, time.Time{}}, // seconds beyond 2262: out of range
		{"100000000000", TimeAuto, time.UnixMilli(100000000000)},
		{"2023-11-14T22:13:20Z", TimeAuto, time.Unix(1700000000, 0)},
		{"2023-11-14T22:13:20.123Z", TimeRFC3339, ms},
		{"2023-11-14T23:13:20.123+01:00", TimeRFC3339, ms},
		{"2023-11-14T17:43:20.123-04:30", TimeAuto, ms},
		{"2023-11-14t22:13:20.123z", TimeAuto, ms},
		{"2023-11-14 22:13:20.123Z", TimeAuto, ms},
		{"2023-11-14T22:13:20.123456789123Z", TimeAuto, time.Unix(1700000000, 123456789)},
		{"2024-02-29T00:00:00Z", TimeAuto, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"2025-11-25T16:00:01.987Z", TimeAuto, time.Date(2025, 11, 25, 16, 0, 1, 987e6, time.UTC)},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, tt.format)
		if tt.want.IsZero() {
			if err == nil {
				t.Errorf("ParseTime(%q, %v) = %v, want an error", tt.in, tt.format, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTime(%q, %v): %v", tt.in, tt.format, err)
			continue
		}
		if !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q, %v) = %v, want %v (UTC)", tt.in, tt.format, got, tt.want.UTC())
		}
	}
}

func TestParseTimeErrors(t *testing.T) {
	tests := []struct {
		in     string
		format TimeFormat
		want   string
	}{
		{"abc", TimeAuto, `"abc" is not a unix time or RFC 3339 timestamp`},
		{"", TimeAuto, `"" is not a unix time or RFC 3339 timestamp`},
		{"2023-11-14T22:13:20", TimeAuto, "is not a unix time or RFC 3339 timestamp"}, // no offset
		{"2023-02-29T00:00:00Z", TimeAuto, "not"},
		{"2023-11-31T00:00:00Z", TimeAuto, "not"},
		{"2023-13-01T00:00:00Z", TimeAuto, "not"},
		{"2023-11-14T24:00:00Z", TimeAuto, "not"},
		{"2023-11-14T22:60:00Z", TimeAuto, "not"},
		{"2023-11-14T22:13:60Z", TimeAuto, "not"},
		{"2023-11-14T22:13:20.Z", TimeAuto, "not"},
		{"2023-11-14T22:13:20+0100", TimeAuto, "not"},
		{"2023-11-14T22:13:20+24:00", TimeAuto, "not"},
		{"2023-11-14T22:13:20Zjunk", TimeAuto, "not"},
		{"1700000000123", TimeRFC3339, `"1700000000123" is not an RFC 3339 timestamp`},
		{"2023-11-14T22:13:20Z", TimeUnixMilli, "is not a unix time in milliseconds"},
		{"1e30", TimeUnix, "is not a unix time in seconds"},
		{"-1e30", TimeUnixNano, "is not a unix time in nanoseconds"},
		{"01", TimeUnix, "not"},
		{"1.", TimeUnix, "not"},
		{"1e", TimeUnix, "not"},
		{"+1", TimeUnix, "not"},
		{"0x10", TimeUnix, "not"},
		{"1 ", TimeUnixMicro, "is not a unix time in microseconds"},
		{"9223372036854775808", TimeUnixNano, "not"},
	}
	for _, tt := range tests {
		_, err := ParseTime(tt.in, tt.format)
		if err == nil || !errors.Is(err, ErrTime) || !contains(err.Error(), tt.want) {
			t.Errorf("ParseTime(%q, %v) error = %v, want ErrTime containing %q", tt.in, tt.format, err, tt.want)
		}
	}
}

func TestParseTimeFormat(t *testing.T) {
	for in, want := range map[string]TimeFormat{"": TimeAuto, "auto": TimeAuto, "unix": TimeUnix, "unix_s": TimeUnix, "s": TimeUnix,
		"unix_ms": TimeUnixMilli, "MS": TimeUnixMilli, "unix_us": TimeUnixMicro, "µs": TimeUnixMicro, "unix_ns": TimeUnixNano,
		"rfc3339": TimeRFC3339} {
		got, err := ParseTimeFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseTimeFormat(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := ParseTimeFormat(got.String()); back != got {
			t.Errorf("%v.String() does not parse back", got)
		}
	}
	if _, err := ParseTimeFormat("iso"); err == nil {
		t.Error("ParseTimeFormat(iso) did not fail")
	}
}

// FuzzParseTime checks ParseTime never panics, agrees with time.Parse on RFC 3339 and with an exact
// big-number computation on unix times.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"1700000000", "1700000000.123", "1700000000123", "1.7e12", "-5", "2023-11-14T22:13:20.123+01:00",
		"2023-11-14T22:13:20Z", "abc", "1e400", "0.000000001"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, fm uint8) {
		format := TimeFormat(fm % 6)
		got, err := ParseTime(s, format)
		if format == TimeRFC3339 {
			want, werr := time.Parse(time.RFC3339Nano, s)
			if err != nil && werr == nil && !strings.Contains(s, ",") {
				t.Fatalf("ParseTime(%q) failed (%v), time.Parse gives %v", s, err, want)
			}
			if err == nil {
				if werr == nil && !got.Equal(want) {
					t.Fatalf("ParseTime(%q) = %v, time.Parse = %v", s, got, want)
				}
				if werr != nil && len(s) > 10 && s[10] == 'T' && s[len(s)-1] == 'Z' && !(len(s) > 20 && s[19] == '.' && len(s)-21 > 9) {
					t.Fatalf("ParseTime(%q) = %v, but time.Parse fails: %v", s, got, werr)
				}
			}
			return
		}
		if err != nil || format == TimeAuto {
			return
		}
		// A unix time that parses must be the float's value to within float precision.
		fv, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			t.Fatalf("ParseTime(%q) accepted what ParseFloat refuses: %v", s, ferr)
		}
		scale := map[TimeFormat]float64{TimeUnix: 1e9, TimeUnixMilli: 1e6, TimeUnixMicro: 1e3, TimeUnixNano: 1}[format]
		ns := float64(got.UnixNano())
		if d := math.Abs(ns - fv*scale); d > 1+math.Abs(fv*scale)*1e-15 {
			t.Fatalf("ParseTime(%q, %v) = %d ns, float says %g", s, format, got.UnixNano(), fv*scale)
		}
	})
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && index2(s, sub) >= 0)
}

func index2(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestAutoMagnitude checks the unit auto picks at each power of ten, against the rule in TimeAuto's
// doc: below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
func TestAutoMagnitude(t *testing.T) {
	v := uint64(1)
	for k := 0; k <= 18; k++ {
		for _, x := range []uint64{v - 1, v, v + 1, 2 * v} {
			s := strconv.FormatUint(x, 10)
			var unit TimeFormat
			switch {
			case x < 1e11:
				unit = TimeUnix
			case x < 1e14:
				unit = TimeUnixMilli
			case x < 1e17:
				unit = TimeUnixMicro
			default:
				unit = TimeUnixNano
			}
			want, werr := ParseTime(s, unit)
			got, err := ParseTime(s, TimeAuto)
			if (err == nil) != (werr == nil) || !got.Equal(want) {
				t.Errorf("auto %s = %v, %v; want %v (%v), %v", s, got, err, want, unit, werr)
			}
		}
		v *= 10
	}
}

// TestUnixFromRange checks the overflow bound of unixFrom at its edges against big-integer
// arithmetic.
func TestUnixFromRange(t *testing.T) {
	for _, mant := range []uint64{1, 9, 9223372036, 9223372037, 9223372036854, 9223372036855, 9223372036854775, 9223372036854776,
		9223372036854775807, 9223372036854775808, math.MaxUint64} {
		for _, f := range []TimeFormat{TimeUnix, TimeUnixMilli, TimeUnixMicro, TimeUnixNano} {
			for exp := 0; exp <= 12; exp++ {
				scale := map[TimeFormat]int{TimeUnix: 9, TimeUnixMilli: 6, TimeUnixMicro: 3, TimeUnixNano: 0}[f] + exp
				want := new(big.Int).Mul(new(big.Int).SetUint64(mant), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
				fits := scale <= 19 && want.IsInt64()
				got, ok := unixFrom(decimal{mant: mant, exp: exp, fits: true}, f)
				if ok != fits {
					t.Fatalf("%d e%d %v: ok %v, want %v", mant, exp, f, ok, fits)
				}
				if ok && got.UnixNano() != want.Int64() {
					t.Fatalf("%d e%d %v: %d ns, want %s", mant, exp, f, got.UnixNano(), want)
				}
			}
		}
	}
}

// A unix_ms time of whole milliseconds takes Decoder.time's short path: the same time (the same
// Time value, not only the same instant) as unixFrom's general one, and the same failure past the
// last time an int64 of nanoseconds holds. Negative and fractional times take the general path.
func TestUnixMilliShortPath(t *testing.T) {
	d, err := New(Config{Paths: []string{"value"}, Key: "key", Time: "ts", TimeFormat: "unix_ms"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range []string{"0", "1", "999", "1000", "1699999999427", "9223372036854", "9223372036855",
		"18446744073709551615", "-1", "-1699999999427", "1.5", "1699999999427.25", "1e3"} {
		var ev core.Event
		err := d.Decode("p", &core.Record{ID: "r", Data: []byte(`{"key":"k","ts":` + ts + `,"value":1}`)}, time.Time{}, &ev)
		dec, ok := parseDecimal(ts)
		if !ok {
			t.Fatalf("%s: not a decimal", ts)
		}
		want, wantOK := unixFrom(dec, TimeUnixMilli)
		if (err == nil) != wantOK {
			t.Fatalf("ts %s: error %v, want ok %v", ts, err, wantOK)
		}
		if err == nil && ev.Time != want {
			t.Fatalf("ts %s: time %#v, want %#v", ts, ev.Time, want)
		}
	}
}

// parseDecimal is the test's own reading of a plain decimal (digits, an optional fraction, an
// optional exponent) into unixFrom's input.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	mant, exp, _ := strings.Cut(s, "e")
	intp, frac, _ := strings.Cut(mant, ".")
	m, err := strconv.ParseUint(intp+frac, 10, 64)
	if err != nil {
		return d, false
	}
	d.mant, d.exp, d.fits = m, -len(frac), true
	if exp != "" {
		e, err := strconv.Atoi(exp)
		if err != nil {
			return d, false
		}
		d.exp += e
	}
	return d, true
}
