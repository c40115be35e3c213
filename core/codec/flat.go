package codec

import (
	"encoding/binary"
	"math/bits"

	"github.com/eddyhq/eddy/core"
)

// The flat fast path. Most event payloads are flat objects in compact JSON and most configurations
// want top-level members only (W1: {"key":"k","ts":1700000000000,"value":12.5}). For those,
// flatObject decodes the object in one tight loop: it recognizes a wanted member by comparing the
// bytes after the opening quote with `name":` as masked words (no string scan, no member lookup),
// and parses plain numbers with SWAR digit runs. Anything it does not handle inline (an escaped or
// non-ASCII member name, an exponent, a long mantissa, a syntax error, ...) makes it give up, and
// scanObject decodes the record from the start; so values and errors are always scanObject's, and
// the fast path only has to be right about what it accepts.

// flatMember is a top-level member a flat configuration wants.
type flatMember struct {
	node *node
	n    int    // len(`name":`)
	lo   uint64 // the first min(n, 8) bytes of `name":`, little endian
	mask uint64 // selects those bytes
	tail uint64 // the last 8 bytes of `name":` when n > 8
}

// maxFlatName bounds the member names matched inline (`name":` in two words).
const maxFlatName = 14

// flatPlan returns the flat members of root, or nil when some wanted path is nested, a name is not
// plain printable ASCII (its JSON text could differ from its bytes) or too long, or the object is
// wide (byName lookup).
func flatPlan(root *node) []flatMember {
	if root == nil || root.byName != nil || len(root.children) == 0 {
		return nil
	}
	var fm []flatMember
	for _, c := range root.children {
		if len(c.children) > 0 || len(c.name) > maxFlatName {
			return nil
		}
		for k := 0; k < len(c.name); k++ {
			if !plain[c.name[k]] || c.name[k] == 0x7f {
				return nil
			}
		}
		pat := c.name + `":`
		var w [16]byte
		copy(w[:], pat)
		m := flatMember{node: c, n: len(pat), lo: binary.LittleEndian.Uint64(w[:]), mask: wordMask[min(len(pat), 8)]}
		m.lo &= m.mask
		if len(pat) > 8 {
			m.tail = binary.LittleEndian.Uint64([]byte(pat[len(pat)-8:]))
		}
		fm = append(fm, m)
	}
	return fm
}

// flatObject decodes the object at b[i] == '{' for the members fm into all payload slots (a
// member that does not occur leaves its slots zero, so the fields need no clearing first). It
// returns the end of the object and true, or false when it gave up (then the fields are undefined).
func (s *scanState) flatObject(b []byte, i int, fm []flatMember) (int, bool) {
	var seen uint64 // bit k: fm[k] occurred
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		s.unseen(fm, seen)
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		var c *node
		matched := -1
		if i+9 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i+1:])
			for k := range fm {
				m := &fm[k]
				if w&m.mask != m.lo {
					continue
				}
				if m.n > 8 && (i+1+m.n > len(b) || binary.LittleEndian.Uint64(b[i+1+m.n-8:]) != m.tail) {
					continue
				}
				c, matched = m.node, k
				i += 1 + m.n
				break
			}
		}
		if matched < 0 {
			end, fl := s.scanString(b, i)
			if end < 0 || fl != 0 {
				return 0, false
			}
			name := b[i+1 : end-1]
			for k := range fm {
				if fm[k].node.name == string(name) {
					c, matched = fm[k].node, k
					break
				}
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, false
			}
			i++
		}
		if i < len(b) && b[i] <= ' ' {
			i = skipWS(b, i)
		}
		if i >= len(b) {
			return 0, false
		}
		if c == nil {
			i = s.skipValue(b, i, 1)
		} else {
			seen |= 1 << (uint(matched) & 63) // matched < len(fm) <= 8
			switch ch := b[i]; {
			case ch == '"':
				end, fl := s.scanString(b, i)
				if end < 0 || fl != 0 || c.timeOnly {
					i = s.leaf(b, i, c, 1)
					break
				}
				var str string
				if c.intern {
					str = s.internBytes(b[i+1 : end-1])
				} else {
					str = string(b[i+1 : end-1])
				}
				s.set(c, core.Value{Kind: core.String, Str: str})
				i = end
			case ch == '-' || ch-'0' <= 9:
				if end := s.flatNumber(b, i, c); end > 0 {
					i = end
					break
				}
				i = s.leaf(b, i, c, 1)
			default:
				i = s.leaf(b, i, c, 1)
			}
		}
		if i < 0 {
			return 0, false
		}
		if i < len(b) && b[i] <= ' ' {
			i = skipWS(b, i)
		}
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i++
			if i < len(b) && b[i] <= ' ' {
				i = skipWS(b, i)
			}
		case '}':
			if seen != 1<<uint(len(fm))-1 {
				s.unseen(fm, seen)
			}
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// unseen zeroes the slots of the members that did not occur.
func (s *scanState) unseen(fm []flatMember, seen uint64) {
	for k := range fm {
		if seen&(1<<uint(k)) == 0 {
			s.set(fm[k].node, core.Value{})
		}
	}
}

