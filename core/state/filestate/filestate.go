// Package filestate is a state driver on a local directory, for local runs, tests and single-host
// deployments. It is crash-safe: a value is written to a temporary file, synced, and renamed over the
// old one, so a reader or a restarted process sees the old value or the new one, never a torn one.
// Conditional writes hold an advisory lock (flock) on a per-key lock file, so they are atomic across
// processes on one host (not across hosts sharing a network file system).
//
// Importing the package registers the "file" scheme with state.DefaultURLMux:
// "file:///var/lib/eddy/state" (the directory is created if missing); "?max_value=N" splits values
// larger than N bytes into chunk files.
package filestate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/driver"
)

func init() {
	state.DefaultURLMux().Register("file", state.URLOpenerFunc(func(_ context.Context, u *url.URL) (driver.Store, error) {
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("file URL names host %q; want file:///absolute/path", u.Host)
		}
		max := 0
		for k, v := range u.Query() {
			switch k {
			case "max_value":
				n, err := state.ParseSize(v[0])
				if err != nil {
					return nil, err
				}
				max = n
			default:
				return nil, fmt.Errorf("unknown parameter %q (file:// takes max_value)", k)
			}
		}
		return NewDriver(u.Path, max)
	}))
}

var (
	errNotFound = fmt.Errorf("filestate: %w", driver.ErrNotFound)
	errConflict = fmt.Errorf("filestate: %w", driver.ErrConflict)
)

// Driver is the local-directory driver.
type Driver struct {
	dir string
	max int
	// LockTimeout bounds how long a conditional write waits for the lock of a key another process
	// holds (default DefaultLockTimeout); past it the write fails naming the holder.
	LockTimeout time.Duration
}

// DefaultLockTimeout is Driver.LockTimeout when it is zero: far longer than any write holds a lock.
const DefaultLockTimeout = 30 * time.Second

