// Package reftable holds reference tables: small keyed tables (per-machine limits, a card's home
// country, a player's baseline) read from a CSV or JSON-lines file or blob, that rules, where:
// conditions and pattern steps look up by key in CEL (ref.limits[key].max_temp) and that decisions
// copy fields from (enrichment).
//
// A Set holds the current version of each declared table behind an atomic pointer: a refresh
// loads and parses the new content off the hot path and swaps it in, so evaluations never wait
// for I/O and always see one whole version. A refresh that fails keeps the last good table and
// is counted and logged. A table's version is a hash of its content, so the same content gives
// the same version (and the same decision ids) wherever it was read from.
package reftable

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"cel.dev/cel-go/common/types/ref"
)

// Formats a table's content may be in.
const (
	CSV   = "csv"   // a header line naming the columns, then one row per line
	JSONL = "jsonl" // one JSON object per line
)

// maxRows bounds a table: reference tables are held in memory by every instance.
const maxRows = 1_000_000

// Table is one version of a reference table: immutable and safe for concurrent use.
type Table struct {
	name    string
	version string
	key     string
	rows    map[string]*Row
	def     *Row // the row of keys the table lacks; nil if none
	columns []string
	colIdx  map[string]int // index of each column in columns and in Row.vals
}

// Row is one row of a table: its column values by name (float64, string, bool, nil, or for JSON
// lines also []any and map[string]any).
type Row struct {
	cols map[string]any
	vals []ref.Val // cols as CEL values, by the table's column index; nil where the row lacks one
	val  celRow
	// celVals holds the CEL values by column until the table's columns are known.
	celVals map[string]ref.Val
}

// Get returns the value of column col.
func (r *Row) Get(col string) (any, bool) {
	if r == nil {
		return nil, false
	}
	v, ok := r.cols[col]
	return v, ok
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Version identifies the table's content: "sha256:" and the first 16 bytes of the content's
// SHA-256 in hex.
func (t *Table) Version() string { return t.version }

// Len is the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Columns are the columns of the table, sorted.
func (t *Table) Columns() []string { return t.columns }

// Lookup returns the row of key, or the default row (found is then false) when the table has no
// such key; nil if there is neither.
func (t *Table) Lookup(key string) (r *Row, found bool) {
	if r, ok := t.rows[key]; ok {
		return r, true
	}
	return t.def, false
}

// Version returns the version Parse gives data.
func Version(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// ParseError is a malformed table: the source, the 1-based line and what is wrong.
type ParseError struct {
	Source string
	Line   int
	Err    error
}

// Error implements error.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Source, e.Err)
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse parses data, read from source, as a table of spec's format keyed by spec's key column.
// def is the row of keys the table lacks (nil: none). Errors are *ParseError naming the source
// and line.
func Parse(spec Spec, source string, data []byte) (*Table, error) {
	t := &Table{name: spec.Name, version: Version(data), key: spec.Key, rows: make(map[string]*Row)}
	cols := map[string]bool{}
	add := func(line int, key string, vals map[string]any) error {
		if _, dup := t.rows[key]; dup {
			return &ParseError{source, line, fmt.Errorf("key %q appears twice in column %q", key, spec.Key)}
		}
		if len(t.rows) >= maxRows {
			return &ParseError{source, line, fmt.Errorf("more than %d rows", maxRows)}
		}
		for c := range vals {
			cols[c] = true
		}
		t.rows[key] = newRow(vals)
		return nil
	}
	var err error
	switch spec.Format {
	case CSV, "":
		err = parseCSV(spec.Key, source, data, add)
	case JSONL:
		err = parseJSONL(spec.Key, source, data, add)
	default:
		err = &ParseError{Source: source, Err: fmt.Errorf("unknown format %q (csv or jsonl)", spec.Format)}
	}
	if err != nil {
		return nil, err
	}
	if spec.DefaultKey != "" {
		r, ok := t.rows[spec.DefaultKey]
		if !ok {
			return nil, &ParseError{Source: source, Err: fmt.Errorf("default_key %q is not a key of the table (column %q)", spec.DefaultKey, spec.Key)}
		}
		delete(t.rows, spec.DefaultKey)
		t.def = r
	}
	if spec.Default != nil {
		vals := make(map[string]any, len(spec.Default))
		for c, v := range spec.Default {
			vals[c] = normalize(v)
			cols[c] = true
		}
		t.def = newRow(vals)
	}
	for c := range cols {
		t.columns = append(t.columns, c)
	}
	slices.Sort(t.columns)
	t.colIdx = make(map[string]int, len(t.columns))
	for i, c := range t.columns {
		t.colIdx[c] = i
	}
	for _, r := range t.rows {
		t.index(r)
	}
	if t.def != nil {
		t.index(t.def)
	}
	return t, nil
}

func parseCSV(key, source string, data []byte, add func(int, string, map[string]any) error) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return &ParseError{source, 1, errors.New("empty: a CSV table needs a header line naming its columns")}
	}
	if err != nil {
		return csvError(source, err)
	}
	header = slices.Clone(header)
	ki := -1
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		if h == "" {
			return &ParseError{source, 1, fmt.Errorf("column %d has no name", i+1)}
		}
		if slices.Contains(header[:i], h) {
			return &ParseError{source, 1, fmt.Errorf("column %q appears twice", h)}
		}
		if h == key {
			ki = i
		}
	}
	if ki < 0 {
		return &ParseError{source, 1, fmt.Errorf("key column %q does not exist (columns: %s)", key, strings.Join(header, ", "))}
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(source, err)
		}
		line, _ := r.FieldPos(0)
		k := strings.TrimSpace(rec[ki])
		if k == "" {
			return &ParseError{source, line, fmt.Errorf("empty key in column %q", key)}
		}
		vals := make(map[string]any, len(rec))
		for i, s := range rec {
			vals[header[i]] = csvValue(strings.TrimSpace(s))
		}
		if err := add(line, k, vals); err != nil {
			return err
		}
	}
}

