package archive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/klauspost/compress/gzip"
)

// A Reader reads ahead: while the records of one object are split, the next few objects are
// downloaded and inflated, each by a goroutine of its own, into a short queue of chunks. An object
// store answers one request at a time slower than a local disk, and inflating costs as much as
// splitting, so doing all three one after the other on one goroutine left the replay's workers
// waiting (a third of the local file's rate from the blob stand-ins). The queues are bounded, so
// the read-ahead holds at most fetchAhead × (fetchChunks+1) chunks whatever the objects' sizes.
const (
	// fetchAhead is how many objects are read at once: the one being split and those after it.
	fetchAhead = 4
	// fetchChunks is how many chunks of an object may wait to be split.
	fetchChunks = 4
	// chunkSize is the size of a read-ahead chunk (inflated bytes).
	chunkSize = 256 << 10
)

// fetch is one object being read ahead.
type fetch struct {
	idx    int
	obj    Object
	chunks chan fetchChunk // closed after the last chunk
	cancel context.CancelFunc
	done   chan struct{}
}

// fetchChunk is a piece of an object's (inflated) bytes, or the error that ended it.
type fetchChunk struct {
	b   []byte
	raw int64 // the object's bytes read to make it (compressed, as listed), for progress
	err error
}

// startFetch starts reading object idx ahead.
func (r *Reader) startFetch(idx int) *fetch {
	ctx, cancel := context.WithCancel(r.ctx)
	f := &fetch{idx: idx, obj: r.objs[idx], chunks: make(chan fetchChunk, fetchChunks), cancel: cancel, done: make(chan struct{})}
	go r.runFetch(ctx, f)
	return f
}

// runFetch downloads an object, inflates it when it is gzip, and queues its bytes in chunks; an
// error is the last chunk.
func (r *Reader) runFetch(ctx context.Context, f *fetch) {
	defer close(f.done)
	defer close(f.chunks)
	send := func(c fetchChunk) bool {
		select {
		case f.chunks <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	body, err := r.bucket.NewReader(ctx, f.obj.Key, nil)
	if err != nil {
		send(fetchChunk{err: err})
		return
	}
	defer body.Close()
	cr := &countingReader{r: body}
	br := bufio.NewReaderSize(cr, 64<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			send(fetchChunk{err: fmt.Errorf("gzip: %w", err)})
			return
		}
		src = zr
	}
	var reported int64
	for {
		var b []byte
		select {
		case b = <-r.free:
		default:
			b = make([]byte, chunkSize)
		}
		n, err := io.ReadFull(src, b)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		raw := cr.n - reported
		reported = cr.n
		if n > 0 || raw > 0 {
			if !send(fetchChunk{b: b[:n], raw: raw}) {
				return
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			send(fetchChunk{err: err})
			return
		}
	}
}

// stop stops reading the object ahead and waits for its goroutine.
func (f *fetch) stop() {
	f.cancel()
	<-f.done
}

// chunkReader reads a fetched object's chunks in order, and hands their buffers back to the
// Reader's free list once read.
type chunkReader struct {
	f        *fetch
	free     chan []byte
	buf      []byte // the chunk being read, whole
	cur      []byte
	err      error
	progress func(int64)
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		if c.buf != nil {
			select {
			case c.free <- c.buf[:cap(c.buf)]:
			default:
			}
			c.buf = nil
		}
		if c.err != nil {
			return 0, c.err
		}
		ch, ok := <-c.f.chunks
		if !ok {
			c.err = io.EOF
			continue
		}
		if ch.err != nil {
			c.err = ch.err
			continue
		}
		if c.progress != nil && ch.raw > 0 {
			c.progress(ch.raw)
		}
		c.buf, c.cur = ch.b, ch.b
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// idSlab makes record ids (OBJECT:N) without an allocation each: their bytes go one after another
// into a slab that is never written over (a full slab is left to the collector once the records
// that point into it are gone).
type idSlab struct {
	b []byte
}

// make returns key + ":" + n, and where n starts in it.
func (s *idSlab) make(key string, n int) (id string, at int) {
	need := len(key) + 21
	if cap(s.b)-len(s.b) < need {
		s.b = make([]byte, 0, max(16<<10, need))
	}
	start := len(s.b)
	s.b = append(s.b, key...)
	s.b = append(s.b, ':')
	s.b = appendInt(s.b, n)
	b := s.b[start:len(s.b):len(s.b)]
	return unsafe.String(&b[0], len(b)), len(key) + 1
}

func appendInt(b []byte, n int) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}
