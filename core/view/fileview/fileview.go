// Package fileview is a view store driver on a local directory, for eddy dev and for a dashboard
// started in another process (eddy dashboard --view file:///DIR). Importing it registers the
// scheme "file" with view.DefaultURLMux.
//
// Each view is one JSON file in the directory, rewritten atomically (temporary file, rename) on
// each batch that changes it, under an exclusive lock on DIR/.lock so several processes may
// share the directory. Expired rows are hidden by the portable store, not deleted: the driver
// has no clock of its own. It suits views of up to some tens of thousands of rows; use a cloud store
// beyond that.
package fileview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/driver"
)

func init() {
	view.DefaultURLMux().Register("file", view.URLOpenerFunc(func(_ context.Context, u *url.URL) (driver.Store, error) {
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("file URL %q names host %q: want file:///ABSOLUTE/DIR", u.String(), u.Host)
		}
		if u.Path == "" {
			return nil, errors.New("file URL names no directory: want file:///ABSOLUTE/DIR")
		}
		return Open(u.Path)
	}))
}

// Driver stores views as files in a directory.
type Driver struct {
	dir string
	mu  sync.Mutex
}

// Open returns a driver on dir, creating it if needed.
func Open(dir string) (*Driver, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fileview: %w", err)
	}
	return &Driver{dir: dir}, nil
}

type fileRow struct {
	Rev     int64           `json:"rev"`
	Expires time.Time       `json:"expires,omitzero"`
	Data    json.RawMessage `json:"data"`
}

type file struct {
	Prefix string              `json:"prefix"`
	Rows   map[string]*fileRow `json:"rows"`
}

func (d *Driver) path(prefix string) string {
	return filepath.Join(d.dir, url.PathEscape(prefix)+".json")
}

func (d *Driver) read(prefix string) (*file, error) {
	b, err := os.ReadFile(d.path(prefix))
	if errors.Is(err, fs.ErrNotExist) {
		return &file{Prefix: prefix, Rows: map[string]*fileRow{}}, nil
	}
	if err != nil {
		return nil, err
	}
	f := &file{}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("fileview: %s: %w", d.path(prefix), err)
	}
	if f.Rows == nil {
		f.Rows = map[string]*fileRow{}
	}
	return f, nil
}

func (d *Driver) write(f *file) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(d.dir, ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), d.path(f.Prefix))
}

// lock takes the in-process and the cross-process lock.
func (d *Driver) lock() (func(), error) {
	d.mu.Lock()
	lf, err := os.OpenFile(filepath.Join(d.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("fileview: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		lf.Close()
		d.mu.Unlock()
		return nil, fmt.Errorf("fileview: lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
		lf.Close()
		d.mu.Unlock()
	}, nil
}

// prefixOf returns the "function/view/" part of an id.
func prefixOf(id string) string {
	n := 0
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			n++
			if n == 2 {
				return id[:i+1]
			}
		}
	}
	return id
}

// GetMany implements driver.Store.
func (d *Driver) GetMany(_ context.Context, ids []string) ([]driver.Row, error) {
	unlock, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	files := map[string]*file{}
	out := make([]driver.Row, len(ids))
	for i, id := range ids {
		p := prefixOf(id)
		f := files[p]
		if f == nil {
			if f, err = d.read(p); err != nil {
				return nil, err
			}
			files[p] = f
		}
		out[i] = driver.Row{ID: id, Prefix: p}
		if r := f.Rows[id]; r != nil {
			out[i].Data, out[i].Rev, out[i].Expires = r.Data, strconv.FormatInt(r.Rev, 10), r.Expires
		}
	}
	return out, nil
}

// PutMany implements driver.Store: each touched view's file is read once and written once.
func (d *Driver) PutMany(_ context.Context, rows []driver.Row) ([]int, error) {
	unlock, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	files := map[string]*file{}
	var lost []int
	for i, r := range rows {
		f := files[r.Prefix]
		if f == nil {
			if f, err = d.read(r.Prefix); err != nil {
				return nil, err
			}
			files[r.Prefix] = f
		}
		cur := f.Rows[r.ID]
		rev := ""
		if cur != nil {
			rev = strconv.FormatInt(cur.Rev, 10)
		}
		if rev != r.Rev {
			lost = append(lost, i)
			continue
		}
		next := int64(1)
		if cur != nil {
			next = cur.Rev + 1
		}
		f.Rows[r.ID] = &fileRow{Rev: next, Expires: r.Expires, Data: append(json.RawMessage(nil), r.Data...)}
		rows[i].Rev = strconv.FormatInt(next, 10)
	}
	for _, f := range files {
		if err := d.write(f); err != nil {
			return nil, fmt.Errorf("fileview: %w", err)
		}
	}
	return lost, nil
}

// Scan implements driver.Store.
func (d *Driver) Scan(_ context.Context, prefix string, fn func(driver.Row) error) error {
	unlock, err := d.lock()
	if err != nil {
		return err
	}
	f, err := d.read(prefix)
	unlock()
	if err != nil {
		return err
	}
	for id, r := range f.Rows {
		if err := fn(driver.Row{ID: id, Prefix: prefix, Data: r.Data, Rev: strconv.FormatInt(r.Rev, 10), Expires: r.Expires}); err != nil {
			return err
		}
	}
	return nil
}

// Close implements driver.Store.
func (d *Driver) Close() error { return nil }
