// Package state keeps the state of eddy's functions between invocations: a portable Store over small
// drivers (memory, local file, gocloud.dev docstore for DynamoDB and Firestore, gocloud.dev blob for
// S3, GCS and Azure Blob), opened from URLs.
//
// Every write is conditional on the revision the writer read, so two invocations racing on one
// partition cannot both win. Values larger than what one item of the backend holds are split across
// chunk keys transparently and atomically: chunks are written under keys unique to the write first,
// then the head key that points to them is written conditionally, then the previous chunks are
// deleted. A crash between these steps leaves only orphaned chunks, which readers never see and
// CleanOrphans removes.
package state

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/eddyhq/eddy/core/state/driver"
)

// ErrConflict is matched (with errors.Is) by the error of a conditional write that lost: the stored
// revision was not the expected one. The caller reloads and retries.
var ErrConflict = errors.New("conflicting write")

// ErrNotFound is matched by the error of an operation on a key that does not exist.
var ErrNotFound = errors.New("not found")

// MaxKeyLen is the longest key a Store accepts, in bytes.
const MaxKeyLen = 1024

// Entry is what Get found under a key.
type Entry struct {
	// Found is false when the key is absent or expired. Rev may still be set for an expired key:
	// writing with it replaces the expired value.
	Found bool
	// Value is the stored value, reassembled from its chunks.
	Value []byte
	// Rev is the revision token to pass to Put for a conditional write ("" when absent). It is opaque.
	Rev string
	// Expires is when the value expires (zero for never).
	Expires time.Time
}

// PutOptions tune one Put.
type PutOptions struct {
	// Expires makes the value expire at that time: reads then report it absent, and backends with a
	// native TTL (DynamoDB, Firestore) delete it. Zero means never.
	Expires time.Time
}

// Options tune a Store.
type Options struct {
	// Budget is the largest value Put accepts, in bytes (0 for no limit). Exceeding it is a
	// *BudgetError.
	Budget int
	// ChunkSize caps the bytes stored per backend item; 0 means the driver's own limit. Values larger
	// than the cap are split across chunks.
	ChunkSize int
	// Now is the clock used for expiry checks (time.Now when nil); tests set it.
	Now func() time.Time
}

// BudgetError is returned by Put when a value exceeds the Store's budget.
type BudgetError struct {
	Key    string
	Size   int
	Budget int
}

// Error implements error.
func (e *BudgetError) Error() string {
	return fmt.Sprintf("state: key %q: value of %d bytes exceeds the budget of %d bytes", e.Key, e.Size, e.Budget)
}

// Error is the error of a Store operation that the backend refused or failed.
type Error struct {
	Op   string // "get", "put", "delete", "list"
	Key  string
	Code driver.Code
	Err  error
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("state: %s %q: %v", e.Op, e.Key, e.Err)
}

// Unwrap returns the driver's error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether the error is ErrConflict or ErrNotFound by its code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrConflict:
		return e.Code == driver.Conflict
	case ErrNotFound:
		return e.Code == driver.NotFound
	}
	return false
}

// Stats counts a Store's calls to its backend. Each driver call is one round trip (GetMany,
// PutMany and DeleteMany are batched by the drivers).
type Stats struct {
	RoundTrips int64
	Reads      int64
	Writes     int64
	BytesRead  int64
	BytesWrit  int64
}

// Store is the portable state store. It is safe for concurrent use.
type Store struct {
	d      driver.Store
	budget int
	chunk  int
	now    func() time.Time

	roundTrips, reads, writes, bytesRead, bytesWritten atomic.Int64
}

// NewStore wraps a driver. Driver packages call it from their constructors; users open stores with
// those constructors or with OpenStore.
func NewStore(d driver.Store, opts *Options) *Store {
	s := &Store{d: d, now: time.Now}
	if opts != nil {
		s.budget = opts.Budget
		s.chunk = opts.ChunkSize
		if opts.Now != nil {
			s.now = opts.Now
		}
	}
	if m := d.MaxValueSize(); m > 0 && (s.chunk <= 0 || s.chunk > m) {
		s.chunk = m
	}
	return s
}

// Budget is the largest value Put accepts (0 for no limit).
func (s *Store) Budget() int { return s.budget }

