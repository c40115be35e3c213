package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/eddyhq/eddy/core"
)

// maxRecord is the longest record the text readers accept.
const maxRecord = 64 << 20

// jsonReader splits a stream of JSON values: one a line, or back to back with nothing between
// them, as Firehose writes records when no delimiter was configured. Each value is a record.
type jsonReader struct {
	src      io.Reader
	buf      []byte
	pos, end int
	eof      bool
	rerr     error
	key      string
	n        int
	off      int64 // offset of buf[0] in the object, for messages
	// lines: the values so far were each a line of its own (JSON lines), so the next one likely
	// is too, and a newline search finds its end faster than the scanner.
	lines bool
	ids   idSlab
	// bufs gives the buffers to read into (nil: new ones each time) and takes back those no
	// longer read into.
	bufs *buffers
}

func newJSONReader(src io.Reader, key string) *jsonReader {
	return &jsonReader{src: src, buf: make([]byte, 64<<10), key: key}
}

// buffer returns the buffer being read into: the last records point into it.
func (j *jsonReader) buffer() []byte { return j.buf }

// fill reads more input, after buf[:end]. The bytes before keep may have been returned as records,
// which keep pointing at them: fill never writes over them. When the buffer has too little room
// left, it moves buf[keep:end] to the front of a fresh buffer (a larger one when the kept bytes
// need it) and hands the old one back to j.bufs. It returns how far the kept bytes moved.
func (j *jsonReader) fill(keep int) (moved int, err error) {
	if j.rerr != nil {
		return 0, j.rerr
	}
	if len(j.buf)-j.end < minRead {
		kept := j.end - keep
		if kept >= maxRecord {
			return 0, fmt.Errorf("record %d at byte %d: longer than %d bytes", j.n+1, j.off+int64(keep), maxRecord)
		}
		nb := j.bufs.get(max(2*kept, kept+minRead))
		copy(nb, j.buf[keep:j.end])
		j.bufs.put(j.buf[:0])
		j.buf = nb
		j.end -= keep
		j.pos -= keep
		j.off += int64(keep)
		moved = keep
	}
	k, err := j.src.Read(j.buf[j.end:])
	j.end += k
	if errors.Is(err, io.EOF) {
		j.eof = true
	} else if err != nil {
		j.rerr = err
		if k == 0 {
			return moved, err
		}
	}
	return moved, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func (j *jsonReader) read(rec *core.Record) (bool, error) {
	// Skip white space between values.
	for {
		for j.pos < j.end && isSpace(j.buf[j.pos]) {
			j.pos++
		}
		if j.pos < j.end {
			break
		}
		if j.eof {
			return false, nil
		}
		if _, err := j.fill(j.pos); err != nil {
			return false, err
		}
	}
	start := j.pos
	if j.lines && j.buf[start] == '{' {
		if i := bytes.IndexByte(j.buf[start:j.end], '\n'); i > 0 {
			e := start + i
			for e > start && j.buf[e-1] == '\r' {
				e--
			}
			// A line holding one object ends with its closing brace; JSON strings hold no raw
			// newline, so an object that spans lines does not pass (it goes to the scanner).
			if j.buf[e-1] == '}' && oneObject(j.buf[start:e]) {
				j.pos = start + i + 1
				return j.record(rec, start, e), nil
			}
		}
	}
	switch j.buf[start] {
	case '}', ']', ',', ':':
		return false, fmt.Errorf("record %d at byte %d: unexpected %q", j.n+1, j.off+int64(start), j.buf[start])
	}
	depth, inStr, esc := 0, false, false
	i := j.pos
	scalar := j.buf[i] != '{' && j.buf[i] != '['
	for {
		if i == j.end {
			if j.eof {
				if scalar && !inStr {
					break
				}
				return false, fmt.Errorf("record %d at byte %d: truncated JSON value", j.n+1, j.off+int64(start))
			}
			moved, err := j.fill(start)
			if err != nil {
				return false, err
			}
			start -= moved
			i -= moved
			continue
		}
		c := j.buf[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			i++
			continue
		}
		if scalar {
			if isSpace(c) || c == '{' || c == '[' || (c == '"' && i > start) {
				break
			}
			if c == '"' {
				inStr = true
			}
			i++
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return false, fmt.Errorf("record %d at byte %d: unexpected %q", j.n+1, j.off+int64(i), c)
			}
		}
		i++
		if depth == 0 {
			break
		}
	}
	j.pos = i
	j.lines = j.pos < j.end && (j.buf[j.pos] == '\n' || j.buf[j.pos] == '\r')
	return j.record(rec, start, i), nil
}

func (j *jsonReader) record(rec *core.Record, start, end int) bool {
	j.n++
	id, at := j.ids.make(j.key, j.n)
	*rec = core.Record{ID: id, Offset: id[at:], Data: j.buf[start:end:end]}
	return true
}

// oneObject reports whether a line from '{' to '}' is one object rather than objects back to back
// ("{...}{...}"): no "}" followed by "{" outside strings. It checks cheaply what the scanner would
// find: a "}{" pair is rare inside strings, and then the scanner decides.
func oneObject(b []byte) bool {
	for i := bytes.IndexByte(b, '}'); i >= 0 && i < len(b)-1; {
		k := i + 1
		for k < len(b) && isSpace(b[k]) {
			k++
		}
		if k < len(b) && (b[k] == '{' || b[k] == '[') {
			return false
		}
		n := bytes.IndexByte(b[i+1:], '}')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	return true
}

// lineReader splits text into lines (Pub/Sub text objects whose messages are not JSON): each
// non-blank line is a record.
type lineReader struct {
	src  *lineSource
	key  string
	line int
	ids  idSlab
}

type lineSource struct {
	r interface {
		ReadSlice(delim byte) ([]byte, error)
	}
	long []byte
}

func newLineReader(br interface {
	ReadSlice(delim byte) ([]byte, error)
}, key string) *lineReader {
	return &lineReader{src: &lineSource{r: br}, key: key}
}

func (l *lineReader) read(rec *core.Record) (bool, error) {
	for {
		b, err := l.src.r.ReadSlice('\n')
		if errors.Is(err, bufioFull) {
			// A line longer than the buffer: gather it.
			l.src.long = append(l.src.long[:0], b...)
			for errors.Is(err, bufioFull) {
				b, err = l.src.r.ReadSlice('\n')
				l.src.long = append(l.src.long, b...)
				if len(l.src.long) > maxRecord {
					return false, fmt.Errorf("line %d: longer than %d bytes", l.line+1, maxRecord)
				}
			}
			b = l.src.long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if len(b) == 0 && err != nil {
			return false, nil
		}
		l.line++
		b = bytes.TrimRight(b, "\r\n")
		if len(bytes.TrimSpace(b)) == 0 {
			if err != nil {
				return false, nil
			}
			continue
		}
		id, at := l.ids.make(l.key, l.line)
		*rec = core.Record{ID: id, Offset: id[at:], Data: b}
		return true, nil
	}
}

// bufioFull is bufio.ErrBufferFull, named here so that lineReader takes any ReadSlice source.
var bufioFull = bufio.ErrBufferFull
