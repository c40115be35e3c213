package codec

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/eddyhq/eddy/core"
)

// maxDepth is encoding/json's nesting limit, so the scanner accepts exactly what json.Valid accepts.
const maxDepth = 10000

// String flags from scanString.
const (
	flagEsc  = 1 << iota // the string has a backslash escape
	flagHigh             // the string has bytes >= 0x80 (maybe invalid UTF-8)
)

// node is one step of the trie of wanted payload paths. The scanner walks the payload and the trie
// together: members and elements with no node are validated and skipped without being decoded.
type node struct {
	name     string
	index    int   // the array index the name addresses, or -1
	slots    []int // field slots whose path ends here (usually one)
	sub      []int // slots of all descendants: reset when the member repeats (the last one wins)
	children []*node
	byName   map[string]*node // for wide objects
	intern   bool             // intern string values (the event key)
	isTime   bool             // keep the number token (event time, parsed exactly)
	timeOnly bool             // only the hidden event-time slot: a string value needs no copy
	short    bool             // name is at most 8 bytes: word holds it
	word     uint64
}

func (n *node) child(name string, create bool) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	if !create {
		return nil
	}
	c := &node{name: name, index: index(name)}
	if len(name) <= 8 {
		var w [8]byte
		copy(w[:], name)
		c.short, c.word = true, binary.LittleEndian.Uint64(w[:])
	}
	n.children = append(n.children, c)
	return c
}

// finish computes sub and byName bottom-up.
func (n *node) finish() []int {
	var all []int
	for _, c := range n.children {
		all = append(all, c.slots...)
		all = append(all, c.finish()...)
	}
	n.sub = all
	if len(n.children) > 8 {
		n.byName = make(map[string]*node, len(n.children))
		for _, c := range n.children {
			n.byName[c.name] = c
		}
	}
	return all
}

// scanState is the per-Decode state of the scanner: the field slots being filled and what went wrong.
type scanState struct {
	fields  []core.Value
	timeTok []byte // the event-time number's text (aliases the payload for the call)
	timeDec decimal
	timeStr []byte // the event-time string of a timeOnly node (aliases the payload or timeBuf)
	timeBuf []byte
	// A syntax error: position and message.
	synPos int
	synMsg string
	// A field error: the node and the reason.
	errNode   *node
	errReason string
	// Scratch buffers.
	str    []byte
	name   []byte
	intern map[string]string
	cache  *[internCacheSize]internEntry
	numBuf []byte
	b64    []byte // a structured CloudEvent's data_base64 text
	ct     []byte // and its datacontenttype
	ceHits []ceHit
}

const internLimit = 1 << 16  // entries; the map is cleared when it grows past this
const internMaxLen = 256     // longer strings are not interned
const internCacheSize = 2048 // entries of 32 bytes, in sets of two: 64 KB

func (s *scanState) fail(pos int, msg string) int {
	s.synPos, s.synMsg = pos, msg
	return -1
}

func (s *scanState) unexpected(b []byte, i int) int {
	if i >= len(b) {
		return s.fail(i, "unexpected end of input")
	}
	c := b[i]
	if c >= 0x20 && c < 0x7f {
		return s.fail(i, "unexpected '"+string(rune(c))+"'")
	}
	return s.fail(i, "unexpected byte 0x"+strconv.FormatUint(uint64(c), 16))
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		c := b[i]
		if c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return i
		}
		i++
	}
	return i
}

// plain marks string bytes that need no attention.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 finds the string bytes that need attention among 8 (little endian): a quote, a backslash,
// a control character or a byte >= 0x80. The lowest set high bit marks the first one (SWAR; borrows
// may also mark bytes after it, never before).
func special8(x uint64) uint64 {
	lt := (x - ones*0x20) &^ x
	q := x ^ (ones * '"')
	q = (q - ones) &^ q
	bs := x ^ (ones * '\\')
	bs = (bs - ones) &^ bs
	return (lt | q | bs | x) & highs
}

var hexVal = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