// Stats returns the counts of backend calls so far.
func (s *Store) Stats() Stats {
	return Stats{
		RoundTrips: s.roundTrips.Load(),
		Reads:      s.reads.Load(),
		Writes:     s.writes.Load(),
		BytesRead:  s.bytesRead.Load(),
		BytesWrit:  s.bytesWritten.Load(),
	}
}

// Close closes the driver.
func (s *Store) Close() error { return s.d.Close() }

// CheckKey reports why key is not a valid Store key, or nil.
func CheckKey(key string) error {
	switch {
	case key == "":
		return errors.New("state: empty key")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("state: key %.40q...: longer than %d bytes", key, MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("state: key %q: not valid UTF-8", key)
	case strings.ContainsRune(key, '#'):
		return fmt.Errorf("state: key %q: contains '#', which marks chunk keys", key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("state: key %q: contains a control character", key)
		}
	}
	return nil
}

func (s *Store) fail(op, key string, err error) error {
	return &Error{Op: op, Key: key, Code: s.d.ErrorCode(err), Err: err}
}

// Head layout (format 1):
//
//	byte 0      format (1)
//	byte 1      kind: 0 inline, 1 chunked
//	uvarint     expiry, unix seconds (0 = never)
//	inline:     the value
//	chunked:    uvarint len(gen), gen, uvarint chunk count, uvarint total size, 4 bytes CRC-32C
const (
	headFormat  = 1
	kindInline  = 0
	kindChunked = 1
	headMax     = 2 + binary.MaxVarintLen64*4 + 64 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type head struct {
	expires time.Time
	inline  []byte
	gen     string
	n       int
	size    int
	crc     uint32
	chunked bool
}

func (h *head) encode() []byte {
	b := make([]byte, 0, headMax+len(h.inline))
	b = append(b, headFormat)
	var exp uint64
	if !h.expires.IsZero() {
		exp = uint64(h.expires.Unix())
	}
	if h.chunked {
		b = append(b, kindChunked)
		b = binary.AppendUvarint(b, exp)
		b = binary.AppendUvarint(b, uint64(len(h.gen)))
		b = append(b, h.gen...)
		b = binary.AppendUvarint(b, uint64(h.n))
		b = binary.AppendUvarint(b, uint64(h.size))
		return binary.BigEndian.AppendUint32(b, h.crc)
	}
	b = append(b, kindInline)
	b = binary.AppendUvarint(b, exp)
	return append(b, h.inline...)
}

func decodeHead(b []byte) (head, error) {
	var h head
	if len(b) < 2 {
		return h, errors.New("head item too short")
	}
	if b[0] != headFormat {
		return h, fmt.Errorf("head item format %d is newer than this release understands (%d)", b[0], headFormat)
	}
	kind := b[1]
	b = b[2:]
	exp, n := binary.Uvarint(b)
	if n <= 0 {
		return h, errors.New("head item: bad expiry")
	}
	b = b[n:]
	if exp != 0 {
		h.expires = time.Unix(int64(exp), 0)
	}
	switch kind {
	case kindInline:
		h.inline = b
		return h, nil
	case kindChunked:
		h.chunked = true
		l, n := binary.Uvarint(b)
		if n <= 0 || l > 64 || uint64(len(b)-n) < l {
			return h, errors.New("head item: bad chunk generation")
		}
		h.gen = string(b[n : n+int(l)])
		b = b[n+int(l):]
		cnt, n := binary.Uvarint(b)
		if n <= 0 || cnt == 0 || cnt > 1<<20 {
			return h, errors.New("head item: bad chunk count")
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > 1<<40 {
			return h, errors.New("head item: bad size")
		}
		b = b[n:]
		if len(b) != 4 {
			return h, errors.New("head item: bad checksum")
		}
		h.n, h.size, h.crc = int(cnt), int(size), binary.BigEndian.Uint32(b)
		return h, nil
	}
	return h, fmt.Errorf("head item: unknown kind %d", kind)
}

// chunkKey names chunk i of generation gen of key. '#' never occurs in user keys, so chunk keys
// never collide with them.
func chunkKey(key, gen string, i int) string {
	return key + "#" + gen + "." + strconv.Itoa(i)
}

func chunkKeys(key, gen string, n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = chunkKey(key, gen, i)
	}
	return ks
}

// The revision token handed to users carries the chunk generation of the value, so that the next Put
// knows which chunks to delete without another read: "<gen>.<n>~<driver rev>", or "~<driver rev>"
// for an inline value.
func makeRev(h *head, drev string) string {
	if h.chunked {
		return h.gen + "." + strconv.Itoa(h.n) + "~" + drev
	}
	return "~" + drev
}

func parseRev(rev string) (drev, gen string, n int, err error) {
	if rev == "" {
		return "", "", 0, nil
	}
	i := strings.IndexByte(rev, '~')
	if i < 0 {
		return "", "", 0, fmt.Errorf("malformed revision token %q", rev)
	}
	drev = rev[i+1:]
	if i == 0 {
		return drev, "", 0, nil
	}
	g, cnt, ok := strings.Cut(rev[:i], ".")
	n, err = strconv.Atoi(cnt)
	if !ok || err != nil || n <= 0 {
		return "", "", 0, fmt.Errorf("malformed revision token %q", rev)
	}
	return drev, g, n, nil
}

// newGen returns a chunk generation: the time (so orphan sweeps can tell old from in-flight) and
// random bits (so racing writers never share chunk keys).
func newGen(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

func genTime(gen string) (time.Time, bool) {
	b, err := hex.DecodeString(gen)
	if err != nil || len(b) != 16 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))), true
}

