package reftable

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Spec declares one reference table.
type Spec struct {
	// Name is the table's name in CEL (ref.<name>), enrichment fields (<name>.<column>) and
	// decisions.
	Name string
	// Source is where the table is read from: a file path (or file:// URL), or a URL another
	// package registered a Loader for (s3://, gs://, azblob://: see adapters/refblob).
	Source string
	// Format is CSV (the default) or JSONL.
	Format string
	// Key is the column holding each row's key.
	Key string
	// Refresh is how often Run reloads the table; zero loads it once.
	Refresh time.Duration
	// Default is the row of keys the table lacks (nil: a lookup of such a key fails).
	Default map[string]any
	// DefaultKey names a row of the table that stands for the keys the table lacks ("*"), so the
	// default changes with the data; that row is not a key itself. Exclusive with Default.
	DefaultKey string
}

// Loader reads the content of a table's source.
type Loader interface {
	Load(ctx context.Context, source string) ([]byte, error)
}

// LoaderFunc adapts a function to a Loader.
type LoaderFunc func(ctx context.Context, source string) ([]byte, error)

// Load implements Loader.
func (f LoaderFunc) Load(ctx context.Context, source string) ([]byte, error) { return f(ctx, source) }

// maxSize bounds what a load reads.
const maxSize = 256 << 20

// FileLoader reads file paths and file:// URLs.
var FileLoader Loader = LoaderFunc(func(_ context.Context, source string) ([]byte, error) {
	path := source
	if strings.HasPrefix(source, "file://") {
		u, err := url.Parse(source)
		if err != nil {
			return nil, err
		}
		path = u.Path
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a reference table may have", path, st.Size(), maxSize)
	}
	return os.ReadFile(path)
})

// FSLoader reads sources without a scheme from fsys (an embed.FS of the tables built into a
// binary) and passes the others to next (DefaultURLMux when nil).
func FSLoader(fsys fs.FS, next Loader) Loader {
	if next == nil {
		next = defaultMux
	}
	return LoaderFunc(func(ctx context.Context, source string) ([]byte, error) {
		if strings.Contains(source, "://") {
			return next.Load(ctx, source)
		}
		return fs.ReadFile(fsys, filepath.ToSlash(filepath.Clean(source)))
	})
}

// URLMux picks a Loader by the scheme of a source; sources without a scheme, and file://, are
// files.
type URLMux struct {
	mu      sync.RWMutex
	schemes map[string]Loader
}

// Register makes m load sources of scheme with l.
func (m *URLMux) Register(scheme string, l Loader) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.schemes == nil {
		m.schemes = map[string]Loader{}
	}
	m.schemes[scheme] = l
}

// Load implements Loader.
func (m *URLMux) Load(ctx context.Context, source string) ([]byte, error) {
	scheme, _, ok := strings.Cut(source, "://")
	if !ok || scheme == "file" {
		return FileLoader.Load(ctx, source)
	}
	m.mu.RLock()
	l := m.schemes[scheme]
	m.mu.RUnlock()
	if l == nil {
		return nil, fmt.Errorf("no loader for %s:// sources (import github.com/eddyhq/eddy/adapters/refblob and the gocloud.dev/blob driver for blob URLs)", scheme)
	}
	return l.Load(ctx, source)
}

var defaultMux = &URLMux{}

// DefaultURLMux is the mux Open uses when given no Loader; blob packages register on it at init.
func DefaultURLMux() *URLMux { return defaultMux }

// Set is the current version of every declared table. Evaluations read it without locks; Refresh
// and Run replace tables atomically. It is safe for concurrent use.
type Set struct {
	loader  Loader
	log     *slog.Logger
	entries map[string]*entry
	names   []string
}

type entry struct {
	spec     Spec
	cur      atomic.Pointer[Table]
	loads    atomic.Int64
	failures atomic.Int64
	lastErr  atomic.Pointer[error]
}

// Options configure Open.
type Options struct {
	// Loader reads sources (default: DefaultURLMux).
	Loader Loader
	// Logger logs refreshes and their failures (default: slog.Default()).
	Logger *slog.Logger
}

