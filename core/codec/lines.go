package codec

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/eddyhq/eddy/core"
)

// DefaultMaxLine is the default longest line Lines accepts.
const DefaultMaxLine = 64 << 20

// slabSize is the size of the blocks Lines copies lines into: one allocation per many small lines.
const slabSize = 256 << 10

// Lines splits newline-delimited input (a file, stdin; gzip-compressed input is detected by its magic
// bytes) into records for a replay: record i has ID "NAME:LINE", Offset "LINE" (1-based line
// numbers, so offsets grow) and the line as Data ("\r\n" endings trimmed). Blank lines are skipped but
// counted. Each record's Data stays valid after later calls (lines are copied into shared blocks).
//
//	lines, err := codec.NewLines(f, "events.ndjson")
//	for lines.Next(&rec) { ... }
//	if err := lines.Err(); err != nil { ... }
type Lines struct {
	// MaxLine is the longest line accepted (DefaultMaxLine unless changed before the first Next).
	MaxLine int

	name  string
	r     *bufio.Reader
	gz    *gzip.Reader
	line  int
	long  []byte
	slab  []byte
	idBuf []byte
	err   error
}

// NewLines returns a Lines reading r; name is the ID prefix of its records. It fails only when r is
// gzip-compressed and its header is bad.
func NewLines(r io.Reader, name string) (*Lines, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	l := &Lines{MaxLine: DefaultMaxLine, name: name, r: br}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		l.gz = gz
		l.r = bufio.NewReaderSize(gz, 64<<10)
	}
	return l, nil
}

// Next reads the next non-blank line into rec (replacing all its members) and reports whether there
// was one; at the end or on an error it returns false, and Err says which.
func (l *Lines) Next(rec *core.Record) bool {
	for l.err == nil {
		line, err := l.readLine()
		if err != nil && (err != io.EOF || len(line) == 0) {
			if err != io.EOF {
				l.err = err
			} else {
				l.err = io.EOF
			}
			return false
		}
		l.line++
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(l.slab) < len(line) {
			l.slab = make([]byte, max(slabSize, len(line)))
		}
		data := l.slab[:len(line):len(line)]
		copy(data, line)
		l.slab = l.slab[len(line):]
		// One allocation for both: the offset is the tail of the id.
		l.idBuf = append(append(l.idBuf[:0], l.name...), ':')
		l.idBuf = strconv.AppendInt(l.idBuf, int64(l.line), 10)
		id := string(l.idBuf)
		*rec = core.Record{ID: id, Offset: id[len(l.name)+1:], Data: data}
		return true
	}
	return false
}

// readLine returns the next line with its newline; a line longer than the reader's buffer is
// assembled in l.long.
func (l *Lines) readLine() ([]byte, error) {
	line, err := l.r.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	l.long = append(l.long[:0], line...)
	for err == bufio.ErrBufferFull {
		if len(l.long) > l.MaxLine {
			return nil, fmt.Errorf("line %d: longer than %d bytes", l.line+1, l.MaxLine)
		}
		line, err = l.r.ReadSlice('\n')
		l.long = append(l.long, line...)
	}
	if len(bytes.TrimRight(l.long, "\r\n")) > l.MaxLine {
		return nil, fmt.Errorf("line %d: longer than %d bytes", l.line+1, l.MaxLine)
	}
	return l.long, err
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
