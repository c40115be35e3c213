package core

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"unicode/utf8"
)

// appendUint and appendInt write what strconv writes: every digit count, the powers of ten and
// their neighbours, and random values of every size.
func TestAppendIntIsStrconv(t *testing.T) {
	check := func(i int64) {
		t.Helper()
		if got, want := string(appendInt([]byte("x"), i)), strconv.AppendInt([]byte("x"), i, 10); got != string(want) {
			t.Fatalf("appendInt(%d) = %s, want %s", i, got, want)
		}
		u := uint64(i)
		if got, want := string(appendUint(nil, u)), strconv.FormatUint(u, 10); got != want {
			t.Fatalf("appendUint(%d) = %s, want %s", u, got, want)
		}
	}
	for _, i := range []int64{0, 1, 9, 10, 99, 100, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		check(i)
	}
	for p := int64(1); p <= 1e18; p *= 10 {
		for _, d := range []int64{-1, 0, 1} {
			check(p + d)
			check(-(p + d))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		check(int64(r.Uint64() >> r.IntN(64)))
		check(-int64(r.Uint64() >> r.IntN(64)))
	}
}

// AppendNumber writes what it wrote before its decimal fast path: strconv's shortest form ('f'
// between 1e-6 and 1e21, 'e' outside), integers as integers, null for NaN and infinities.
func TestAppendNumberIsStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vals := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 12.25, 76.75,
		1e-6, 1.5e-6, 9.99999e-7, 0.000001, 0.0000015, 1e15 - 0.5, 1e15 + 0.5, 999999999999999.9,
		1125899906842623.5, 1125899906842624.5, 1e21, 1e22, 123456.789, 0.1 + 0.2, 4503599627370495.5,
		math.Nextafter(0.1, 1), math.Nextafter(0.1, 0), math.MaxFloat64, math.SmallestNonzeroFloat64,
		math.NaN(), math.Inf(1), math.Inf(-1)}
	for k := range 7 {
		p := math.Pow(10, float64(k))
		for range 50_000 {
			m := float64(r.Int64N(1 << uint(20+r.IntN(34))))
			vals = append(vals, m/p, -m/p, math.Nextafter(m/p, math.Inf(1)))
		}
	}
	for range 200_000 {
		vals = append(vals, math.Float64frombits(r.Uint64()), r.Float64()*math.Pow(10, float64(r.IntN(30)-10)))
	}
	for _, f := range vals {
		checkAppendNumber(t, f)
	}
}

func FuzzAppendNumber(f *testing.F) {
	for _, v := range []float64{0, 12.25, -0.05, 1e-6, 1e15 - 0.5, 1.0 / 3, 4503599627370495.5} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		checkAppendNumber(t, math.Float64frombits(bits))
	})
}

func checkAppendNumber(t *testing.T, f float64) {
	t.Helper()
	var want string
	switch abs := math.Abs(f); {
	case math.IsNaN(f) || math.IsInf(f, 0):
		want = "null"
	case f == math.Trunc(f) && abs < 1e15:
		want = strconv.FormatInt(int64(f), 10)
	case abs < 1e-6 || abs >= 1e21:
		want = strconv.FormatFloat(f, 'e', -1, 64)
	default:
		want = strconv.FormatFloat(f, 'f', -1, 64)
	}
	if got := string(AppendNumber([]byte("x"), f)); got != "x"+want {
		t.Fatalf("AppendNumber(%v [%#x]) = %s, want x%s", f, math.Float64bits(f), got, want)
	}
}

// AppendString's word-at-a-time skip gives the bytes of the plain byte loop: every escape, invalid
// UTF-8 and non-ASCII text at every offset of a word.
func TestAppendStringIsByteLoop(t *testing.T) {
	specials := []string{`"`, `\`, "\n", "\r", "\t", "\x00", "\x1f", " ", "\x7f", "é", "\xff", "\xe2\x80", "€", "😀", "a"}
	for _, sp := range specials {
		for pre := range 18 {
			for post := range 10 {
				s := repeat('a', pre) + sp + repeat('b', post)
				checkAppendString(t, s)
			}
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 100_000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
			if r.IntN(4) > 0 {
				b[i] = byte(0x20 + r.IntN(0x60))
			}
		}
		checkAppendString(t, string(b))
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("sensor-0042")
	f.Add("a\"b\\c\nd\x01e\xffé€")
	f.Fuzz(func(t *testing.T, s string) {
		checkAppendString(t, s)
	})
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	if got, want := string(AppendString([]byte("x"), s)), "x"+appendStringBytewise(s); got != want {
		t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
	}
}

// appendStringBytewise is AppendString as one byte loop: the reference for its word skip.
func appendStringBytewise(s string) string {
	b := []byte{'"'}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 0x20 && c != '"' && c != '\\' && c < 0x80:
			b = append(b, c)
			i++
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c == '\n':
			b = append(b, `\n`...)
			i++
		case c == '\r':
			b = append(b, `\r`...)
			i++
		case c == '\t':
			b = append(b, `\t`...)
			i++
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
	}
	return string(append(b, '"'))
}

// appendHex16 writes what hex.Encode writes.
func TestAppendHex16IsHexEncode(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for n := range 20_000 {
		var sum [16]byte
		for i := range sum {
			sum[i] = byte(r.IntN(256))
			if n < 256 {
				sum[i] = byte(n) // every byte value in every position
			}
		}
		if got, want := string(appendHex16([]byte("x"), &sum)), "x"+hex.EncodeToString(sum[:]); got != want {
			t.Fatalf("appendHex16(%v) = %s, want %s", sum, got, want)
		}
	}
}