// scanString validates the string starting at b[i] == '"' and returns the index after its closing
// quote and its flags.
func (s *scanState) scanString(b []byte, i int) (int, uint8) {
	var fl uint8
	i++
	for {
		if i+8 <= len(b) {
			m := special8(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else {
			for i < len(b) && plain[b[i]] {
				i++
			}
			if i >= len(b) {
				return s.fail(i, "unexpected end of input in string"), 0
			}
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, fl
		case c == '\\':
			fl |= flagEsc
			if i+1 >= len(b) {
				return s.fail(i+1, "unexpected end of input in string"), 0
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return s.fail(len(b), "unexpected end of input in string"), 0
				}
				for k := i + 2; k < i+6; k++ {
					if hexVal[b[k]] < 0 {
						return s.fail(k, "invalid \\u escape"), 0
					}
				}
				i += 6
			default:
				return s.fail(i+1, "invalid escape '\\"+string(rune(b[i+1]))+"'"), 0
			}
		case c < 0x20:
			return s.fail(i, "control character 0x"+strconv.FormatUint(uint64(c), 16)+" in string"), 0
		default:
			fl |= flagHigh
			i++
		}
	}
}

// text returns the content of a scanned string (raw without its quotes), unescaped into buf if
// needed, with encoding/json's treatment of invalid UTF-8 and lone surrogates (U+FFFD).
func text(raw []byte, fl uint8, buf *[]byte) []byte {
	if fl == 0 || (fl&flagEsc == 0 && utf8.Valid(raw)) {
		return raw
	}
	out := (*buf)[:0]
	for i := 0; i < len(raw); {
		c := raw[i]
		if c == '\\' {
			switch raw[i+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := u4(raw[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, u4(raw[i+2:])); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // '"', '\\', '/'
				out = append(out, raw[i+1])
			}
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, raw[i:i+size]...)
		}
		i += size
	}
	*buf = out
	return out
}

func u4(b []byte) rune {
	return rune(hexVal[b[0]])<<12 | rune(hexVal[b[1]])<<8 | rune(hexVal[b[2]])<<4 | rune(hexVal[b[3]])
}

// scanNumber validates the JSON number at b[i] and returns its end.
func (s *scanState) scanNumber(b []byte, i int) int {
	j := i
	if b[j] == '-' {
		j++
	}
	if j >= len(b) {
		return s.unexpected(b, j)
	}
	switch c := b[j]; {
	case c == '0':
		j++
	case c >= '1' && c <= '9':
		j++
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return s.unexpected(b, j)
	}
	if j < len(b) && b[j] == '.' {
		j++
		if j >= len(b) || b[j] < '0' || b[j] > '9' {
			return s.unexpected(b, j)
		}
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= len(b) || b[j] < '0' || b[j] > '9' {
			return s.unexpected(b, j)
		}
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	}
	return j
}

var pow10f = [23]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
	1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// decimal is a number as mant * 10^exp, kept so that timestamps convert exactly (a float64 cannot
// hold a nanosecond timestamp). fits is false when the number had more than 19 digits.
type decimal struct {
	mant uint64
	exp  int
	neg  bool
	fits bool
}

// eightDigits converts 8 ASCII digits at once (SWAR), reporting whether all 8 bytes are digits.
func eightDigits(b []byte) (uint64, bool) {
	v := binary.LittleEndian.Uint64(b)
	if (v&0xF0F0F0F0F0F0F0F0)|(((v+0x0606060606060606)&0xF0F0F0F0F0F0F0F0)>>4) != 0x3333333333333333 {
		return 0, false
	}
	v = (v & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8
	v = (v & 0x00FF00FF00FF00FF) * 6553601 >> 16
	return (v & 0x0000FFFF0000FFFF) * 42949672960001 >> 32, true
}

// number validates the JSON number at b[i] and converts it in the same pass. It returns the end (-1
// on a syntax error), the value, the decimal, and inRange (false when the number is beyond float64,
// which encoding/json refuses too). Up to 2^53 and a power of ten up to 22 one correctly rounded
// operation gives the exact result (Clinger's fast path); otherwise strconv does it.
func (s *scanState) number(b []byte, i int) (int, float64, decimal, bool) {
	var d decimal
	j := i
	if b[j] == '-' {
		d.neg = true
		j++
	}
	if j >= len(b) {
		return s.unexpected(b, j), 0, d, false
	}
	start := j
	if c := b[j]; c == '0' {
		j++
	} else if c >= '1' && c <= '9' {
		for j+8 <= len(b) {
			v, ok := eightDigits(b[j:])
			if !ok {
				break
			}
			d.mant = d.mant*1e8 + v
			j += 8
		}
		for j < len(b) {
			c := b[j] - '0'
			if c > 9 {
				break
			}
			d.mant = d.mant*10 + uint64(c)
			j++
		}
	} else {
		return s.unexpected(b, j), 0, d, false
	}
	nd := j - start
	if j < len(b) && b[j] == '.' {
		j++
		fs := j
		for j+8 <= len(b) {
			v, ok := eightDigits(b[j:])
			if !ok {
				break
			}
			d.mant = d.mant*1e8 + v
			j += 8
		}
		for j < len(b) {
			c := b[j] - '0'
			if c > 9 {
				break
			}
			d.mant = d.mant*10 + uint64(c)
			j++
		}
		if j == fs {
			return s.unexpected(b, j), 0, d, false
		}
		nd += j - fs
		d.exp = fs - j
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		eneg := false
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			eneg = b[j] == '-'
			j++
		}
		es := j
		e := 0
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			if e < 100000 {
				e = e*10 + int(b[j]-'0')
			}
			j++
		}
		if j == es {
			return s.unexpected(b, j), 0, d, false
		}
		if eneg {
			e = -e
		}
		d.exp += e
	}
	d.fits = nd <= 19
	if d.fits && d.mant < 1<<53 && d.exp >= -22 && d.exp <= 22 {
		f := float64(d.mant)
		if d.exp < 0 {
			f /= pow10f[-d.exp]
		} else if d.exp > 0 {
			f *= pow10f[d.exp]
		}
		if d.neg {
			f = -f
		}
		return j, f, d, true
	}
	tok := b[i:j]
	// strconv does not keep the string (it clones it into errors), so no copy is needed.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), 64)
	if err != nil || math.IsInf(f, 0) {
		return j, 0, d, false
	}
	return j, f, d, true
}

