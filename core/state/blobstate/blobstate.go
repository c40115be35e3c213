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
// Importing this package registers with state.DefaultURLMux the schemes "gs", "azblob" and "s3",
// passed on to gocloud.dev/blob (whose driver must be imported too, as with gocloud):
//
//	import _ "gocloud.dev/blob/gcsblob"   // gs://bucket?prefix=eddy/
//	import _ "gocloud.dev/blob/azureblob" // azblob://container?prefix=eddy/
//	import _ "gocloud.dev/blob/s3blob"    // s3://bucket?region=eu-west-1&prefix=eddy/
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
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/driver"
)

func init() {
	for _, scheme := range []string{"gs", "azblob", "s3"} {
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
}

// provider applies one cloud's preconditions.
type provider interface {
	name() string
	// readRev returns the revision of what r read.
	readRev(r *blob.Reader) (string, error)
	// writeHook returns a BeforeWrite hook conditioning the write on rev ("" = must not exist),
	// and a function that reports the new revision after the write if the provider tells it.
	writeHook(rev string) (func(func(any) bool) error, func() (string, bool), error)
	// deleteHook conditions a delete on rev.
	deleteHook(rev string) (func(func(any) bool) error, error)
	// attrRev returns the revision in an object's attributes.
	attrRev(a *blob.Attributes) (string, error)
}

// Driver is the blob driver. It owns the bucket and closes it.
type Driver struct {
	b *blob.Bucket
	p provider
}

// New returns a driver over b, which must be a GCS, Azure Blob or S3 bucket.
func New(b *blob.Bucket) (*Driver, error) {
	var gc *storage.Client
	var ac *container.Client
	var sc *s3.Client
	switch {
	case b.As(&gc):
		return &Driver{b: b, p: gcsProvider{}}, nil
	case b.As(&ac):
		return &Driver{b: b, p: azureProvider{}}, nil
	case b.As(&sc):
		return &Driver{b: b, p: s3Provider{}}, nil
	}
	return nil, errors.New("blobstate: the bucket's provider has no conditional writes eddy can use (want GCS, Azure Blob or S3; use memstate or filestate locally)")
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
func (d *Driver) Provider() string { return d.p.name() }

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
	rev, err := d.p.readRev(r)
	if err != nil {
		return nil, "", fmt.Errorf("blobstate: %s object %q: %w", d.p.name(), key, err)
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
	hook, after, err := d.p.writeHook(rev)
	if err != nil {
		return "", fmt.Errorf("blobstate: %s object %q: %w", d.p.name(), key, err)
	}
	tag := randomTag()
	opts := &blob.WriterOptions{
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
	return d.p.attrRev(a)
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
		hook, err := d.p.deleteHook(rev)
		if err != nil {
			return fmt.Errorf("blobstate: %s object %q: %w", d.p.name(), key, err)
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

// gcsProvider conditions on object generations.
type gcsProvider struct{}

func (gcsProvider) name() string { return "gcs" }

func (gcsProvider) readRev(r *blob.Reader) (string, error) {
	var sr *storage.Reader
	if !r.As(&sr) || sr == nil {
		return "", errors.New("no storage.Reader behind the blob reader")
	}
	return strconv.FormatInt(sr.Attrs.Generation, 10), nil
}

func gcsConds(rev string) (storage.Conditions, error) {
	if rev == "" {
		return storage.Conditions{DoesNotExist: true}, nil
	}
	g, err := strconv.ParseInt(rev, 10, 64)
	if err != nil || g <= 0 {
		return storage.Conditions{}, fmt.Errorf("malformed generation %q", rev)
	}
	return storage.Conditions{GenerationMatch: g}, nil
}

func (gcsProvider) writeHook(rev string) (func(func(any) bool) error, func() (string, bool), error) {
	c, err := gcsConds(rev)
	if err != nil {
		return nil, nil, err
	}
	var w *storage.Writer
	hook := func(as func(any) bool) error {
		var oh **storage.ObjectHandle
		if !as(&oh) {
			return errors.New("blobstate: gcs writer exposes no object handle")
		}
		*oh = (*oh).If(c)
		if !as(&w) {
			return errors.New("blobstate: gcs writer exposes no storage.Writer")
		}
		return nil
	}
	after := func() (string, bool) {
		if w == nil || w.Attrs() == nil {
			return "", false
		}
		return strconv.FormatInt(w.Attrs().Generation, 10), true
	}
	return hook, after, nil
}

func (gcsProvider) deleteHook(rev string) (func(func(any) bool) error, error) {
	c, err := gcsConds(rev)
	if err != nil {
		return nil, err
	}
	return func(as func(any) bool) error {
		var oh **storage.ObjectHandle
		if !as(&oh) {
			return errors.New("blobstate: gcs delete exposes no object handle")
		}
		// Naming the generation too makes a mismatch a 404 even where the precondition is not
		// enforced (fake-gcs-server ignores ifGenerationMatch on deletes); on GCS the precondition
		// keeps a versioned bucket from deleting a noncurrent generation instead.
		*oh = (*oh).Generation(c.GenerationMatch).If(c)
		return nil
	}, nil
}

func (gcsProvider) attrRev(a *blob.Attributes) (string, error) {
	var oa storage.ObjectAttrs
	if !a.As(&oa) {
		return "", errors.New("no storage.ObjectAttrs behind the attributes")
	}
	return strconv.FormatInt(oa.Generation, 10), nil
}

// azureProvider conditions on ETags.
type azureProvider struct{}

func (azureProvider) name() string { return "azure" }

func (azureProvider) readRev(r *blob.Reader) (string, error) {
	var resp azblobblob.DownloadStreamResponse
	if !r.As(&resp) || resp.ETag == nil {
		return "", errors.New("no ETag in the download response")
	}
	return string(*resp.ETag), nil
}

func azureConds(rev string) *azblobblob.AccessConditions {
	m := &azblobblob.ModifiedAccessConditions{}
	if rev == "" {
		m.IfNoneMatch = to(azcore.ETagAny)
	} else {
		m.IfMatch = to(azcore.ETag(rev))
	}
	return &azblobblob.AccessConditions{ModifiedAccessConditions: m}
}

func to[T any](v T) *T { return &v }

func (azureProvider) writeHook(rev string) (func(func(any) bool) error, func() (string, bool), error) {
	hook := func(as func(any) bool) error {
		var o *azblob.UploadStreamOptions
		if !as(&o) || o == nil {
			return errors.New("blobstate: azure writer exposes no UploadStreamOptions")
		}
		o.AccessConditions = azureConds(rev)
		return nil
	}
	return hook, func() (string, bool) { return "", false }, nil
}

func (azureProvider) deleteHook(rev string) (func(func(any) bool) error, error) {
	return func(as func(any) bool) error {
		var o *azblobblob.DeleteOptions
		if !as(&o) || o == nil {
			return errors.New("blobstate: azure delete exposes no DeleteOptions")
		}
		o.AccessConditions = azureConds(rev)
		return nil
	}, nil
}

func (azureProvider) attrRev(a *blob.Attributes) (string, error) {
	if a.ETag == "" {
		return "", errors.New("no ETag in the attributes")
	}
	return a.ETag, nil
}

// s3Provider conditions on ETags with S3's conditional writes.
type s3Provider struct{}

func (s3Provider) name() string { return "s3" }

func (s3Provider) readRev(r *blob.Reader) (string, error) {
	var out s3.GetObjectOutput
	if !r.As(&out) || out.ETag == nil {
		return "", errors.New("no ETag in the GetObject output")
	}
	return *out.ETag, nil
}

func (s3Provider) writeHook(rev string) (func(func(any) bool) error, func() (string, bool), error) {
	hook := func(as func(any) bool) error {
		var in *transfermanager.UploadObjectInput
		if !as(&in) || in == nil {
			return errors.New("blobstate: s3 writer exposes no UploadObjectInput")
		}
		if rev == "" {
			in.IfNoneMatch = to("*")
		} else {
			in.IfMatch = to(rev)
		}
		return nil
	}
	return hook, func() (string, bool) { return "", false }, nil
}

func (s3Provider) deleteHook(rev string) (func(func(any) bool) error, error) {
	return func(as func(any) bool) error {
		var in *s3.DeleteObjectInput
		if !as(&in) || in == nil {
			return errors.New("blobstate: s3 delete exposes no DeleteObjectInput")
		}
		in.IfMatch = to(rev)
		return nil
	}, nil
}

func (s3Provider) attrRev(a *blob.Attributes) (string, error) {
	var out s3.HeadObjectOutput
	if a.As(&out) && out.ETag != nil {
		return *out.ETag, nil
	}
	if a.ETag == "" {
		return "", errors.New("no ETag in the attributes")
	}
	return a.ETag, nil
}
