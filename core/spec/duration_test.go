package spec

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"0", 0, ""},
		{"30s", 30 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"1.5s", 1500 * time.Millisecond, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"10us", 10 * time.Microsecond, ""},
		{"1d", 24 * time.Hour, ""},
		{"2w1d", 15 * 24 * time.Hour, ""},
		{"", 0, "empty duration"},
		{"10", 0, `"10" has no unit`},
		{"10x", 0, `"10x" is not a duration`},
		{"s", 0, `"s" is not a duration`},
		{"-5s", 0, `"-5s" is negative`},
		{"1.2.3s", 0, `"1.2.3s" is not a duration`},
		{"300000w", 0, `"300000w" is too long (at most about 292 years)`},
	} {
		got, err := ParseDuration(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("ParseDuration(%q) error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 5 * time.Minute: "5m", time.Hour: "1h", 90 * time.Minute: "1h30m", 36 * time.Hour: "1d12h",
		24 * time.Hour: "1d", 250 * time.Millisecond: "250ms", 1500 * time.Millisecond: "1.5s",
	} {
		got := FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(got); err != nil || back != d {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", d, back, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"tumbling", "sliding", "session", "count", "global", "allowed_lateness", "idle_timeout"}
	for in, want := range map[string]string{"tumbilng": "tumbling", "tumbleing": "tumbling", "sesion": "session",
		"allowed_latenes": "allowed_lateness", "idle": "idle_timeout", "xyz": "", "gloabl": "global"} {
		if got := suggest(in, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
