// Package archive reads the clouds' own archives of a stream as records, in the order they were
// written, for a replay: Amazon Data Firehose objects in S3 (JSON lines or JSON objects back to
// back, plain or gzip, under YYYY/MM/DD/HH/ prefixes), Event Hubs Capture files in Azure Blob
// storage (Avro, {namespace}/{hub}/{partition}/{Y}/{M}/{D}/{h}/{m}/{s}.avro) and Pub/Sub Cloud
// Storage subscription objects in GCS (text lines or Avro). Buckets open through gocloud.dev/blob
// URLs (s3://, gs://, azblob://, file://).
//
// Records carry what the live adapters give the same events: an Event Hubs Capture record is
// mapped by adapters/azure.Record (sequence number as id, partition key, enqueued time,
// properties as attributes), a Pub/Sub Avro record by adapters/gcp's Message.Record (message id,
// ordering key, publish time, attributes). JSON records get the id OBJECT:N (the N-th record of
// the object).
package archive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// URLs
	_ "gocloud.dev/blob/fileblob"  // file:// URLs
	_ "gocloud.dev/blob/gcsblob"   // gs:// URLs
	_ "gocloud.dev/blob/s3blob"    // s3:// URLs

	"github.com/eddyhq/eddy/core"
)

// OnCorrupt says what a Reader does with an object it cannot read to the end (a broken gzip
// stream, a bad Avro block).
type OnCorrupt int

const (
	// Fail stops the replay with an error naming the object.
	Fail OnCorrupt = iota
	// Skip reports the object through Options.Warn and goes on with the next one; the records
	// read from it before the damage stay read.
	Skip
)

// Options tune a Reader.
type Options struct {
	// From and To, when set, select the objects whose names place them in [From, To): the date
	// prefixes of Firehose and Event Hubs Capture, the date in a Pub/Sub object's name. An
	// object's name gives the time it was started or written, not its records' event times, so
	// objects up to Margin before From and after To are read too.
	From, To time.Time
	// Margin widens [From, To) on both sides (default one hour: the longest Firehose buffer is
	// 15 minutes, the longest Capture window 15 minutes).
	Margin time.Duration
	// OnCorrupt says what to do with an object that cannot be read to the end.
	OnCorrupt OnCorrupt
	// Warn receives the objects skipped (OnCorrupt Skip). Nil discards them, which the caller
	// then reports through Skipped.
	Warn func(error)
	// Progress, when set, is called as objects are read: the object's index (from 0), its key,
	// and the bytes read since the last call (compressed size, as listed).
	Progress func(object int, key string, bytes int64)
}

// Object is one archived object a Reader reads.
type Object struct {
	Key  string
	Size int64
	// Time is the time the object's name gives (zero when it gives none).
	Time time.Time
	// Partition is the Event Hubs partition of a Capture file ({PartitionId} in its path), ""
	// for other archives: each partition is a stream with its own watermark.
	Partition string
}

// Reader reads an archive's objects as records. NextBatch and Err follow codec.Lines, so that a
// replay reads either the same way. Not safe for concurrent use.
type Reader struct {
	bucket *blob.Bucket
	where  string // the URL, for messages
	opts   Options
	objs   []Object
	next   int // index of the next object to open
	// parts are the partitions in order; part is the one being read (objects of others end the
	// batches).
	parts []string
	part  int

	// ctx ends the read-ahead (Close); ahead are the objects being read ahead, from next on, and
	// fetched the one being handed out, chunk its chunk being handed out from at.
	ctx        context.Context
	cancel     context.CancelFunc
	ahead      []*fetch
	fetchNext  int // index of the next object to read ahead
	fetched    *fetch
	chunk      *recChunk
	at         int
	free       chan []byte    // read buffers free to read into
	freeChunks chan *recChunk // chunks handed out, for the next ones
	// retired[c%retireCalls] are the buffers whose records NextBatch call c finished handing
	// out: free again at call c+retireCalls.
	retired [retireCalls][][]byte
	calls   int

	key     string
	skipped []error
	err     error
}

// objectReader reads one object's records.
type objectReader interface {
	// read fills rec with the next record, its Data valid until the next call; false at the end
	// or on an error (then err says which).
	read(rec *core.Record) (ok bool, err error)
}

// Open opens the archive at rawURL: a bucket URL as gocloud.dev/blob takes it, with the prefix as
// its path (s3://BUCKET/PREFIX/?region=..., gs://BUCKET/PREFIX/, azblob://CONTAINER/PREFIX/,
// file:///DIR/), and lists its objects. An archive with no objects in the time range is an error.
func Open(ctx context.Context, rawURL string, opts Options) (*Reader, error) {
	bucketURL, prefix, err := splitURL(rawURL)
	if err != nil {
		return nil, err
	}
	b, err := blob.OpenBucket(ctx, bucketURL)
	if err != nil {
		return nil, fmt.Errorf("archive %s: open bucket: %w", rawURL, err)
	}
	r, err := OpenBucket(ctx, b, prefix, rawURL, opts)
	if err != nil {
		b.Close()
		return nil, err
	}
	return r, nil
}

