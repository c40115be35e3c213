package view

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyhq/eddy/core/urlmux"
	"github.com/eddyhq/eddy/core/view/driver"
)

// Store is the portable view store over a driver: reads that hide expired rows, and Apply, the
// conditional read-merge-write loop every writer goes through.
type Store struct {
	d    driver.Store
	opts Options
	now  func() time.Time
	st   counters
}

// Options configure a Store.
type Options struct {
	// MaxAttempts bounds the tries of a failing driver call, and the rounds of rows that keep
	// losing races, before Apply gives up with an error (default 6).
	MaxAttempts int
	// Backoff is the first wait between tries, doubled each time up to 2s (default 50ms).
	Backoff time.Duration
	// CacheRows bounds the rows each Writer keeps to write again without reading them first
	// (default 100,000; negative: no cache, every batch reads its rows).
	CacheRows int
	// Now is the wall clock for TTLs (time.Now if nil).
	Now func() time.Time
}

// NewStore wraps a driver. opts may be nil.
func NewStore(d driver.Store, opts *Options) *Store {
	s := &Store{d: d, now: time.Now}
	if opts != nil {
		s.opts = *opts
		if opts.Now != nil {
			s.now = opts.Now
		}
	}
	if s.opts.MaxAttempts <= 0 {
		s.opts.MaxAttempts = 6
	}
	if s.opts.Backoff <= 0 {
		s.opts.Backoff = 50 * time.Millisecond
	}
	if s.opts.CacheRows == 0 {
		s.opts.CacheRows = 100_000
	}
	return s
}

// Driver returns the driver.
func (s *Store) Driver() driver.Store { return s.d }

// Close closes the driver.
func (s *Store) Close() error { return s.d.Close() }

type counters struct {
	applies, roundTrips, written, unchanged, conflicts, failures atomic.Int64
}

// Stats counts a Store's work since it was opened.
type Stats struct {
	// Applies is the number of Apply calls (one per partition batch a Writer received).
	Applies int64 `json:"applies"`
	// RoundTrips counts driver calls: GetMany and PutMany, retries included.
	RoundTrips int64 `json:"round_trips"`
	// Written counts rows written; Unchanged counts touched rows a batch did not change (a
	// redelivery, an older window).
	Written   int64 `json:"written"`
	Unchanged int64 `json:"unchanged"`
	// Conflicts counts rows that lost a race and were merged again.
	Conflicts int64 `json:"conflicts"`
	// Failures counts driver calls that failed and were retried or given up on.
	Failures int64 `json:"failures"`
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{Applies: s.st.applies.Load(), RoundTrips: s.st.roundTrips.Load(), Written: s.st.written.Load(),
		Unchanged: s.st.unchanged.Load(), Conflicts: s.st.conflicts.Load(), Failures: s.st.failures.Load()}
}

// Row is a row as readers see it.
type Row struct {
	ID   string
	Key  string
	Data json.RawMessage
}

func (s *Store) live(r *driver.Row) bool {
	return r.Rev != "" && (r.Expires.IsZero() || s.now().Before(r.Expires))
}

// Get reads one row; ok is false when it is absent or expired.
func (s *Store) Get(ctx context.Context, function, view, key string) (Row, bool, error) {
	id := RowID(function, view, key)
	rows, err := s.d.GetMany(ctx, []string{id})
	if err != nil {
		return Row{}, false, fmt.Errorf("view: get %s: %w", id, err)
	}
	if len(rows) != 1 || !s.live(&rows[0]) {
		return Row{}, false, nil
	}
	return Row{ID: id, Key: key, Data: rows[0].Data}, true, nil
}

// Scan returns the live rows of a view, sorted by key.
func (s *Store) Scan(ctx context.Context, function, view string) ([]Row, error) {
	return s.scan(ctx, RowPrefix(function, view))
}