func (s *Store) count(reads, writes int64, in, out int) {
	s.roundTrips.Add(1)
	s.reads.Add(reads)
	s.writes.Add(writes)
	s.bytesRead.Add(int64(in))
	s.bytesWritten.Add(int64(out))
}

// Get reads key. A missing or expired key is not an error: the Entry has Found false. It takes one
// backend round trip for a value that fits one item, two for a chunked value.
func (s *Store) Get(ctx context.Context, key string) (Entry, error) {
	if err := CheckKey(key); err != nil {
		return Entry{}, err
	}
	// A concurrent writer may replace the value and delete its chunks between our two reads; the
	// head has then moved on, so read it again.
	for attempt := 0; ; attempt++ {
		raw, drev, err := s.d.Get(ctx, key)
		s.count(1, 0, len(raw), 0)
		if err != nil {
			if s.d.ErrorCode(err) == driver.NotFound {
				return Entry{}, nil
			}
			return Entry{}, s.fail("get", key, err)
		}
		h, err := decodeHead(raw)
		if err != nil {
			return Entry{}, fmt.Errorf("state: get %q: %w", key, err)
		}
		e := Entry{Rev: makeRev(&h, drev), Expires: h.expires}
		if !h.expires.IsZero() && !s.now().Before(h.expires) {
			return e, nil
		}
		e.Found = true
		if !h.chunked {
			e.Value = h.inline
			return e, nil
		}
		parts, err := s.d.GetMany(ctx, chunkKeys(key, h.gen, h.n))
		if err != nil {
			s.count(int64(h.n), 0, 0, 0)
			if s.d.ErrorCode(err) == driver.NotFound && attempt < 5 {
				continue
			}
			return Entry{}, s.fail("get", key, err)
		}
		v := make([]byte, 0, h.size)
		for _, p := range parts {
			v = append(v, p...)
		}
		s.count(int64(h.n), 0, len(v), 0)
		if len(v) != h.size || crc32.Checksum(v, castagnoli) != h.crc {
			return Entry{}, fmt.Errorf("state: get %q: chunks of generation %s do not match their head (size %d, want %d)", key, h.gen, len(v), h.size)
		}
		e.Value = v
		return e, nil
	}
}

