package archive

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/klauspost/compress/gzip"

	"github.com/eddyhq/eddy/core"
)

// A Reader reads ahead: while the records of one object are handed out, the next few objects are
// downloaded, inflated and split into records, each by a goroutine of its own, into a short queue
// of record chunks. An object store answers one request at a time slower than a local disk, and
// inflating and splitting cost as much as a replay worker's decoding, so doing them one after the
// other on the goroutine that hands out batches left the replay's workers waiting; spread over
// the objects' goroutines they run on every core, and handing out a batch is a copy of record
// headers.
//
// The records' bytes are not copied: a record's Data points into the buffer the object was read
// (and inflated) into, and a buffer goes back to the free list only retireCalls NextBatch calls
// after the last of its records was handed out (see Reader.NextBatch). The queues are bounded, so
// the read-ahead holds at most fetchAhead × (fetchChunks+2) chunks and their buffers, whatever
// the objects' sizes.
const (
	// fetchAhead is how many objects are read at once: the one being handed out and those after.
	fetchAhead = 4
	// fetchChunks is how many record chunks of an object may wait to be handed out.
	fetchChunks = 8
	// chunkRecords is how many records a chunk holds at most.
	chunkRecords = 256
	// bufSize is the size of a read buffer (inflated bytes); reads go straight into it.
	bufSize = 128 << 10
	// minRead is the least room a buffer must have left for the next read: below it the reader
	// moves to a fresh buffer, so that reads stay large.
	minRead = 16 << 10
	// retireCalls is how many NextBatch calls a buffer waits, after its last record was handed
	// out, before it is read into again. A replay keeps a batch's records until the second or
	// third call after (a batch being read, one decoded, one run); one more is margin.
	retireCalls = 4
)

// fetch is one object being read ahead.
type fetch struct {
	idx    int
	obj    Object
	chunks chan *recChunk // closed after the last chunk
	cancel context.CancelFunc
	done   chan struct{}
}

// recChunk is a run of an object's records, or the error that ended it.
type recChunk struct {
	recs []core.Record
	// bufs are buffers no record after this chunk's points into: free once its records are done.
	bufs [][]byte
	raw  int64 // the object's bytes read to make it (compressed, as listed), for progress
	err  error
}

// startFetch starts reading object idx ahead.
func (r *Reader) startFetch(idx int) *fetch {
	ctx, cancel := context.WithCancel(r.ctx)
	f := &fetch{idx: idx, obj: r.objs[idx], chunks: make(chan *recChunk, fetchChunks), cancel: cancel, done: make(chan struct{})}
	go r.runFetch(ctx, f)
	return f
}

// buffers hands out read buffers, from the Reader's free list when it has one.
type buffers struct {
	free chan []byte
	// retire takes a buffer the object's reader is done with (set by runFetch).
	retire func([]byte)
}

// get returns a buffer of at least n bytes (full length).
func (b *buffers) get(n int) []byte {
	if n <= bufSize && b != nil {
		select {
		case buf := <-b.free:
			if cap(buf) >= n {
				return buf[:cap(buf)]
			}
		default:
		}
	}
	return make([]byte, max(n, bufSize))
}

func (b *buffers) put(buf []byte) {
	if b != nil && b.retire != nil {
		b.retire(buf)
	}
}

