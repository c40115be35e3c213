package state

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/eddyhq/eddy/core/state/driver"
	"github.com/eddyhq/eddy/core/urlmux"
)

// URLOpener opens a driver from a URL. Driver packages register one per scheme with a URLMux.
type URLOpener interface {
	OpenStateURL(ctx context.Context, u *url.URL) (driver.Store, error)
}

// URLOpenerFunc adapts a function to URLOpener.
type URLOpenerFunc func(ctx context.Context, u *url.URL) (driver.Store, error)

// OpenStateURL implements URLOpener.
func (f URLOpenerFunc) OpenStateURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	return f(ctx, u)
}

// URLMux maps URL schemes to openers. The zero value is ready to use.
type URLMux struct {
	reg urlmux.Registry[URLOpener]
}

// Register makes scheme open with o. It panics if the scheme is taken, as registering twice is a
// programming error found at init.
func (m *URLMux) Register(scheme string, o URLOpener) { m.reg.Register("state", scheme, o) }

// Schemes lists the registered schemes, sorted.
func (m *URLMux) Schemes() []string { return m.reg.Schemes() }

// Open opens the store a URL names. The query parameters "budget" (bytes; also "1MiB", "400KB")
// and "chunk_size" are the portable Store's own and are removed before the driver sees the URL.
func (m *URLMux) Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("state: open %q: %w", rawURL, err)
	}
	o, ok := m.reg.Lookup(u.Scheme)
	if !ok {
		return nil, fmt.Errorf("state: open %q: no driver for scheme %q (registered: %v; import its driver package)", rawURL, u.Scheme, m.Schemes())
	}
	q := u.Query()
	var opts Options
	for name, dst := range map[string]*int{"budget": &opts.Budget, "chunk_size": &opts.ChunkSize} {
		if v := q.Get(name); v != "" {
			n, err := ParseSize(v)
			if err != nil {
				return nil, fmt.Errorf("state: open %q: parameter %s: %w", rawURL, name, err)
			}
			*dst = n
			q.Del(name)
		}
	}
	u.RawQuery = q.Encode()
	d, err := o.OpenStateURL(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("state: open %q: %w", rawURL, err)
	}
	return NewStore(d, &opts), nil
}

// ParseSize parses a byte size: a plain number of bytes or a number with a unit (KB, MB, GB in
// powers of 1,000; KiB, MiB, GiB in powers of 1,024).
func ParseSize(s string) (int, error) {
	units := []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := 1
	for _, u := range units {
		if len(s) > len(u.suffix) && s[len(s)-len(u.suffix):] == u.suffix {
			s, mult = s[:len(s)-len(u.suffix)], u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q: want bytes, optionally with KB, MB, GB, KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

var defaultMux = new(URLMux)

// DefaultURLMux is the mux driver packages register their schemes with when imported, as in
// gocloud.dev: import _ "github.com/eddyhq/eddy/core/state/filestate" to open file:// URLs.
func DefaultURLMux() *URLMux { return defaultMux }

// Open opens a store from a URL with the default mux, e.g. "mem://", "file:///var/lib/eddy",
// "dynamodb://eddy-state?partition_key=id", "gs://bucket/prefix/", "azblob://container".
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return defaultMux.Open(ctx, rawURL)
}