// splitURL separates the prefix from a bucket URL: the path of s3://, gs:// and azblob:// URLs
// (file:// URLs name a directory: the whole path is the bucket, the prefix empty).
func splitURL(raw string) (bucketURL, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("archive %s: %w", raw, err)
	}
	switch u.Scheme {
	case "s3", "gs", "azblob":
		if u.Host == "" {
			return "", "", fmt.Errorf("archive %s: no bucket name (want %s://BUCKET/PREFIX/)", raw, u.Scheme)
		}
		prefix = strings.TrimPrefix(u.Path, "/")
		u.Path = ""
		return u.String(), prefix, nil
	case "file":
		return raw, "", nil
	}
	return "", "", fmt.Errorf("archive %s: scheme %q: want s3://, gs://, azblob:// or file://", raw, u.Scheme)
}

// OpenBucket is Open on a bucket already open (which the Reader closes); where names it in
// messages.
func OpenBucket(ctx context.Context, b *blob.Bucket, prefix, where string, opts Options) (*Reader, error) {
	if opts.Margin == 0 {
		opts.Margin = time.Hour
	}
	r := &Reader{bucket: b, where: where, opts: opts}
	objs, err := r.list(ctx, prefix, partialDate{}, "")
	if err != nil {
		return nil, fmt.Errorf("archive %s: list: %w", where, err)
	}
	if len(objs) == 0 {
		if opts.From.IsZero() && opts.To.IsZero() {
			return nil, fmt.Errorf("archive %s: no objects under the prefix", where)
		}
		return nil, fmt.Errorf("archive %s: no objects from %s to %s", where, fmtTime(opts.From), fmtTime(opts.To))
	}
	// By partition, then time (when names give one), then key: the order each partition's stream
	// was written in.
	slices.SortStableFunc(objs, func(a, b Object) int {
		if c := comparePartitions(a.Partition, b.Partition); c != 0 {
			return c
		}
		if c := a.Time.Compare(b.Time); c != 0 && !a.Time.IsZero() && !b.Time.IsZero() {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	r.objs = objs
	// The read-ahead outlives Open's context (a caller's timeout for listing): Close ends it.
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.free = make(chan []byte, 2*fetchAhead+retireCalls+2)
	r.freeChunks = make(chan *recChunk, fetchAhead*(fetchChunks+2))
	for i, o := range objs {
		if i == 0 || o.Partition != objs[i-1].Partition {
			r.parts = append(r.parts, o.Partition)
		}
	}
	return r, nil
}

// comparePartitions orders partition ids as numbers when they are.
func comparePartitions(a, b string) int {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Partitions returns the archive's partitions in the order NextPartition goes through them: the
// Event Hubs partitions of a Capture archive, one unnamed partition ("") for other archives.
func (r *Reader) Partitions() []string { return r.parts }

// Partition returns the partition being read.
func (r *Reader) Partition() string { return r.parts[r.part] }

// NextPartition moves to the next partition once NextBatch has returned 0 at the end of one,
// and reports whether there was one.
func (r *Reader) NextPartition() bool {
	if r.err != nil || r.part+1 >= len(r.parts) {
		return false
	}
	r.part++
	return true
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "any time"
	}
	return t.UTC().Format(time.RFC3339)
}

// list lists the objects under prefix, going down "directories" one level at a time so that date
// prefixes outside the time range are never listed.
func (r *Reader) list(ctx context.Context, prefix string, d partialDate, last string) ([]Object, error) {
	var objs []Object
	it := r.bucket.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(o.Key, prefix), "/")
		if o.IsDir {
			sub := d.with(name)
			if lo, hi := sub.span(); sub.n > d.n && !r.overlaps(lo, hi) {
				continue
			}
			more, err := r.list(ctx, o.Key, sub, name)
			if err != nil {
				return nil, err
			}
			objs = append(objs, more...)
			continue
		}
		obj := Object{Key: o.Key, Size: o.Size}
		if d.n > 0 && strings.HasSuffix(o.Key, ".avro") && isDigits(d.before) {
			// {Namespace}/{EventHub}/{PartitionId}/{Year}/...: Capture's layout.
			obj.Partition = d.before
		}
		if t, ok := objectTime(o.Key, d); ok {
			obj.Time = t
			if !r.contains(t) {
				continue
			}
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// overlaps reports whether [lo, hi) meets the time range widened by the margin,
// [From-Margin, To+Margin).
func (r *Reader) overlaps(lo, hi time.Time) bool {
	o := r.opts
	if !o.From.IsZero() && !hi.After(o.From.Add(-o.Margin)) {
		return false
	}
	return o.To.IsZero() || lo.Before(o.To.Add(o.Margin))
}

// contains reports whether t is in the time range widened by the margin.
func (r *Reader) contains(t time.Time) bool {
	o := r.opts
	if !o.From.IsZero() && t.Before(o.From.Add(-o.Margin)) {
		return false
	}
	return o.To.IsZero() || t.Before(o.To.Add(o.Margin))
}

// Objects returns the objects the Reader reads, in order.
func (r *Reader) Objects() []Object { return r.objs }

// Skipped returns the errors of the objects skipped as corrupt.
func (r *Reader) Skipped() []error { return r.skipped }

// NextBatch reads up to len(recs) records into recs and returns how many; 0 means the end of the
// archive or an error (Err says which). The records' Data stay valid until the fourth call after
// (they point into the read buffers, which are then read into again); their IDs for good.
func (r *Reader) NextBatch(recs []core.Record) int {
	r.calls++
	slot := &r.retired[r.calls%retireCalls]
	for i, b := range *slot {
		select {
		case r.free <- b:
		default:
		}
		(*slot)[i] = nil
	}
	*slot = (*slot)[:0]
	n := 0
	for n < len(recs) && r.err == nil {
		if r.fetched == nil {
			if r.next == len(r.objs) || r.objs[r.next].Partition != r.parts[r.part] {
				break
			}
			r.open()
		}
		if r.chunk == nil || r.at == len(r.chunk.recs) {
			r.doneChunk(slot)
			c, ok := <-r.fetched.chunks
			if !ok {
				r.closeObject()
				continue
			}
			if r.opts.Progress != nil && c.raw > 0 {
				r.opts.Progress(r.fetched.idx, r.key, c.raw)
			}
			r.chunk, r.at = c, 0
			if c.err != nil {
				r.corrupt(fmt.Errorf("archive %s: object %s: %w", r.where, r.key, c.err))
				continue
			}
		}
		k := copy(recs[n:], r.chunk.recs[r.at:])
		n += k
		r.at += k
	}
	if r.chunk != nil && r.at == len(r.chunk.recs) {
		r.doneChunk(slot)
	}
	return n
}

// doneChunk retires the buffers of the chunk handed out (into slot) and frees the chunk.
func (r *Reader) doneChunk(slot *[][]byte) {
	c := r.chunk
	if c == nil {
		return
	}
	r.chunk = nil
	*slot = append(*slot, c.bufs...)
	clear(c.bufs)
	c.bufs, c.recs, c.raw, c.err = c.bufs[:0], c.recs[:0], 0, nil
	select {
	case r.freeChunks <- c:
	default:
	}
}

// corrupt handles an object that failed: fail the reader, or skip to the next object.
func (r *Reader) corrupt(err error) {
	r.closeObject()
	if r.opts.OnCorrupt == Fail {
		r.err = err
		return
	}
	r.skipped = append(r.skipped, err)
	if r.opts.Warn != nil {
		r.opts.Warn(err)
	}
}

// open starts handing out the next object, read ahead with the few after it.
func (r *Reader) open() {
	i := r.next
	r.next++
	for ; r.fetchNext < len(r.objs) && len(r.ahead) < fetchAhead; r.fetchNext++ {
		r.ahead = append(r.ahead, r.startFetch(r.fetchNext))
	}
	r.fetched = r.ahead[0]
	r.ahead = r.ahead[1:]
	r.key = r.fetched.obj.Key
	if r.opts.Progress != nil {
		r.opts.Progress(i, r.key, 0)
	}
}

// newObjectReader reads Avro object container files, JSON values (one a line, or back to back as
// Firehose writes them without a delimiter) and, for anything else, lines.
func newObjectReader(br *bufio.Reader, key string) (objectReader, error) {
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if string(head) == "Obj\x01" {
		return newAvroReader(br, key)
	}
	for _, c := range head {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return newJSONReader(br, key), nil
		}
		break
	}
	if len(head) == 0 {
		return emptyReader{}, nil
	}
	return newLineReader(br, key), nil
}

type emptyReader struct{}

func (emptyReader) read(*core.Record) (bool, error) { return false, nil }

func (r *Reader) closeObject() {
	if r.fetched != nil {
		r.fetched.stop()
		r.fetched = nil
	}
}

// Err returns the error that stopped NextBatch, or nil at the end of the archive.
func (r *Reader) Err() error { return r.err }

// Close stops reading ahead and closes the bucket.
func (r *Reader) Close() error {
	r.closeObject()
	if r.cancel != nil {
		r.cancel()
	}
	for _, f := range r.ahead {
		f.stop()
	}
	r.ahead = nil
	return r.bucket.Close()
}
