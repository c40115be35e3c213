// Package memstate is an in-memory state driver: for tests, local runs and single-process tools.
// Importing it registers the "mem" scheme with state.DefaultURLMux: "mem://" opens a fresh store,
// "mem://?max_value=4096" one that splits values above 4,096 bytes into chunks (to exercise
// chunking).
package memstate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/driver"
)

func init() {
	state.DefaultURLMux().Register("mem", state.URLOpenerFunc(func(_ context.Context, u *url.URL) (driver.Store, error) {
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
				return nil, errors.New("unknown parameter " + strconv.Quote(k) + " (mem:// takes max_value)")
			}
		}
		return NewDriver(max), nil
	}))
}

var (
	errNotFound = fmt.Errorf("memstate: %w", driver.ErrNotFound)
	errConflict = fmt.Errorf("memstate: %w", driver.ErrConflict)
)

type item struct {
	value []byte
	rev   uint64
}

// Driver is the in-memory driver.
type Driver struct {
	mu    sync.Mutex
	items map[string]item
	next  uint64
	max   int
}

// NewDriver returns an empty driver whose items hold at most maxValue bytes (0 for no limit).
func NewDriver(maxValue int) *Driver { return &Driver{items: map[string]item{}, max: maxValue} }

// New returns a portable Store over a fresh in-memory driver.
func New(opts *state.Options) *state.Store { return state.NewStore(NewDriver(0), opts) }

// Get implements driver.Store.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	it, ok := d.items[key]
	if !ok {
		return nil, "", errNotFound
	}
	return append([]byte(nil), it.value...), strconv.FormatUint(it.rev, 10), nil
}

// GetMany implements driver.Store.
func (d *Driver) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		it, ok := d.items[k]
		if !ok {
			return nil, errNotFound
		}
		out[i] = append([]byte(nil), it.value...)
	}
	return out, nil
}

// Put implements driver.Store.
func (d *Driver) Put(ctx context.Context, key string, value []byte, rev string, _ time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if d.max > 0 && len(value) > d.max {
		return "", errors.New("memstate: value of " + strconv.Itoa(len(value)) + " bytes exceeds max_value")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	it, ok := d.items[key]
	if (rev == "" && ok) || (rev != "" && (!ok || strconv.FormatUint(it.rev, 10) != rev)) {
		return "", errConflict
	}
	d.next++
	d.items[key] = item{value: append([]byte(nil), value...), rev: d.next}
	return strconv.FormatUint(d.next, 10), nil
}

// PutMany implements driver.Store.
func (d *Driver) PutMany(ctx context.Context, keys []string, values [][]byte, _ time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, k := range keys {
		if d.max > 0 && len(values[i]) > d.max {
			return errors.New("memstate: value of " + strconv.Itoa(len(values[i])) + " bytes exceeds max_value")
		}
		d.next++
		d.items[k] = item{value: append([]byte(nil), values[i]...), rev: d.next}
	}
	return nil
}

// Delete implements driver.Store.
func (d *Driver) Delete(ctx context.Context, key, rev string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	it, ok := d.items[key]
	if !ok {
		return nil
	}
	if rev != "" && strconv.FormatUint(it.rev, 10) != rev {
		return errConflict
	}
	delete(d.items, key)
	return nil
}

// DeleteMany implements driver.Store.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		delete(d.items, k)
	}
	return nil
}

// List implements driver.Store.
func (d *Driver) List(ctx context.Context, prefix string, fn func(string) error) error {
	d.mu.Lock()
	var keys []string
	for k := range d.items {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	d.mu.Unlock()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
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
