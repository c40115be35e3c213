// Package refblob loads reference tables (see core/reftable) from blobs through gocloud.dev/blob:
// s3://BUCKET/KEY?region=R, gs://BUCKET/KEY and azblob://CONTAINER/KEY. Importing it registers
// those schemes with reftable.DefaultURLMux; as with gocloud, the provider's driver must be
// imported too, which keeps other clouds' SDKs out of a function's binary:
//
//	import (
//		_ "github.com/eddyhq/eddy/adapters/refblob"
//		_ "gocloud.dev/blob/s3blob"
//	)
//
// The query of a source is the bucket URL's (region=, endpoint=, ...); the path after the bucket
// is the object key.
package refblob

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"gocloud.dev/blob"

	"github.com/eddyhq/eddy/core/reftable"
)

// Schemes are the URL schemes the package registers.
var Schemes = []string{"s3", "gs", "azblob"}

func init() {
	l := &URLLoader{}
	for _, s := range Schemes {
		reftable.DefaultURLMux().Register(s, l)
	}
}

// maxSize bounds what a load reads: reference tables live in every instance's memory.
const maxSize = 256 << 20

// Split splits a source URL into the bucket URL gocloud opens and the object key.
func Split(source string) (bucketURL, key string, err error) {
	u, err := url.Parse(source)
	if err != nil {
		return "", "", fmt.Errorf("source %q: %w", source, err)
	}
	key = strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || key == "" {
		return "", "", fmt.Errorf("source %q: want %s://BUCKET/KEY", source, u.Scheme)
	}
	b := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}
	return b.String(), key, nil
}

// URLLoader opens each source's bucket with blob.OpenBucket, once, and keeps it open for the
// refreshes that follow. It is safe for concurrent use.
type URLLoader struct {
	mu      sync.Mutex
	buckets map[string]*blob.Bucket
}

// Load implements reftable.Loader.
func (l *URLLoader) Load(ctx context.Context, source string) ([]byte, error) {
	bu, key, err := Split(source)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	b := l.buckets[bu]
	if b == nil {
		if b, err = blob.OpenBucket(ctx, bu); err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("open bucket %s: %w", bu, err)
		}
		if l.buckets == nil {
			l.buckets = map[string]*blob.Bucket{}
		}
		l.buckets[bu] = b
	}
	l.mu.Unlock()
	return read(ctx, b, key)
}

// Close closes the buckets the loader opened.
func (l *URLLoader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for k, b := range l.buckets {
		if err := b.Close(); err != nil && first == nil {
			first = err
		}
		delete(l.buckets, k)
	}
	return first
}

// Bucket returns a Loader reading from b, an opened bucket: a source's key is its path after
// the bucket (scheme://BUCKET/KEY), or the whole source if it has no scheme.
func Bucket(b *blob.Bucket) reftable.Loader {
	return reftable.LoaderFunc(func(ctx context.Context, source string) ([]byte, error) {
		key := source
		if strings.Contains(source, "://") {
			var err error
			if _, key, err = Split(source); err != nil {
				return nil, err
			}
		}
		return read(ctx, b, key)
	})
}

func read(ctx context.Context, b *blob.Bucket, key string) ([]byte, error) {
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	if r.Size() > maxSize {
		return nil, fmt.Errorf("read %s: %d bytes, more than the %d a reference table may have", key, r.Size(), maxSize)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return data, nil
}
