// Package blobstate is a state driver on a gocloud.dev blob bucket: Google Cloud Storage, Azure Blob
// Storage or Amazon S3. Conditional writes use each provider's precondition through gocloud's
// BeforeWrite hooks, since gocloud's portable WriterOptions has no If-Match:
//
//   - GCS: storage.Conditions{GenerationMatch} (DoesNotExist to create); the revision is the
//     object generation.
//   - Azure: AccessConditions with If-Match on the ETag (If-None-Match "*" to create).
//   - S3: If-Match on the ETag (If-None-Match "*" to create), which S3 honours since 2024.
//
// Buckets of other providers (memblob, fileblob) have no such preconditions, so New refuses them:
// use memstate or filestate instead, which implement the same conditional semantics natively.
//
// Each provider lives in its own subpackage, so that a binary links only its own cloud's SDK (a
// Lambda function links no GCP or Azure code). Importing one registers its provider and its URL
// scheme with state.DefaultURLMux, passed on to gocloud.dev/blob (whose driver must be imported
// too, as with gocloud):
//
//	import _ "github.com/eddyhq/eddy/core/state/blobstate/gcsstate"   // gs://bucket?prefix=eddy/
//	import _ "github.com/eddyhq/eddy/core/state/blobstate/azurestate" // azblob://container?prefix=eddy/
//	import _ "github.com/eddyhq/eddy/core/state/blobstate/s3state"    // s3://bucket?region=eu-west-1&prefix=eddy/
//
// Objects have no native TTL here; expired values read as absent, and a bucket lifecycle rule on
// age can remove what idle partitions leave behind.
package blobstate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/driver"
)

// RegisterScheme makes state.DefaultURLMux open URLs of scheme as blob buckets through
// gocloud.dev/blob, with this driver on top. Provider packages call it from init.
func RegisterScheme(scheme string) {
	state.DefaultURLMux().Register(scheme, state.URLOpenerFunc(func(ctx context.Context, u *url.URL) (driver.Store, error) {
		b, err := blob.OpenBucket(ctx, u.String())
		if err != nil {
			return nil, err
		}
		d, err := New(b)
		if err != nil {
			b.Close()
			return nil, err
		}
		return d, nil
	}))
}

var (
	providersMu sync.RWMutex
	providers   []Provider
)

// Register adds a provider; provider packages call it from init.
func Register(p Provider) {
	providersMu.Lock()
	defer providersMu.Unlock()
	providers = append(providers, p)
}

// Provider applies one cloud's preconditions.
type Provider interface {
	// Name names the provider ("gcs", "azure", "s3").
	Name() string
	// Detect reports whether b is this provider's bucket.
	Detect(b *blob.Bucket) bool
	// ReadRev returns the revision of what r read.
	ReadRev(r *blob.Reader) (string, error)
	// WriteHook returns a BeforeWrite hook conditioning the write on rev ("" = must not exist),
	// and a function that reports the new revision after the write if the provider tells it.
	WriteHook(rev string) (func(func(any) bool) error, func() (string, bool), error)
	// DeleteHook conditions a delete on rev.
	DeleteHook(rev string) (func(func(any) bool) error, error)
	// AttrRev returns the revision in an object's attributes.
	AttrRev(a *blob.Attributes) (string, error)
}

// Driver is the blob driver. It owns the bucket and closes it.
type Driver struct {
	b *blob.Bucket
	p Provider
}

// New returns a driver over b, whose provider must be registered (import its package).
func New(b *blob.Bucket) (*Driver, error) {
	providersMu.RLock()
	defer providersMu.RUnlock()
	var names []string
	for _, p := range providers {
		if p.Detect(b) {
			return &Driver{b: b, p: p}, nil
		}
		names = append(names, p.Name())
	}
	slices.Sort(names)
	return nil, fmt.Errorf("blobstate: the bucket's provider has no conditional writes eddy can use (registered: %v; import core/state/blobstate/gcsstate, azurestate or s3state for GCS, Azure Blob or S3; use memstate or filestate locally)", names)
}

// Open returns a portable Store over b.
func Open(b *blob.Bucket, opts *state.Options) (*state.Store, error) {
	d, err := New(b)
	if err != nil {
		return nil, err
	}
	return state.NewStore(d, opts), nil
}

// Provider names the bucket's provider ("gcs", "azure" or "s3").
func (d *Driver) Provider() string { return d.p.Name() }

const metaTag = "eddytag"

