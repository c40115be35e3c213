package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/klauspost/compress/gzip"

	"github.com/eddyhq/eddy/core"
)

// DefaultMaxLine is the default longest line Lines accepts.
const DefaultMaxLine = 64 << 20

// slabSize is the size of the blocks Next copies lines into: one allocation per many small lines.
const slabSize = 256 << 10

// idArenaSize is the size of the blocks record ids are written into: one allocation per thousands
// of ids instead of one per line.
const idArenaSize = 64 << 10

// idCopy is the length of id's fixed-size copy: ids up to this long (most) are copied in one move.
const idCopy = 32

// readChunk is the most Lines reads at once. Reading more than a batch needs would only leave more
// to carry over into the next buffer; 64 KiB keeps system calls few and the carry-over small.
const readChunk = 64 << 10

// minRead is the least NextBatch reads at once, near the end of a batch.
const minRead = 4 << 10

// AttrReadError is the record attribute Lines sets on a line it could not read whole (a line longer
// than MaxLine): the record's Data is then only the line's first OverlongPrefix bytes, and Decoder
// turns the record into a failure with this attribute's text as the reason, so the line is
// dead-lettered by name and the input goes on.
const AttrReadError = "eddy.read_error"

// OverlongPrefix is how much of an overlong line Lines keeps, for the dead-letter output.
const OverlongPrefix = 256

// Lines splits newline-delimited input (a file, stdin; gzip-compressed input is detected by its magic
// bytes) into records for a replay: record i has ID "NAME:LINE", Offset "LINE" (1-based line
// numbers, so offsets grow) and the line as Data ("\r\n" endings trimmed). Blank lines are skipped but
// counted, in constant memory however many follow each other. A line longer than MaxLine is skipped
// in constant memory too, past what it has read already, and comes out as a record holding the line's
// start with the AttrReadError attribute: a per-record failure, not the end of the input.
//
// Next copies each line, so its records stay valid after later calls. NextBatch fills many records
// at once without copying: their Data point into Lines' buffers and stay valid until the second
// NextBatch call after (so one goroutine can read a batch while another processes the previous one).
// The IDs and Offsets of both stay valid for good.
//
//	lines, err := codec.NewLines(f, "events.ndjson")
//	for lines.Next(&rec) { ... }
//	if err := lines.Err(); err != nil { ... }
type Lines struct {
	// MaxLine is the longest line accepted (DefaultMaxLine unless changed before the first Next or
	// NextBatch).
	MaxLine int
	// MaxInput, when positive, bounds the bytes read, counted after decompression: past it reading
	// stops with an error wrapping ErrInputTooLarge (a small gzip body can expand a thousandfold).
	MaxInput int64

	name   string
	prefix string // name + ":"
	src    io.Reader
	gz     *gzip.Reader

	// The input not yet split is buf[pos:end]; buf is one of bufs, which NextBatch takes in turn
	// (three: a parallel replay runs one batch while it decodes the next and reads the one after).
	bufs     [3][]byte
	cur      int
	buf      []byte
	pos, end int
	eof      bool

	line int
	read int64  // bytes read, for the average line length
	left int    // lines NextBatch still wants, for the read size
	idt  []byte // prefix and the decimal digits of line, counted up in place
	slab []byte
	ids  []byte
	rerr error // a read error not yet reported: data read before it comes first
	err  error
	// overlong is the length of the line nextLine last returned when it was longer than MaxLine
	// (only its first OverlongPrefix bytes were returned), 0 otherwise.
	overlong int64
}