// skipValue validates and skips the value at b[i].
func (s *scanState) skipValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return s.unexpected(b, i)
	}
	switch c := b[i]; c {
	case '"':
		end, _ := s.scanString(b, i)
		return end
	case '{':
		return s.scanObject(b, i, nil, depth)
	case '[':
		return s.scanArray(b, i, nil, depth)
	case 't':
		return s.literal(b, i, "true")
	case 'f':
		return s.literal(b, i, "false")
	case 'n':
		return s.literal(b, i, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return s.scanNumber(b, i)
		}
		return s.unexpected(b, i)
	}
}

func (s *scanState) literal(b []byte, i int, lit string) int {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return s.unexpected(b, i+k)
		}
	}
	return i + len(lit)
}

// scanObject walks the object at b[i] == '{', decoding the members n wants and validating the rest.
// n may be nil (skip everything).
func (s *scanState) scanObject(b []byte, i int, n *node, depth int) int {
	depth++
	if depth > maxDepth {
		return s.fail(i, "nesting deeper than 10000")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return s.unexpected(b, i)
		}
		end, fl := s.scanString(b, i)
		if end < 0 {
			return -1
		}
		var c *node
		if n != nil && len(n.children) > 0 {
			// Short plain names (the common case) match inline as one masked word.
			if ln := end - 2 - i; fl == 0 && ln <= 8 && i+9 <= len(b) {
				w := binary.LittleEndian.Uint64(b[i+1:]) & wordMask[ln]
				for _, ch := range n.children {
					if ch.word == w && ch.short && len(ch.name) == ln {
						c = ch
						break
					}
				}
			} else {
				c = n.member(b, i+1, end-1, fl, &s.name)
			}
		}
		// Compact JSON has no space around ':'.
		if end+1 < len(b) && b[end] == ':' && b[end+1] > ' ' {
			i = end + 1
		} else {
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return s.unexpected(b, i)
			}
			i = skipWS(b, i+1)
		}
		switch {
		case c == nil:
			i = s.skipValue(b, i, depth)
		case len(c.children) == 0:
			i = s.leaf(b, i, c, depth)
		default:
			i = s.value(b, i, c, depth)
		}
		if i < 0 {
			return -1
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return s.unexpected(b, i)
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if b[i] == '}' {
			return i + 1
		}
		return s.unexpected(b, i)
	}
}