func (s *Store) scan(ctx context.Context, prefix string) ([]Row, error) {
	var out []Row
	err := s.d.Scan(ctx, prefix, func(r driver.Row) error {
		if s.live(&r) {
			out = append(out, Row{ID: r.ID, Key: KeyOf(prefix, r.ID), Data: r.Data})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("view: scan %s: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Catalogs returns the catalog of every function with views in the store.
func (s *Store) Catalogs(ctx context.Context) ([]Catalog, error) {
	rows, err := s.scan(ctx, CatalogPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]Catalog, 0, len(rows))
	for _, r := range rows {
		var c Catalog
		if err := json.Unmarshal(r.Data, &c); err != nil {
			return nil, fmt.Errorf("view: catalog %s: %w", r.ID, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// PutCatalog records a function's views in the store (last writer wins: the catalog describes
// the deployed spec).
func (s *Store) PutCatalog(ctx context.Context, c *Catalog) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	id := CatalogPrefix + url.PathEscape(c.Function)
	return s.retry(ctx, "put catalog "+id, func() error {
		for range s.opts.MaxAttempts {
			rows, err := s.d.GetMany(ctx, []string{id})
			if err != nil {
				return err
			}
			lost, err := s.d.PutMany(ctx, []driver.Row{{ID: id, Prefix: CatalogPrefix, Data: data, Rev: rows[0].Rev}})
			if err != nil || len(lost) == 0 {
				return err
			}
		}
		return errors.New("lost every race")
	})
}

// retry calls fn until it succeeds, the context ends or MaxAttempts tries failed, counting each
// failure.
func (s *Store) retry(ctx context.Context, what string, fn func() error) error {
	backoff := s.opts.Backoff
	for attempt := 1; ; attempt++ {
		s.st.roundTrips.Add(1)
		err := fn()
		if err == nil {
			return nil
		}
		s.st.failures.Add(1)
		if attempt >= s.opts.MaxAttempts || ctx.Err() != nil {
			return fmt.Errorf("view: %s: failed %d times: %w", what, attempt, err)
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("view: %s: %w (after: %v)", what, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// cached is a row a Writer wrote or read, with the revision it had then.
type cached struct {
	rev     string
	expires time.Time
	row     *row
}

// rowCache keeps the rows a Writer last saw, so that a batch touching keys this writer wrote
// before merges without reading them: its conditional write fails if anyone else wrote them
// since, and only then are they read. It holds at most max rows, dropping arbitrary ones beyond.
type rowCache struct {
	mu  sync.Mutex
	m   map[string]*cached
	max int
}

// take moves the cached rows of ups that have not expired into their updates; an apply owns
// them until it puts them back.
func (c *rowCache) take(ups []update, now time.Time) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range ups {
		if e, ok := c.m[ups[i].id]; ok {
			delete(c.m, ups[i].id)
			if e.expires.IsZero() || now.Before(e.expires) {
				ups[i].have = e
			}
		}
	}
}

func (c *rowCache) put(id string, e *cached) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		n := c.max / 10
		for k := range c.m {
			if n--; n < 0 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[id] = e
}

// apply merges updates into their rows: rows the cache does not hold are read with one GetMany,
// the changed ones written with one conditional PutMany, and rows that lost a race (written by
// someone else meanwhile) read and merged again, until none is left.
func (s *Store) apply(ctx context.Context, function string, ups []update, cache *rowCache) error {
	s.st.applies.Add(1)
	// Sorted ids give drivers that lock rows a consistent order.
	slices.SortFunc(ups, func(a, b update) int { return strings.Compare(a.id, b.id) })
	for i := range ups {
		ups[i].have = nil
	}
	cache.take(ups, s.now())
	todo := make([]*update, len(ups))
	for i := range ups {
		todo[i] = &ups[i]
	}
	miss := make([]string, 0, len(ups))
	missU := make([]*update, 0, len(ups))
	putU := make([]*update, 0, len(ups))
	puts := make([]driver.Row, 0, len(ups))
	for round := 1; len(todo) > 0; round++ {
		if round > s.opts.MaxAttempts {
			return fmt.Errorf("view: function %q: %d rows still losing races after %d rounds (first %s)", function, len(todo), round-1, todo[0].id)
		}
		miss, missU = miss[:0], missU[:0]
		for _, u := range todo {
			if u.have == nil {
				miss, missU = append(miss, u.id), append(missU, u)
			}
		}
		if len(miss) > 0 {
			var rows []driver.Row
			err := s.retry(ctx, fmt.Sprintf("read %d rows (first %s)", len(miss), miss[0]), func() (err error) {
				rows, err = s.d.GetMany(ctx, miss)
				if err == nil && len(rows) != len(miss) {
					err = fmt.Errorf("driver returned %d rows for %d ids", len(rows), len(miss))
				}
				return err
			})
			if err != nil {
				return err
			}
			for i, u := range missU {
				data := rows[i].Data
				if !s.live(&rows[i]) {
					data = nil
				}
				r, err := decodeRow(u.def.Kind, data)
				if err != nil {
					return fmt.Errorf("view: row %s: stored data: %w", u.id, err)
				}
				u.have = &cached{rev: rows[i].Rev, expires: rows[i].Expires, row: r}
			}
		}
		now := s.now()
		puts, putU = puts[:0], putU[:0]
		for _, u := range todo {
			e := u.have
			if !e.row.merge(u) {
				s.st.unchanged.Add(1)
				cache.put(u.id, e)
				continue
			}
			r := driver.Row{ID: u.id, Prefix: u.prefix, Data: e.row.encode(u.def.Kind, u.key), Rev: e.rev}
			if u.def.TTL > 0 {
				r.Expires = now.Add(u.def.TTL)
			}
			puts, putU = append(puts, r), append(putU, u)
		}
		if len(puts) == 0 {
			return nil
		}
		var lost []int
		err := s.retry(ctx, fmt.Sprintf("write %d rows (first %s)", len(puts), puts[0].ID), func() (err error) {
			lost, err = s.d.PutMany(ctx, puts)
			return err
		})
		if err != nil {
			return err
		}
		s.st.written.Add(int64(len(puts) - len(lost)))
		s.st.conflicts.Add(int64(len(lost)))
		slices.Sort(lost)
		todo = todo[:0]
		li := 0
		for i, u := range putU {
			for li < len(lost) && lost[li] < i {
				li++
			}
			if li < len(lost) && lost[li] == i {
				// Someone else wrote the row: read it again and merge into what they wrote.
				li++
				u.have = nil
				todo = append(todo, u)
				continue
			}
			u.have.rev, u.have.expires = puts[i].Rev, puts[i].Expires
			cache.put(u.id, u.have)
		}
	}
	return nil
}

// URLOpener opens a driver from a URL. Driver packages register one per scheme with a URLMux.
type URLOpener interface {
	OpenViewURL(ctx context.Context, u *url.URL) (driver.Store, error)
}

// URLOpenerFunc adapts a function to URLOpener.
type URLOpenerFunc func(ctx context.Context, u *url.URL) (driver.Store, error)

// OpenViewURL implements URLOpener.
func (f URLOpenerFunc) OpenViewURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	return f(ctx, u)
}

// URLMux maps URL schemes to openers. The zero value is ready to use.
type URLMux struct {
	reg urlmux.Registry[URLOpener]
}

// Register makes scheme open with o. It panics if the scheme is taken, as registering twice is a
// programming error found at init.
func (m *URLMux) Register(scheme string, o URLOpener) { m.reg.Register("view", scheme, o) }

// Schemes lists the registered schemes, sorted.
func (m *URLMux) Schemes() []string { return m.reg.Schemes() }

// Open opens the store a URL names.
func (m *URLMux) Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("view store %q: %w", rawURL, err)
	}
	o, ok := m.reg.Lookup(u.Scheme)
	if !ok {
		return nil, fmt.Errorf("view store %q: no driver for scheme %q (registered: %v; import its driver package)", rawURL, u.Scheme, m.Schemes())
	}
	d, err := o.OpenViewURL(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("view store %q: %w", rawURL, err)
	}
	return NewStore(d, nil), nil
}

var defaultMux = new(URLMux)

// DefaultURLMux is the mux driver packages register their schemes with when imported.
func DefaultURLMux() *URLMux { return defaultMux }

// Open opens a store from a URL with the default mux.
func Open(ctx context.Context, rawURL string) (*Store, error) { return defaultMux.Open(ctx, rawURL) }