// NewLines returns a Lines reading r; name is the ID prefix of its records. It reads the start of r
// to see whether it is gzip-compressed, and fails only when it is and its header is bad.
func NewLines(r io.Reader, name string) (*Lines, error) {
	l := &Lines{MaxLine: DefaultMaxLine, name: name, src: r, prefix: name + ":",
		idt: append(make([]byte, 0, len(name)+idCopy), name+":0"...)}
	// The first block goes straight into the first buffer: no bufio.Reader, whose copies would be
	// one more pass over the input.
	buf := make([]byte, 2*readChunk)
	n, err := 0, error(nil)
	for n < 2 && err == nil {
		var k int
		k, err = r.Read(buf[n:])
		n += k
	}
	if n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b {
		var rest io.Reader = r
		if err != nil {
			rest = errReader{err}
		}
		gz, err := gzip.NewReader(bufio.NewReaderSize(io.MultiReader(bytes.NewReader(buf[:n]), rest), 64<<10))
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		l.gz, l.src = gz, gz
		return l, nil
	}
	l.buf, l.bufs[0], l.end, l.read = buf, buf, n, int64(n)
	switch {
	case err == io.EOF:
		l.eof = true
	case err != nil:
		l.rerr = err
	}
	return l, nil
}

// ErrInputTooLarge is wrapped by the error of a Lines whose input exceeded MaxInput.
var ErrInputTooLarge = errors.New("input too large")

// overInput reports, and records as the error, input past MaxInput.
func (l *Lines) overInput() bool {
	if l.MaxInput > 0 && l.read > l.MaxInput {
		l.err = fmt.Errorf("%w: more than %d bytes (decompressed)", ErrInputTooLarge, l.MaxInput)
		return true
	}
	return false
}

// errReader fails with err: the reader under a gzip stream after it failed while NewLines looked
// at its first bytes.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Next reads the next non-blank line into rec (replacing all its members) and reports whether there
// was one; at the end or on an error it returns false, and Err says which. Its records' Data stay
// valid after later calls; calling it may overwrite the Data of records NextBatch returned.
func (l *Lines) Next(rec *core.Record) bool {
	start, end, ok := l.nextLine(l.pos)
	if !ok {
		return false
	}
	line := l.buf[start:end]
	if len(l.slab) < len(line) {
		l.slab = make([]byte, max(slabSize, len(line)))
	}
	data := l.slab[:len(line):len(line)]
	copy(data, line)
	l.slab = l.slab[len(line):]
	id := l.id()
	*rec = core.Record{ID: id, Offset: id[len(l.prefix):], Data: data}
	l.markOverlong(rec)
	return true
}

// markOverlong gives rec the AttrReadError attribute when the line nextLine last returned was cut.
func (l *Lines) markOverlong(rec *core.Record) {
	if l.overlong == 0 {
		return
	}
	rec.Attrs = map[string]string{AttrReadError: fmt.Sprintf("line %d is %d bytes, longer than the %d bytes a line may hold (the line is skipped; its first %d bytes are kept here)", l.line, l.overlong, l.MaxLine, OverlongPrefix)}
	l.overlong = 0
}

// NextBatch reads up to len(recs) non-blank lines into recs (replacing all their members) and
// returns how many; 0 means the end of the input or an error, and Err says which. The records'
// Data point into Lines' buffer: they stay valid until the third NextBatch call after this one (or
// the next Next call). A read error ends a batch early; the next call returns 0.
func (l *Lines) NextBatch(recs []core.Record) int {
	if l.err != nil || len(recs) == 0 {
		return 0
	}
	// Start in the next buffer, carrying over what the last batch did not use, so that the records
	// the last call returned stay intact while these are read.
	rest := l.buf[l.pos:l.end]
	l.cur = (l.cur + 1) % len(l.bufs)
	next := l.bufs[l.cur]
	if size := max(len(rest)+readChunk, len(l.buf), 2*readChunk); cap(next) < size {
		next = make([]byte, size)
	}
	next = next[:cap(next)]
	l.buf, l.pos, l.end = next, 0, copy(next, rest)

	// The batch's records use the buffer from its start: nextLine(0) never moves them in place; when
	// a batch does not fit it copies everything into a larger buffer, leaving the records already
	// made pointing at the old one, which nothing writes to any more.
	n := 0
	for n < len(recs) {
		var start, end int
		if i := bytes.IndexByte(l.buf[l.pos:l.end], '\n'); i > 0 && i <= l.MaxLine &&
			l.buf[l.pos+i-1] != '\r' && l.buf[l.pos] > ' ' && l.buf[l.pos] < 0x80 {
			// The common line, in the buffer, no "\r", not blank: what nextLine would do, inline.
			start, end = l.pos, l.pos+i
			l.pos = end + 1
			l.count()
		} else {
			var ok bool
			l.left = len(recs) - n
			start, end, ok = l.nextLine(0)
			l.left = 0
			if !ok {
				break
			}
		}
		// Member by member: cheaper than a whole Record, and most members are already empty.
		r := &recs[n]
		r.ID = l.id()
		r.Offset = r.ID[len(l.prefix):]
		r.Data = l.buf[start:end:end]
		if r.Key != "" || r.Attrs != nil || !r.Time.IsZero() {
			r.Key, r.Attrs, r.Time = "", nil, time.Time{}
		}
		l.markOverlong(r)
		n++
	}
	l.bufs[l.cur] = l.buf
	return n
}

