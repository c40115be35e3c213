package codec

import (
	"encoding/binary"
	"math/bits"
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

// flatObject decodes the object at b[i] == '{' for the members fm. It returns the end of the object
// and true, or false when it gave up (then the fields it set are to be discarded).
func (s *scanState) flatObject(b []byte, i int, fm []flatMember) (int, bool) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		var c *node
		matched := false
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
				c, matched = m.node, true
				i += 1 + m.n
				break
			}
		}
		if !matched {
			end, fl := s.scanString(b, i)
			if end < 0 || fl != 0 {
				return 0, false
			}
			name := b[i+1 : end-1]
			for k := range fm {
				if fm[k].node.name == string(name) {
					c = fm[k].node
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
		switch ch := b[i]; {
		case c == nil:
			i = s.skipValue(b, i, 1)
		case ch == '-' || ch-'0' <= 9:
			end, f, dec, ok := flatNumber(b, i)
			if !ok {
				i = s.leaf(b, i, c, 1)
				break
			}
			s.setNum(c, f)
			if c.isTime {
				s.timeTok, s.timeDec = b[i:end], dec
			}
			i = end
		default:
			i = s.leaf(b, i, c, 1)
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
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// flatNumber converts the number at b[i] when it is in the common form -?int(.frac)? with at most
// 19 digits, a mantissa below 2^53 and at most 22 fraction digits: then one correctly rounded
// division gives what strconv gives (Clinger's fast path, as in number). Otherwise ok is false and
// number must do it. It does not check what follows the number, except that it is not an exponent.
func flatNumber(b []byte, i int) (int, float64, decimal, bool) {
	var d decimal
	j := i
	if b[j] == '-' {
		d.neg = true
		j++
	}
	m, n := digitRun(b, j)
	if n == 0 || (n > 1 && b[j] == '0') {
		return 0, 0, d, false
	}
	j += n
	nd := n
	if j < len(b) && b[j] == '.' {
		fm, fn := digitRun(b, j+1)
		if fn == 0 || fn > 19 {
			return 0, 0, d, false
		}
		m = m*pow10u[fn] + fm
		nd += fn
		d.exp = -fn
		j += 1 + fn
	}
	if nd > 19 || m >= 1<<53 || d.exp < -22 || (j < len(b) && b[j]|0x20 == 'e') {
		return 0, 0, d, false
	}
	d.mant, d.fits = m, true
	f := float64(m)
	if d.exp < 0 {
		f /= pow10f[-d.exp]
	}
	if d.neg {
		f = -f
	}
	return j, f, d, true
}

// digitRun reads the decimal digits at b[j:]: their value (modulo 2^64) and count. Eight bytes at a
// time where the input allows.
func digitRun(b []byte, j int) (uint64, int) {
	var m uint64
	start := j
	for j+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[j:])
		nd := nonDigits(w)
		if nd == 0 {
			m = m*1e8 + digits8(w)
			j += 8
			continue
		}
		k := bits.TrailingZeros64(nd) >> 3
		// Shifting the k digits to the top leaves zero bytes below, which digits8 reads as '0's.
		return m*pow10u[k] + digits8(w<<(64-8*uint(k))), j + k - start
	}
	for j < len(b) && b[j]-'0' <= 9 {
		m = m*10 + uint64(b[j]-'0')
		j++
	}
	return m, j - start
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