// member finds the child for the member name b[start:end] (still escaped when fl says so). Short
// plain names compare as one masked 8-byte word.
func (n *node) member(b []byte, start, end int, fl uint8, buf *[]byte) *node {
	if len(n.children) == 0 {
		return nil
	}
	ln := end - start
	if fl == 0 && ln <= 8 && start+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[start:]) & wordMask[ln]
		for _, c := range n.children {
			if c.short && c.word == w && len(c.name) == ln {
				return c
			}
		}
		return nil
	}
	raw := b[start:end]
	if fl != 0 {
		raw = text(raw, fl, buf)
	}
	if n.byName != nil {
		return n.byName[string(raw)]
	}
	for _, c := range n.children {
		if c.name == string(raw) {
			return c
		}
	}
	return nil
}

var wordMask = [9]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, 0xffffffffffffffff}

// scanArray walks the array at b[i] == '[' like scanObject.
func (s *scanState) scanArray(b []byte, i int, n *node, depth int) int {
	depth++
	if depth > maxDepth {
		return s.fail(i, "nesting deeper than 10000")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for idx := 0; ; idx++ {
		var c *node
		if n != nil {
			for _, ch := range n.children {
				if ch.index == idx {
					c = ch
					break
				}
			}
		}
		if c == nil {
			i = s.skipValue(b, i, depth)
		} else {
			i = s.value(b, i, c, depth)
		}
		if i < 0 {
			return -1
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return s.unexpected(b, i)
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if b[i] == ']' {
			return i + 1
		}
		return s.unexpected(b, i)
	}
}

// value decodes the value at b[i] for node c: into c's slots, and into its descendants' when it is a
// container.
func (s *scanState) value(b []byte, i int, c *node, depth int) int {
	if len(c.children) == 0 {
		return s.leaf(b, i, c, depth)
	}
	for _, k := range c.sub {
		s.fields[k] = core.Value{}
	}
	if i >= len(b) {
		return s.unexpected(b, i)
	}
	start := i
	switch b[i] {
	case '{':
		i = s.scanObject(b, i, c, depth)
	case '[':
		i = s.scanArray(b, i, c, depth)
	default:
		if len(c.slots) > 0 {
			return s.leaf(b, i, c, depth)
		}
		return s.skipValue(b, i, depth)
	}
	if i >= 0 && len(c.slots) > 0 {
		s.set(c, core.Value{Kind: core.Object, Raw: b[start:i]})
	}
	return i
}

func (s *scanState) set(c *node, v core.Value) {
	if len(c.slots) == 1 {
		if k := c.slots[0]; uint(k) < uint(len(s.fields)) {
			s.fields[k] = v
		}
		return
	}
	for _, k := range c.slots {
		s.fields[k] = v
	}
}

func (s *scanState) setNum(c *node, f float64) {
	if len(c.slots) == 1 {
		if k := c.slots[0]; uint(k) < uint(len(s.fields)) {
			p := &s.fields[k]
			if p.Kind != core.Missing {
				*p = core.Value{}
			}
			p.Kind, p.Num = core.Number, f
		}
		return
	}
	s.set(c, core.Value{Kind: core.Number, Num: f})
}

func (s *scanState) setStr(c *node, str string) {
	if len(c.slots) == 1 {
		if k := c.slots[0]; uint(k) < uint(len(s.fields)) {
			p := &s.fields[k]
			if p.Kind != core.Missing {
				*p = core.Value{}
			}
			p.Kind, p.Str = core.String, str
		}
		return
	}
	s.set(c, core.Value{Kind: core.String, Str: str})
}

// leaf decodes the value at b[i] into c's slots.
func (s *scanState) leaf(b []byte, i int, c *node, depth int) int {
	if i >= len(b) {
		return s.unexpected(b, i)
	}
	switch ch := b[i]; ch {
	case '"':
		end, fl := s.scanString(b, i)
		if end < 0 {
			return -1
		}
		t := text(b[i+1:end-1], fl, &s.str)
		if c.timeOnly {
			if fl != 0 {
				s.timeBuf = append(s.timeBuf[:0], t...)
				t = s.timeBuf
			}
			s.timeStr = t
			s.setStr(c, "")
			return end
		}
		var str string
		if c.intern {
			str = s.internBytes(t)
		} else {
			str = string(t)
		}
		s.setStr(c, str)
		return end
	case '{', '[':
		end := s.skipValue(b, i, depth)
		if end >= 0 {
			s.set(c, core.Value{Kind: core.Object, Raw: b[i:end]})
		}
		return end
	case 't':
		s.set(c, core.Value{Kind: core.Bool, Bool: true})
		return s.literal(b, i, "true")
	case 'f':
		s.set(c, core.Value{Kind: core.Bool})
		return s.literal(b, i, "false")
	case 'n':
		s.set(c, core.Value{Kind: core.Null})
		return s.literal(b, i, "null")
	}
	end, f, dec, ok := s.number(b, i)
	if end < 0 {
		return -1
	}
	if !ok {
		s.errNode = c
		s.errReason = "number " + clip(string(b[i:end])) + " is out of range"
		return -1
	}
	s.setNum(c, f)
	if c.isTime {
		s.timeTok, s.timeDec = b[i:end], dec
	}
	return end
}

// internBytes returns b as a string, reusing an earlier copy so a repeated key does not allocate. A
// two-way cache in front of the map makes the common hit cheaper than a map lookup.
func (s *scanState) internBytes(b []byte) string {
	if len(b) > internMaxLen {
		return string(b)
	}
	if s.cache == nil {
		s.cache = new([internCacheSize]internEntry)
	}
	lo, hi := ends(b)
	h := cacheHash(lo, hi, len(b)) & (internCacheSize - 1) &^ 1
	// Two entries per set, so that keys sharing a set do not evict each other on every event.
	set := (*[2]internEntry)(s.cache[h : h+2])
	for k := range set {
		if e := &set[k]; e.lo == lo && e.hi == hi && len(e.str) == len(b) && (len(b) <= 16 || e.str == string(b)) {
			return e.str
		}
	}
	str, ok := s.intern[string(b)]
	if !ok {
		if s.intern == nil || len(s.intern) >= internLimit {
			s.intern = make(map[string]string, 1024)
		}
		str = string(b)
		s.intern[str] = str
	}
	set[1], set[0] = set[0], internEntry{lo: lo, hi: hi, str: str}
	return str
}

// internEntry is a cached interned string with its first and last 8 bytes (see ends): a string of
// up to 16 bytes is known equal by them and its length, without reading its bytes.
type internEntry struct {
	lo, hi uint64
	str    string
}

// ends returns the first and the last 8 bytes of b as words (b shorter than 8: its bytes in lo,
// hi 0). For len(b) <= 16 they cover every byte.
func ends(b []byte) (lo, hi uint64) {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[len(b)-8:])
	}
	for _, c := range b {
		lo = lo<<8 | uint64(c)
	}
	return lo, 0
}

// cacheHash is a cheap hash for the intern cache (a collision costs only a map lookup) of a
// string's ends and length.
func cacheHash(lo, hi uint64, n int) uint64 {
	x := lo ^ bits.RotateLeft64(hi, 31) ^ uint64(n)
	x *= 0x9E3779B97F4A7C15
	return x >> 40
}