// Open validates specs and loads every table once (New, then Load).
func Open(ctx context.Context, specs []Spec, opts Options) (*Set, error) {
	s, err := New(specs, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// New validates specs and returns a Set whose tables are declared but empty (no rows, version
// ""), enough to type-check expressions; Load fills them.
func New(specs []Spec, opts Options) (*Set, error) {
	s := &Set{loader: opts.Loader, log: opts.Logger, entries: make(map[string]*entry, len(specs))}
	if s.loader == nil {
		s.loader = defaultMux
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, sp := range specs {
		if err := sp.validate(); err != nil {
			return nil, err
		}
		if s.entries[sp.Name] != nil {
			return nil, fmt.Errorf("reference table %q declared twice", sp.Name)
		}
		e := &entry{spec: sp}
		e.cur.Store(&Table{name: sp.Name, key: sp.Key})
		s.entries[sp.Name] = e
		s.names = append(s.names, sp.Name)
	}
	slices.Sort(s.names)
	return s, nil
}

// Load loads every table now. A table that cannot be read or parsed is an error naming the
// table, its source and (for malformed content) the line; the tables keep what they had.
func (s *Set) Load(ctx context.Context) error {
	for _, n := range s.names {
		e := s.entries[n]
		t, err := s.load(ctx, e)
		if err != nil {
			return err
		}
		e.cur.Store(t)
		e.loads.Add(1)
	}
	return nil
}

func (sp *Spec) validate() error {
	switch {
	case !isIdent(sp.Name):
		return fmt.Errorf("reference table %q: name must be a CEL identifier (letters, digits and _, not starting with a digit)", sp.Name)
	case sp.Source == "":
		return fmt.Errorf("reference table %q: source must not be empty", sp.Name)
	case sp.Key == "":
		return fmt.Errorf("reference table %q: key must name the key column", sp.Name)
	case sp.Default != nil && sp.DefaultKey != "":
		return fmt.Errorf("reference table %q: set default or default_key, not both", sp.Name)
	case sp.Refresh < 0:
		return fmt.Errorf("reference table %q: refresh must not be negative, got %s", sp.Name, sp.Refresh)
	}
	switch sp.Format {
	case "", CSV, JSONL:
	default:
		return fmt.Errorf("reference table %q: format must be csv or jsonl, got %q", sp.Name, sp.Format)
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

func (s *Set) load(ctx context.Context, e *entry) (*Table, error) {
	data, err := s.loader.Load(ctx, e.spec.Source)
	if err != nil {
		return nil, fmt.Errorf("reference table %q: load %s: %w", e.spec.Name, e.spec.Source, err)
	}
	t, err := Parse(e.spec, e.spec.Source, data)
	if err != nil {
		return nil, fmt.Errorf("reference table %q: %w", e.spec.Name, err)
	}
	return t, nil
}

// Names are the declared tables' names, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return s.names
}

// Has reports whether table name is declared.
func (s *Set) Has(name string) bool { return s != nil && s.entries[name] != nil }

// Table returns the current version of table name, nil if it is not declared.
func (s *Set) Table(name string) *Table {
	if s == nil {
		return nil
	}
	if e := s.entries[name]; e != nil {
		return e.cur.Load()
	}
	return nil
}

// Handle is a declared table's slot in a Set, for evaluations that read it often: Current is one
// atomic load.
type Handle struct{ e *entry }

// Handle returns the slot of table name; ok is false if it is not declared.
func (s *Set) Handle(name string) (Handle, bool) {
	if s == nil || s.entries[name] == nil {
		return Handle{}, false
	}
	return Handle{s.entries[name]}, true
}

// Current returns the table's current version.
func (h Handle) Current() *Table { return h.e.cur.Load() }

// Stats are a table's refresh counters.
type Stats struct {
	Version  string // the current version
	Rows     int    // rows of the current version
	Loads    int64  // successful loads, the first one included
	Failures int64  // failed refreshes
	LastErr  error  // the latest failure, nil if none
}

// Stats returns table name's counters.
func (s *Set) Stats(name string) Stats {
	e := s.entries[name]
	if e == nil {
		return Stats{}
	}
	t := e.cur.Load()
	st := Stats{Version: t.version, Rows: len(t.rows), Loads: e.loads.Load(), Failures: e.failures.Load()}
	if p := e.lastErr.Load(); p != nil {
		st.LastErr = *p
	}
	return st
}

// Refresh reloads table name now. On failure the current version stays, the failure is counted
// and logged, and the error is returned.
func (s *Set) Refresh(ctx context.Context, name string) error {
	e := s.entries[name]
	if e == nil {
		return fmt.Errorf("reference table %q is not declared", name)
	}
	t, err := s.load(ctx, e)
	if err != nil {
		e.failures.Add(1)
		e.lastErr.Store(&err)
		s.log.WarnContext(ctx, "reference table refresh failed; keeping the last good version",
			"table", name, "source", e.spec.Source, "version", e.cur.Load().version, "failures", e.failures.Load(), "err", err)
		return err
	}
	old := e.cur.Swap(t)
	e.loads.Add(1)
	if old.version != t.version {
		s.log.InfoContext(ctx, "reference table refreshed", "table", name, "source", e.spec.Source,
			"version", t.version, "previous", old.version, "rows", len(t.rows))
	}
	return nil
}

// Run refreshes every table with a refresh interval, each on its own ticker, until ctx is done;
// it returns ctx's error. Failed refreshes are counted and logged (see Refresh) and retried at
// the next tick.
func (s *Set) Run(ctx context.Context) error {
	if s == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	var wg sync.WaitGroup
	for _, n := range s.names {
		e := s.entries[n]
		if e.spec.Refresh <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := time.NewTicker(e.spec.Refresh)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
					_ = s.Refresh(ctx, n)
				}
			}
		}()
	}
	wg.Wait()
	<-ctx.Done()
	return ctx.Err()
}