func csvError(source string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ParseError{source, pe.Line, pe.Err}
	}
	return &ParseError{Source: source, Err: err}
}

// csvValue types a CSV cell: a finite number is a number, true and false are booleans, the rest
// is a string (keys and codes such as "007" stay strings only in the key column).
func csvValue(s string) any {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	return s
}

func parseJSONL(key, source string, data []byte, add func(int, string, map[string]any) error) error {
	line, rows := 0, 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		var vals map[string]any
		d := json.NewDecoder(bytes.NewReader(l))
		if err := d.Decode(&vals); err != nil {
			return &ParseError{source, line, fmt.Errorf("not a JSON object: %w", err)}
		}
		if d.More() {
			return &ParseError{source, line, errors.New("more than one JSON value on the line")}
		}
		if vals == nil {
			return &ParseError{source, line, errors.New("not a JSON object: null")}
		}
		kv, ok := vals[key]
		if !ok {
			return &ParseError{source, line, fmt.Errorf("key column %q does not exist in this row", key)}
		}
		var k string
		switch v := kv.(type) {
		case string:
			k = v
		case float64:
			k = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return &ParseError{source, line, fmt.Errorf("key column %q is %T, not a string or a number", key, kv)}
		}
		if k == "" {
			return &ParseError{source, line, fmt.Errorf("empty key in column %q", key)}
		}
		if err := add(line, k, vals); err != nil {
			return err
		}
		rows++
	}
	if rows == 0 {
		return &ParseError{source, 1, errors.New("empty: no rows")}
	}
	return nil
}

// normalize turns the numbers of a default row given in Go or YAML into float64s, as parsed rows
// have them.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = normalize(e)
		}
		return l
	}
	return v
}

// index lays r's CEL values out by column index.
func (t *Table) index(r *Row) {
	r.vals = make([]ref.Val, len(t.columns))
	for c := range r.cols {
		r.vals[t.colIdx[c]] = r.celVals[c]
	}
	r.celVals = nil
}