func randomTag() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Get implements driver.Store: one read, whose response carries the revision.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, string, error) {
	r, err := d.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	v, err := io.ReadAll(r)
	if err != nil {
		return nil, "", err
	}
	rev, err := d.p.ReadRev(r)
	if err != nil {
		return nil, "", fmt.Errorf("blobstate: %s object %q: %w", d.p.Name(), key, err)
	}
	return v, rev, nil
}

// parallel runs fn for each index with a few workers: blob stores have no batch calls, so chunks
// are read and written concurrently, which costs about one round trip of latency.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}(i)
	}
	wg.Wait()
	return first
}

// GetMany implements driver.Store.
func (d *Driver) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	err := parallel(ctx, len(keys), func(ctx context.Context, i int) error {
		v, err := d.b.ReadAll(ctx, keys[i])
		out[i] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Put implements driver.Store.
func (d *Driver) Put(ctx context.Context, key string, value []byte, rev string, expires time.Time) (string, error) {
	hook, after, err := d.p.WriteHook(rev)
	if err != nil {
		return "", fmt.Errorf("blobstate: %s object %q: %w", d.p.Name(), key, err)
	}
	tag := randomTag()
	opts := &blob.WriterOptions{
		// gocloud's default buffer is 16 MiB per write (GCS allocates it whole); size it to the
		// value instead, in the 256 KiB steps GCS wants.
		BufferSize:  bufferSize(len(value)),
		ContentType: "application/octet-stream",
		Metadata:    map[string]string{metaTag: tag},
		BeforeWrite: hook,
	}
	if !expires.IsZero() {
		opts.Metadata["expires"] = strconv.FormatInt(expires.Unix(), 10)
	}
	// Upload, not WriteAll: gocloud's azureblob writer panics when a piped write fails its
	// precondition (it closes a reader it has already cleared); Upload takes the unpiped path.
	if err := d.b.Upload(ctx, key, bytes.NewReader(value), opts); err != nil {
		return "", err
	}
	if r, ok := after(); ok {
		return r, nil
	}
	// The provider did not say the new ETag: read it, and make sure it is the ETag of our write
	// (the tag is unique to it). If someone wrote since, any revision we return must conflict.
	a, err := d.b.Attributes(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return "superseded-" + tag, nil
	}
	if err != nil {
		return "", err
	}
	if a.Metadata[metaTag] != tag {
		return "superseded-" + tag, nil
	}
	return d.p.AttrRev(a)
}

// PutMany implements driver.Store.
func (d *Driver) PutMany(ctx context.Context, keys []string, values [][]byte, _ time.Time) error {
	return parallel(ctx, len(keys), func(ctx context.Context, i int) error {
		return d.b.Upload(ctx, keys[i], bytes.NewReader(values[i]), &blob.WriterOptions{ContentType: "application/octet-stream"})
	})
}

// Delete implements driver.Store.
func (d *Driver) Delete(ctx context.Context, key, rev string) error {
	var opts *blob.DeleteOptions
	if rev != "" {
		hook, err := d.p.DeleteHook(rev)
		if err != nil {
			return fmt.Errorf("blobstate: %s object %q: %w", d.p.Name(), key, err)
		}
		opts = &blob.DeleteOptions{BeforeDelete: hook}
	}
	err := d.b.DeleteWithOptions(ctx, key, opts)
	if gcerrors.Code(err) == gcerrors.NotFound {
		if rev != "" {
			return fmt.Errorf("blobstate: object %q is gone: %w", key, errGone)
		}
		return nil
	}
	return err
}

var errGone = errors.New("revision mismatch")

// DeleteMany implements driver.Store.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) error {
	return parallel(ctx, len(keys), func(ctx context.Context, i int) error {
		if err := d.b.Delete(ctx, keys[i]); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return err
		}
		return nil
	})
}

// List implements driver.Store.
func (d *Driver) List(ctx context.Context, prefix string, fn func(string) error) error {
	it := d.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(obj.Key); err != nil {
			return err
		}
	}
}

// MaxValueSize implements driver.Store: objects have no practical limit, so values are not chunked.
func (d *Driver) MaxValueSize() int { return 0 }

// ErrorCode implements driver.Store.
func (d *Driver) ErrorCode(err error) driver.Code {
	if errors.Is(err, errGone) {
		return driver.Conflict
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return driver.NotFound
	case gcerrors.FailedPrecondition, gcerrors.AlreadyExists:
		return driver.Conflict
	}
	return driver.Unknown
}

// Close implements driver.Store.
func (d *Driver) Close() error { return d.b.Close() }

func bufferSize(n int) int {
	const step = 256 << 10
	return (n/step + 1) * step
}