// Put writes value under key if the stored revision is rev ("" = the key must be absent or expired)
// and returns the new revision. A lost race is an error matching ErrConflict; a value over the budget
// is a *BudgetError. A value that fits one item takes one round trip; a chunked one takes three
// (write chunks, write head, delete the previous chunks).
func (s *Store) Put(ctx context.Context, key string, value []byte, rev string, opts *PutOptions) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if s.budget > 0 && len(value) > s.budget {
		return "", &BudgetError{Key: key, Size: len(value), Budget: s.budget}
	}
	drev, oldGen, oldN, err := parseRev(rev)
	if err != nil {
		return "", fmt.Errorf("state: put %q: %w", key, err)
	}
	var exp time.Time
	if opts != nil {
		exp = opts.Expires
	}
	h := head{expires: exp}
	if s.chunk <= 0 || len(value)+headMax <= s.chunk {
		h.inline = value
	} else {
		h.chunked = true
		h.gen = newGen(s.now())
		h.size = len(value)
		h.crc = crc32.Checksum(value, castagnoli)
		var keys []string
		var parts [][]byte
		for off := 0; off < len(value); off += s.chunk {
			end := min(off+s.chunk, len(value))
			keys = append(keys, chunkKey(key, h.gen, len(keys)))
			parts = append(parts, value[off:end])
		}
		h.n = len(keys)
		// Chunks live a little longer than their head so a reader never finds a head without them.
		var cexp time.Time
		if !exp.IsZero() {
			cexp = exp.Add(time.Hour)
		}
		err := s.d.PutMany(ctx, keys, parts, cexp)
		s.count(0, int64(len(keys)), 0, len(value))
		if err != nil {
			return "", s.fail("put", key, err)
		}
	}
	enc := h.encode()
	nrev, err := s.d.Put(ctx, key, enc, drev, exp)
	s.count(0, 1, 0, len(enc))
	if err != nil {
		if h.chunked {
			// Our chunks are unreachable; remove them now rather than leave them to a sweep.
			_ = s.d.DeleteMany(context.WithoutCancel(ctx), chunkKeys(key, h.gen, h.n))
			s.count(0, int64(h.n), 0, 0)
		}
		return "", s.fail("put", key, err)
	}
	if oldN > 0 {
		// The new head no longer points to these; a failure here only leaves orphans.
		_ = s.d.DeleteMany(ctx, chunkKeys(key, oldGen, oldN))
		s.count(0, int64(oldN), 0, 0)
	}
	return makeRev(&h, nrev), nil
}

// Delete removes key if its revision is rev (whatever it is when rev is ""), with its chunks.
func (s *Store) Delete(ctx context.Context, key, rev string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	drev, gen, n, err := parseRev(rev)
	if err != nil {
		return fmt.Errorf("state: delete %q: %w", key, err)
	}
	if rev == "" {
		// Unconditional: learn the chunks first so they go too.
		e, err := s.Get(ctx, key)
		if err != nil {
			return err
		}
		if e.Rev != "" {
			drev, gen, n, _ = parseRev(e.Rev)
		}
	}
	err = s.d.Delete(ctx, key, drev)
	s.count(0, 1, 0, 0)
	if err != nil {
		return s.fail("delete", key, err)
	}
	if n > 0 {
		_ = s.d.DeleteMany(ctx, chunkKeys(key, gen, n))
		s.count(0, int64(n), 0, 0)
	}
	return nil
}

// List calls fn with each key (not chunk keys) that starts with prefix. Scheduled ticks use it to
// find the partitions of a function.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string) error) error {
	s.count(1, 0, 0, 0)
	err := s.d.List(ctx, prefix, func(k string) error {
		if strings.IndexByte(k, '#') >= 0 {
			return nil
		}
		return fn(k)
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return s.fail("list", prefix, err)
	}
	return nil
}

// CleanOrphans deletes the chunks of key that its current head does not point to and that were
// written before olderThan ago. Such chunks come from writers that crashed or lost a race between
// writing chunks and writing the head. The age limit keeps the chunks of a write still in flight.
func (s *Store) CleanOrphans(ctx context.Context, key string, olderThan time.Duration) (int, error) {
	e, err := s.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	_, cur, _, _ := parseRev(e.Rev)
	cutoff := s.now().Add(-olderThan)
	var stale []string
	s.count(1, 0, 0, 0)
	err = s.d.List(ctx, key+"#", func(k string) error {
		rest := k[len(key)+1:]
		gen, _, _ := strings.Cut(rest, ".")
		if gen == cur {
			return nil
		}
		if t, ok := genTime(gen); ok && t.Before(cutoff) {
			stale = append(stale, k)
		}
		return nil
	})
	if err != nil {
		return 0, s.fail("list", key, err)
	}
	if len(stale) == 0 {
		return 0, nil
	}
	s.count(0, int64(len(stale)), 0, 0)
	if err := s.d.DeleteMany(ctx, stale); err != nil {
		return 0, s.fail("delete", key, err)
	}
	return len(stale), nil
}
