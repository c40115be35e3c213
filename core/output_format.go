package core

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
)

// Number, digit and string writers for the output contract. A sliding window writes one result per
// key and slide, so writing a result (its id's preimage included) is most of such a workload's
// cost; these produce the same bytes as strconv and the byte loops they replace, with fewer
// instructions (digits eight at a time, the common decimals without the shortest-digit search).

// digits8 returns the 8 decimal digits of x < 1e8 as ASCII, first digit in the lowest byte (so the
// word's little-endian bytes are the digits in order), leading zeros included.
func digits8(x uint64) uint64 {
	// Split into 4-digit halves, each into 2-digit quarters, each into digits, all lanes at once:
	// (v*5243)>>19 is v/100 for v < 43699, (v*103)>>10 is v/10 for v < 179.
	v := x/10000 | (x%10000)<<32
	q := (v * 5243 >> 19) & 0x0000007F0000007F
	v = q | (v-q*100)<<16
	q = (v * 103 >> 10) & 0x000F000F000F000F
	v = q | (v-q*10)<<8
	return v | 0x3030303030303030
}

// appendDigits8 appends x < 1e8 in decimal without leading zeros ("0" for 0).
func appendDigits8(b []byte, x uint64) []byte {
	if x < 100 { // lengths, revisions, counts
		if x < 10 {
			return append(b, byte('0'+x))
		}
		return append(b, pairs[2*x], pairs[2*x+1])
	}
	v := digits8(x)
	z := bits.TrailingZeros64(v&^0x3030303030303030) >> 3 // leading zero digits
	if z == 8 {
		return append(b, '0')
	}
	var w [8]byte
	binary.LittleEndian.PutUint64(w[:], v)
	return append(b, w[z:]...)
}

// appendUint appends u in decimal, as strconv.AppendUint(b, u, 10) does.
func appendUint(b []byte, u uint64) []byte {
	if u < 1e8 {
		return appendDigits8(b, u)
	}
	var w [16]byte
	if u < 1e16 {
		b = appendDigits8(b, u/1e8)
	} else {
		b = appendDigits8(b, u/1e16)
		u %= 1e16
		binary.LittleEndian.PutUint64(w[:], digits8(u/1e8))
		b = append(b, w[:8]...)
	}
	binary.LittleEndian.PutUint64(w[8:], digits8(u%1e8))
	return append(b, w[8:]...)
}

// appendInt appends i in decimal, as strconv.AppendInt(b, i, 10) does.
func appendInt(b []byte, i int64) []byte {
	if i < 0 {
		return appendUint(append(b, '-'), -uint64(i))
	}
	return appendUint(b, uint64(i))
}

// pow10 are the powers of ten that float64 holds exactly, for the decimal fast path.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6}

// pow10i are the same powers as integers.
var pow10i = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6}

// appendShortDecimal appends f (not an integer, 1e-6 <= |f| < 1e15) in the form
// strconv.AppendFloat(b, f, 'f', -1, 64) writes, when f is m/10^k for an integer m < 2^50 and
// k <= 6, such as an average of readings with two decimals. ok is false when f is not of that form.
//
// Why the bytes are strconv's: m/10^k with m and 10^k exact parses back to f (one correctly rounded
// division, Clinger's fast path), so it is a decimal that round-trips. With m < 2^50 the interval
// of reals that round to f is narrower than a quarter of 10^-k, so it holds no other decimal of k
// fraction digits, and a decimal of fewer fraction digits in it would have been found at a smaller
// k (f*10^k' is within an eighth of it, so rounding finds it). The smallest such k is therefore the
// shortest round-tripping decimal, the one strconv writes.
func appendShortDecimal(b []byte, f float64) ([]byte, bool) {
	a := math.Abs(f)
	// Most values that are not short decimals (an average of three, say) are far from a multiple
	// of 10^-6: skip the search for them. This only saves time; the search decides.
	if x := a * 1e6; x < 1<<52 && math.Abs(x-math.Round(x)) > 1e-4 {
		return b, false
	}
	for k := 1; k < len(pow10); k++ {
		m := math.Round(a * pow10[k])
		if m >= 1<<50 {
			return b, false
		}
		if m/pow10[k] != a {
			continue
		}
		u := uint64(m)
		if f < 0 {
			b = append(b, '-')
		}
		b = appendUint(b, u/pow10i[k])
		b = append(b, '.')
		// The k fraction digits, leading zeros included: the last k of the 8 digits of u%10^k.
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], digits8(u%pow10i[k]))
		return append(b, w[8-k:]...), true
	}
	return b, false
}

// appendFloat appends a finite f the way AppendNumber does.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	if f == math.Trunc(f) && abs < 1e15 {
		return appendInt(b, int64(f))
	}
	if abs >= 1e-6 && abs < 1e15 {
		if out, ok := appendShortDecimal(b, f); ok {
			return out
		}
	}
	format := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

// plainWord reports whether the 8 bytes of w need no escaping in a JSON string: none is below
// 0x20, a quote, a backslash or non-ASCII.
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	ctl := (w - ones*0x20) &^ w    // high bit set where a byte < 0x20 (or >= 0x80, caught below)
	quote := w ^ ones*'"'          // zero byte where '"'
	bslash := w ^ ones*'\\'        // zero byte where '\\'
	q := (quote - ones) &^ quote   // high bit where quote byte was zero (or >= 0x80)
	s := (bslash - ones) &^ bslash // same for backslash
	return (ctl|q|s|w)&highs == 0
}

// pairs holds "00" to "99": the two digits of n at pairs[2n:].
const pairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// plainByte marks the bytes a JSON string holds as they are.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendHex16 appends the 32 lowercase hex digits of sum, as hex.Encode writes them.
func appendHex16(b []byte, sum *[16]byte) []byte {
	var q [32]byte
	for i := 0; i < 16; i += 4 {
		binary.LittleEndian.PutUint64(q[2*i:], hex8(binary.LittleEndian.Uint32(sum[i:])))
	}
	return append(b, q[:]...)
}

// hex8 returns the 8 hex digits of the 4 bytes of x (first byte lowest), high nibble first.
func hex8(x uint32) uint64 {
	t := uint64(x)
	t = (t | t<<16) & 0x0000FFFF0000FFFF
	t = (t | t<<8) & 0x00FF00FF00FF00FF // byte k in the low half of 16-bit lane k
	n := (t>>4)&0x000F000F000F000F | (t&0x000F000F000F000F)<<8
	// '0'+n, plus 'a'-'0'-10 = 39 where n > 9 (n+6 carries into bit 4).
	above9 := ((n + 0x0606060606060606) >> 4) & 0x0101010101010101
	return n + 0x3030303030303030 + above9*39
}
