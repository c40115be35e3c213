// Package memview is an in-process view store driver, for tests and eddy dev. Importing it
// registers the scheme "mem" with view.DefaultURLMux: stores opened with the same mem://NAME share
// their rows within the process.
package memview

import (
	"context"
	"net/url"
	"strconv"
	"sync"

	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/driver"
)

func init() {
	view.DefaultURLMux().Register("mem", view.URLOpenerFunc(func(_ context.Context, u *url.URL) (driver.Store, error) {
		name := u.Host + u.Path
		if name == "" {
			return New(), nil
		}
		named.Lock()
		defer named.Unlock()
		d := named.m[name]
		if d == nil {
			d = New()
			named.m[name] = d
		}
		return d, nil
	}))
}

var named = struct {
	sync.Mutex
	m map[string]*Driver
}{m: map[string]*Driver{}}

// Driver keeps rows in a map.
type Driver struct {
	mu   sync.Mutex
	rows map[string]driver.Row
	seq  int64
}

// New returns an empty driver.
func New() *Driver { return &Driver{rows: map[string]driver.Row{}} }

// GetMany implements driver.Store.
func (d *Driver) GetMany(_ context.Context, ids []string) ([]driver.Row, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]driver.Row, len(ids))
	for i, id := range ids {
		r, ok := d.rows[id]
		if !ok {
			r = driver.Row{ID: id}
		}
		out[i] = r
	}
	return out, nil
}

// PutMany implements driver.Store.
func (d *Driver) PutMany(_ context.Context, rows []driver.Row) ([]int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var lost []int
	for i, r := range rows {
		if d.rows[r.ID].Rev != r.Rev {
			lost = append(lost, i)
			continue
		}
		d.seq++
		r.Rev = strconv.FormatInt(d.seq, 10)
		d.rows[r.ID] = r
		rows[i].Rev = r.Rev
	}
	return lost, nil
}

// Scan implements driver.Store.
func (d *Driver) Scan(_ context.Context, prefix string, fn func(driver.Row) error) error {
	d.mu.Lock()
	var rows []driver.Row
	for _, r := range d.rows {
		if r.Prefix == prefix {
			rows = append(rows, r)
		}
	}
	d.mu.Unlock()
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Close implements driver.Store.
func (d *Driver) Close() error { return nil }