// nextLine finds the next non-blank line, reading more input as needed, and returns its bounds in
// l.buf ("\r" endings trimmed), having counted it. To make room it moves l.buf[keep:l.end] to the
// start of the buffer, or into a larger one; bounds it returned before are then stale.
func (l *Lines) nextLine(keep int) (start, end int, ok bool) {
	// Input before floor is the caller's (NextBatch's records); what lies between floor and l.pos
	// is blank lines already skipped, which may go.
	floor := l.pos
	scan := l.pos // no newline in l.buf[l.pos:scan]
	for l.err == nil {
		i := bytes.IndexByte(l.buf[scan:l.end], '\n')
		if i < 0 && !l.eof {
			scan = l.end
			if l.checkLong() != nil {
				return l.skipLong()
			}
			moved := l.fill(keep)
			scan -= moved
			keep -= moved
			continue
		}
		start, end = l.pos, l.end
		if i >= 0 {
			end = scan + i
			l.pos = end + 1
		} else if l.pos == l.end {
			l.err = io.EOF
			return 0, 0, false
		} else {
			l.pos = l.end
		}
		scan = l.pos
		l.count()
		for end > start && l.buf[end-1] == '\r' {
			end--
		}
		if blank(l.buf[start:end]) {
			if l.pos-floor >= readChunk {
				// A run of blank lines: drop it rather than let the buffer grow with it.
				l.end = floor + copy(l.buf[floor:], l.buf[l.pos:l.end])
				l.pos, scan = floor, floor
			}
			continue
		}
		if end-start > l.MaxLine {
			l.overlong = int64(end - start)
			return start, start + min(OverlongPrefix, l.MaxLine), true
		}
		return start, end, true
	}
	return 0, 0, false
}

// checkLong fails when the line being read, l.buf[l.pos:l.end] so far, is already longer than
// MaxLine (trailing "\r" do not count: a newline may follow them).
func (l *Lines) checkLong() error {
	part := l.buf[l.pos:l.end]
	if len(part) <= l.MaxLine {
		return nil
	}
	if len(part) > 2*l.MaxLine+readChunk || len(bytes.TrimRight(part[l.MaxLine:], "\r")) > 0 {
		return fmt.Errorf("line %d: longer than %d bytes", l.line+1, l.MaxLine)
	}
	return nil
}

// skipLong is nextLine once the line being read, l.buf[l.pos:l.end] so far, has grown longer than
// MaxLine: it keeps the line's first OverlongPrefix bytes where they are, reads on and drops the
// rest of the line as it comes (in place, after the kept bytes), and returns the kept bytes as the
// line, with l.overlong set to the line's whole length. The input after the line follows the kept
// bytes in l.buf.
func (l *Lines) skipLong() (start, end int, ok bool) {
	start, end = l.pos, l.pos+min(OverlongPrefix, l.MaxLine)
	total := int64(l.end - l.pos)
	l.end = end
	if len(l.buf)-end < readChunk {
		// Room to read into; records NextBatch made stay in the old buffer, untouched.
		nb := make([]byte, end+2*readChunk)
		copy(nb, l.buf[:end])
		l.buf = nb
	}
	for {
		if l.rerr != nil || l.eof {
			break
		}
		n, err := l.src.Read(l.buf[end:min(len(l.buf), end+readChunk)])
		l.read += int64(n)
		if l.overInput() {
			return 0, 0, false
		}
		switch {
		case err == io.EOF:
			l.eof = true
		case err != nil:
			l.rerr = err
		}
		if i := bytes.IndexByte(l.buf[end:end+n], '\n'); i >= 0 {
			total += int64(i)
			l.end = end + copy(l.buf[end:], l.buf[end+i+1:end+n])
			break
		}
		total += int64(n)
	}
	l.pos = end
	l.count()
	l.overlong = total
	return start, end, true
}