// runFetch downloads an object, inflates it when it is gzip, splits it into records and queues
// them in chunks; an error is the last chunk.
func (r *Reader) runFetch(ctx context.Context, f *fetch) {
	defer close(f.done)
	defer close(f.chunks)
	cur := r.newChunk()
	send := func() bool {
		select {
		case f.chunks <- cur:
			cur = r.newChunk()
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) {
		cur.err = err
		send()
	}
	body, err := r.bucket.NewReader(ctx, f.obj.Key, nil)
	if err != nil {
		fail(err)
		return
	}
	defer body.Close()
	cr := &countingReader{r: body}
	var reported int64
	// The first bytes go through a bufio.Reader, to see whether the object is gzip; a read as
	// large as its buffer bypasses it after that.
	br := bufio.NewReaderSize(cr, 64<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			fail(fmt.Errorf("gzip: %w", err))
			return
		}
		src = zr
	}
	bufs := &buffers{free: r.free, retire: func(b []byte) { cur.bufs = append(cur.bufs, b) }}
	or, stable, err := openObject(src, f.obj.Key, bufs)
	if err != nil {
		fail(err)
		return
	}
	// Readers other than JSON reuse their buffers: their records' bytes are copied into a slab.
	var slab, slabBuf []byte
	for {
		if len(cur.recs) == cap(cur.recs) {
			cur.raw, reported = cr.n-reported, cr.n
			if !send() {
				return
			}
		}
		rec := &cur.recs[:len(cur.recs)+1][len(cur.recs)]
		ok, err := or.read(rec)
		if err == nil && ok {
			if !stable {
				if len(slab) < len(rec.Data) {
					if slabBuf != nil {
						bufs.put(slabBuf[:0])
					}
					slabBuf = bufs.get(len(rec.Data))
					slab = slabBuf
				}
				d := slab[:len(rec.Data):len(rec.Data)]
				copy(d, rec.Data)
				slab = slab[len(d):]
				rec.Data = d
			}
			cur.recs = cur.recs[:len(cur.recs)+1]
			continue
		}
		// The object's end or an error: what was read is reported once, with the last chunk.
		cur.raw = cr.n - reported
		if len(cur.recs) > 0 && !send() {
			return
		}
		if err != nil {
			fail(err)
			return
		}
		// The last chunk frees the buffers the last records point into.
		if slabBuf != nil {
			bufs.put(slabBuf[:0])
		}
		if c, ok := or.(interface{ buffer() []byte }); ok && c.buffer() != nil {
			bufs.put(c.buffer())
		}
		if len(cur.bufs) > 0 || cur.raw > 0 {
			send()
		}
		return
	}
}

// newChunk returns an empty chunk, from the Reader's free list when it has one.
func (r *Reader) newChunk() *recChunk {
	select {
	case c := <-r.freeChunks:
		return c
	default:
		return &recChunk{recs: make([]core.Record, 0, chunkRecords)}
	}
}

// openObject picks an object's reader by its first bytes (inflated when gzip): Avro, JSON values
// or text lines. stable says whether its records' bytes stay put (JSON: they point into buffers
// from bufs, handed back through bufs.retire) or are overwritten by the next read.
func openObject(src io.Reader, key string, bufs *buffers) (or objectReader, stable bool, err error) {
	buf := bufs.get(bufSize)
	n, err := io.ReadAtLeast(src, buf, 4)
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if err != nil && !eof {
		return nil, false, err
	}
	head := buf[:n]
	if isJSONStart(head) {
		return &jsonReader{src: src, key: key, bufs: bufs, buf: buf, end: n, eof: eof}, true, nil
	}
	var rest io.Reader = bytes.NewReader(head)
	if !eof {
		rest = io.MultiReader(rest, src)
	}
	or, err = newObjectReader(bufio.NewReaderSize(rest, 64<<10), key)
	return or, false, err
}

// isJSONStart reports whether an object's first bytes start a JSON object or array (after white
// space), as newObjectReader decides.
func isJSONStart(head []byte) bool {
	if len(head) >= 4 && string(head[:4]) == "Obj\x01" {
		return false
	}
	for _, c := range head[:min(len(head), 4)] {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// stop stops reading the object ahead and waits for its goroutine.
func (f *fetch) stop() {
	f.cancel()
	<-f.done
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
// that point into it are gone). Numbers one more than the last are counted up in place.
type idSlab struct {
	b    []byte
	idt  []byte // key:N of the last id made
	last int
}

// make returns key + ":" + n, and where n starts in it. A slab makes ids of one key.
func (s *idSlab) make(key string, n int) (id string, at int) {
	if s.idt != nil && n == s.last+1 && !s.increment(len(key)+1) {
		s.idt = nil
	}
	if s.idt == nil || n != s.last+1 {
		s.idt = appendInt(append(append(s.idt[:0], key...), ':'), n)
	}
	s.last = n
	need := len(s.idt)
	if cap(s.b)-len(s.b) < need {
		s.b = make([]byte, 0, max(16<<10, need))
	}
	start := len(s.b)
	s.b = append(s.b, s.idt...)
	b := s.b[start:len(s.b):len(s.b)]
	return unsafe.String(&b[0], len(b)), len(key) + 1
}

// increment adds one to the decimal number at idt[from:]; false when it needs another digit.
func (s *idSlab) increment(from int) bool {
	for i := len(s.idt) - 1; i >= from; i-- {
		if s.idt[i] < '9' {
			s.idt[i]++
			return true
		}
		s.idt[i] = '0'
	}
	return false
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