// flatNumber converts the number at b[i] into c's slots when it is in the common form
// -?int(.frac)? with at most 19 digits, a mantissa below 2^53 and at most 22 fraction digits: then
// one correctly rounded division gives what strconv gives (Clinger's fast path, as in number). It
// returns the end of the number, or 0 when number must do it. It does not check what follows the
// number, except that it is not an exponent. Digits go 8 at a time, without calls.
func (s *scanState) flatNumber(b []byte, i int, c *node) int {
	j := i
	neg := b[j] == '-'
	if neg {
		j++
	}
	start := j
	var m uint64
	n := 0
	for {
		w, ok := load8(b, j)
		if !ok {
			return 0
		}
		k := bits.TrailingZeros64(nonDigits(w)) >> 3 // the leading digits; by hand: a call costs more
		m = m*pow10u[k] + digits8(w<<(64-8*uint(k)))
		n += k
		j += k
		if k < 8 || n > 19 {
			break
		}
	}
	if n == 0 || (n > 1 && b[start] == '0') {
		return 0
	}
	exp := 0
	if j < len(b) && b[j] == '.' {
		j++
		fs := j
		for {
			w, ok := load8(b, j)
			if !ok {
				return 0
			}
			k := bits.TrailingZeros64(nonDigits(w)) >> 3
			m = m*pow10u[k] + digits8(w<<(64-8*uint(k)))
			n += k
			j += k
			if k < 8 || n > 19 {
				break
			}
		}
		if j == fs {
			return 0
		}
		exp = fs - j
	}
	if n > 19 || m >= 1<<53 || exp < -22 || (j < len(b) && b[j]|0x20 == 'e') {
		return 0
	}
	f := float64(m)
	if exp < 0 {
		f /= pow10f[-exp]
	}
	if neg {
		f = -f
	}
	if len(c.slots) == 1 && uint(c.slots[0]) < uint(len(s.fields)) {
		p := &s.fields[c.slots[0]]
		if p.Kind != core.Number || p.Str != "" || p.Bool || p.Raw != nil {
			*p = core.Value{}
		}
		p.Kind, p.Num = core.Number, f
	} else {
		s.set(c, core.Value{Kind: core.Number, Num: f})
	}
	if c.isTime {
		s.timeTok = b[i:j]
		s.timeDec = decimal{mant: m, exp: exp, neg: neg, fits: true}
	}
	return j
}

// load8 returns the 8 bytes at b[j:] as a little-endian word; past the end of b they read as 0 (not
// a digit). ok is false only when b is shorter than 8 bytes and j+8 is past its end.
func load8(b []byte, j int) (uint64, bool) {
	if j+8 <= len(b) {
		return binary.LittleEndian.Uint64(b[j:]), true
	}
	if len(b) < 8 || j > len(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[len(b)-8:]) >> (8 * uint(j+8-len(b))), true
}

// nonDigits marks (high bit of each byte) the bytes of x that are not ASCII digits. No carry or
// borrow crosses bytes, so every mark is exact.
func nonDigits(x uint64) uint64 {
	t := x & 0x7f7f7f7f7f7f7f7f
	above := t + 0x4646464646464646 // high bit set where t > '9'
	below := (t | highs) - ones*'0' // high bit clear where t < '0'
	return (above | ^below | x) & highs
}

// digits8 is the value of 8 digit bytes (little endian, first digit lowest); only the low nibble of
// each byte counts.
func digits8(v uint64) uint64 {
	v = (v & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8
	v = (v & 0x00FF00FF00FF00FF) * 6553601 >> 16
	return (v & 0x0000FFFF0000FFFF) * 42949672960001 >> 32
}