// fill reads more input after l.end, first making room: it moves l.buf[keep:l.end] to the start of
// the buffer, or copies it into a larger one when that would leave less than half of it free or
// when keep is 0 (NextBatch: its records stay where they are). It returns by how much l.buf[keep:]
// moved. A read error is kept until the data read before it has been split.
func (l *Lines) fill(keep int) (moved int) {
	if l.rerr != nil {
		l.err = l.rerr
		return 0
	}
	if len(l.buf)-l.end < readChunk/2 {
		live := l.end - keep
		buf := l.buf
		if keep == 0 || 2*live > len(l.buf) {
			buf = make([]byte, max(2*len(l.buf), 2*readChunk))
		}
		copy(buf, l.buf[keep:l.end])
		l.buf, l.pos, l.end, moved = buf, l.pos-keep, live, keep
	}
	size := readChunk
	if l.left > 0 && l.line > 0 {
		// Read about what the batch still needs, judging by the lines so far: what is read
		// beyond the batch is copied into the next buffer.
		size = min(max((l.left+1)*int(l.read/int64(l.line)), minRead), readChunk)
	}
	n, err := l.src.Read(l.buf[l.end:min(len(l.buf), l.end+size)])
	l.read += int64(n)
	l.end += n
	if l.overInput() {
		return moved
	}
	switch {
	case err == io.EOF:
		l.eof = true
	case err != nil:
		l.rerr = err
	}
	return moved
}

// count counts a line: l.line, and the decimal digits at the end of l.idt.
func (l *Lines) count() {
	l.line++
	for i := len(l.idt) - 1; i >= len(l.prefix); i-- {
		if l.idt[i] < '9' {
			l.idt[i]++
			return
		}
		l.idt[i] = '0'
	}
	// One more digit: rebuild, with idCopy bytes to spare for the fixed-size copy in id.
	idt := make([]byte, 0, len(l.idt)+1+idCopy)
	l.idt = append(append(append(idt, l.prefix...), '1'), l.idt[len(l.prefix):]...)
}

// id returns "NAME:LINE" for the current line, written into a shared block that is only ever
// appended to, so the strings made from it never change.
func (l *Lines) id() string {
	n := len(l.idt)
	if cap(l.ids)-len(l.ids) < max(n, idCopy) {
		l.ids = make([]byte, 0, max(idArenaSize, n))
	}
	at := len(l.ids)
	if n <= idCopy {
		// A fixed-size copy compiles to a few moves, no call to memmove; the bytes past n land
		// where the next id goes, not in any string made so far.
		*(*[idCopy]byte)(l.ids[at : at+idCopy]) = [idCopy]byte(l.idt[:idCopy])
		l.ids = l.ids[:at+n]
	} else {
		l.ids = append(l.ids, l.idt...)
	}
	return unsafe.String(&l.ids[at], n)
}

// blank reports whether line is all white space.
func blank(line []byte) bool {
	if len(line) > 0 && line[0] > ' ' && line[0] < 0x80 {
		return false
	}
	return len(bytes.TrimSpace(line)) == 0
}

// Line is the number of the last line read.
func (l *Lines) Line() int { return l.line }

// Err returns the error that stopped Next, or nil at a clean end of input.
func (l *Lines) Err() error {
	if errors.Is(l.err, io.EOF) {
		return nil
	}
	if l.err != nil {
		return fmt.Errorf("%s: %w", l.name, l.err)
	}
	return nil
}

// Close releases the gzip reader, if any (it does not close the underlying reader).
func (l *Lines) Close() error {
	if l.gz != nil {
		return l.gz.Close()
	}
	return nil
}