// NewDriver opens (creating it if needed) the directory dir as a store whose values hold at most
// maxValue bytes each (0 for no limit). Temporary files left by a crashed writer are removed.
func NewDriver(dir string, maxValue int) (*Driver, error) {
	if dir == "" {
		return nil, errors.New("filestate: empty directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("filestate: %w", err)
	}
	d := &Driver{dir: dir, max: maxValue}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filestate: %w", err)
	}
	for _, e := range ents {
		// A temporary file older than any write in flight is debris from a crash.
		if strings.HasPrefix(e.Name(), ".tmp-") {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	return d, nil
}

// Open returns a portable Store over the directory dir.
func Open(dir string, opts *state.Options) (*state.Store, error) {
	d, err := NewDriver(dir, 0)
	if err != nil {
		return nil, err
	}
	return state.NewStore(d, opts), nil
}

// File names: bytes outside [A-Za-z0-9._-] are %XX-escaped; names that would be too long for the
// file system are cut and suffixed with a hash, and List reads the key from the file then.
const (
	dataSuffix = ".v"
	lockSuffix = ".lock"
	maxName    = 180
)

func escape(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || (c == '.' && i > 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	s := b.String()
	if len(s) > maxName {
		sum := sha256.Sum256([]byte(key))
		s = s[:maxName-65] + "~" + hex.EncodeToString(sum[:])
	}
	return s
}

func (d *Driver) path(key string) string { return filepath.Join(d.dir, escape(key)+dataSuffix) }

// File layout: "EDS1", uvarint len(rev), rev, uvarint len(key), key, value, CRC-32C of all before.
var magic = []byte("EDS1")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeFile(key, rev string, value []byte) []byte {
	b := make([]byte, 0, len(magic)+len(rev)+len(key)+len(value)+24)
	b = append(b, magic...)
	b = binary.AppendUvarint(b, uint64(len(rev)))
	b = append(b, rev...)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = append(b, value...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeFile(b []byte) (key, rev string, value []byte, err error) {
	if len(b) < len(magic)+4 || !bytes.Equal(b[:len(magic)], magic) {
		return "", "", nil, errors.New("not a state file")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return "", "", nil, errors.New("checksum mismatch")
	}
	p := body[len(magic):]
	field := func() (string, bool) {
		n, w := binary.Uvarint(p)
		if w <= 0 || uint64(len(p)-w) < n {
			return "", false
		}
		s := string(p[w : w+int(n)])
		p = p[w+int(n):]
		return s, true
	}
	var ok1, ok2 bool
	rev, ok1 = field()
	key, ok2 = field()
	if !ok1 || !ok2 {
		return "", "", nil, errors.New("truncated header")
	}
	return key, rev, p, nil
}

func (d *Driver) read(key string) ([]byte, string, error) {
	b, err := os.ReadFile(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", errNotFound
	}
	if err != nil {
		return nil, "", err
	}
	_, rev, v, err := decodeFile(b)
	if err != nil {
		return nil, "", fmt.Errorf("filestate: %s: %w", d.path(key), err)
	}
	return v, rev, nil
}

// write replaces key's file atomically: temporary file, fsync, rename.
func (d *Driver) write(key, rev string, value []byte) error {
	f, err := os.CreateTemp(d.dir, ".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(encodeFile(key, rev, value))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, d.path(key))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// syncDir makes renames and removals in the directory durable.
func (d *Driver) syncDir() error {
	f, err := os.Open(d.dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func newRev() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Get implements driver.Store.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	return d.read(key)
}

// GetMany implements driver.Store.
func (d *Driver) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, _, err := d.read(k)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Put implements driver.Store.
func (d *Driver) Put(ctx context.Context, key string, value []byte, rev string, _ time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if d.max > 0 && len(value) > d.max {
		return "", fmt.Errorf("filestate: value of %d bytes exceeds max_value %d", len(value), d.max)
	}
	unlock, err := d.lock(ctx, key)
	if err != nil {
		return "", err
	}
	defer unlock()
	_, cur, err := d.read(key)
	switch {
	case errors.Is(err, errNotFound):
		if rev != "" {
			return "", errConflict
		}
	case err != nil:
		return "", err
	case cur != rev:
		return "", errConflict
	}
	nrev := newRev()
	if err := d.write(key, nrev, value); err != nil {
		return "", err
	}
	return nrev, d.syncDir()
}

// PutMany implements driver.Store.
func (d *Driver) PutMany(ctx context.Context, keys []string, values [][]byte, _ time.Time) error {
	for i, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.max > 0 && len(values[i]) > d.max {
			return fmt.Errorf("filestate: value of %d bytes exceeds max_value %d", len(values[i]), d.max)
		}
		if err := d.write(k, newRev(), values[i]); err != nil {
			return err
		}
	}
	return d.syncDir()
}

// Delete implements driver.Store.
func (d *Driver) Delete(ctx context.Context, key, rev string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, err := d.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	_, cur, err := d.read(key)
	if errors.Is(err, errNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rev != "" && cur != rev {
		return errConflict
	}
	if err := os.Remove(d.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return d.syncDir()
}

// DeleteMany implements driver.Store.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := os.Remove(d.path(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return d.syncDir()
}

// List implements driver.Store.
func (d *Driver) List(ctx context.Context, prefix string, fn func(string) error) error {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, ok := strings.CutSuffix(e.Name(), dataSuffix)
		if !ok || strings.HasPrefix(name, ".tmp-") {
			continue
		}
		var key string
		if strings.Contains(name, "~") {
			b, err := os.ReadFile(filepath.Join(d.dir, e.Name()))
			if err != nil {
				continue // deleted meanwhile
			}
			if key, _, _, err = decodeFile(b); err != nil {
				continue
			}
		} else if key, err = url.PathUnescape(name); err != nil {
			continue
		}
		if strings.HasPrefix(key, prefix) {
			if err := fn(key); err != nil {
				return err
			}
		}
	}
	return nil
}

// MaxValueSize implements driver.Store.
func (d *Driver) MaxValueSize() int { return d.max }

// ErrorCode implements driver.Store.
func (d *Driver) ErrorCode(err error) driver.Code { return driver.CodeOf(err) }

// Close implements driver.Store.
func (d *Driver) Close() error { return nil }
