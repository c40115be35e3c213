// Package docview is a view store driver on a gocloud.dev docstore collection: DynamoDB,
// Firestore, or memdocstore. Conditional writes use docstore revisions (a DynamoDB condition
// expression, a Firestore update-time precondition); a batch's reads and writes each go out as one
// action list (DynamoDB BatchGetItem for the reads).
//
// Importing this package registers with view.DefaultURLMux the schemes "dynamodb", "firestore"
// and "docstore+mem". The URL is passed on to gocloud.dev/docstore, whose driver must be imported
// too (as with gocloud itself):
//
//	import _ "gocloud.dev/docstore/awsdynamodb/v2" // dynamodb://TABLE?partition_key=id
//	import _ "gocloud.dev/docstore/gcpfirestore"   // firestore://projects/P/databases/(default)/documents/C?name_field=id
//	import _ "gocloud.dev/docstore/memdocstore"    // docstore+mem://collection/id
//
// The key field (DynamoDB partition_key, Firestore name_field, memdocstore path) must be a string.
// Documents also hold "p" (the view's id prefix, for listing), "d" (the row's JSON, as bytes) and,
// for rows with a TTL, "expires" (unix seconds: set it as the table's DynamoDB TTL attribute) and
// "expire_at" (a timestamp: a Firestore TTL policy field). Listing a view is a filtered scan (a
// DynamoDB Scan, a Firestore query on "p"): it serves the dashboard, not the per-batch path.
package docview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"gocloud.dev/docstore"
	"gocloud.dev/gcerrors"

	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/driver"
)

func init() {
	m := view.DefaultURLMux()
	m.Register("dynamodb", opener("dynamodb", func(u *url.URL) string { return u.Query().Get("partition_key") }))
	m.Register("firestore", opener("firestore", func(u *url.URL) string { return u.Query().Get("name_field") }))
	m.Register("docstore+mem", opener("mem", func(u *url.URL) string { return strings.TrimPrefix(u.Path, "/") }))
}

func opener(scheme string, keyField func(*url.URL) string) view.URLOpener {
	return view.URLOpenerFunc(func(ctx context.Context, u *url.URL) (driver.Store, error) {
		v := *u
		v.Scheme = scheme
		if scheme == "dynamodb" {
			// Listing a view for the dashboard is a filtered Scan; gocloud refuses scans unless asked.
			q := v.Query()
			if q.Get("allow_scans") == "" {
				q.Set("allow_scans", "true")
				v.RawQuery = q.Encode()
			}
		}
		kf := keyField(&v)
		if kf == "" {
			return nil, fmt.Errorf("%s URL names no key field (see package docview)", u.Scheme)
		}
		coll, err := docstore.OpenCollection(ctx, v.String())
		if err != nil {
			return nil, err
		}
		return New(coll, kf), nil
	})
}

// Driver is the docstore driver. It owns the collection and closes it.
type Driver struct {
	coll     *docstore.Collection
	keyField string
}

// New returns a driver over coll, whose documents are keyed by the string field keyField.
func New(coll *docstore.Collection, keyField string) *Driver {
	if keyField == "" {
		keyField = "id"
	}
	return &Driver{coll: coll, keyField: keyField}
}

const (
	fieldPrefix   = "p"
	fieldData     = "d"
	fieldExpires  = "expires"
	fieldExpireAt = "expire_at"
)

var revField = docstore.DefaultRevisionField

func (d *Driver) row(id string, doc map[string]any) (driver.Row, error) {
	r := driver.Row{ID: id}
	r.Prefix, _ = doc[fieldPrefix].(string)
	switch v := doc[fieldData].(type) {
	case []byte:
		r.Data = v
	case string:
		r.Data = []byte(v)
	}
	switch v := doc[fieldExpires].(type) {
	case int64:
		r.Expires = time.Unix(v, 0)
	case float64:
		r.Expires = time.Unix(int64(v), 0)
	}
	rev, err := d.coll.RevisionToString(doc[revField])
	if err != nil {
		return r, fmt.Errorf("docview: document %q: revision: %w", id, err)
	}
	r.Rev = rev
	return r, nil
}

// GetMany implements driver.Store with one action list.
func (d *Driver) GetMany(ctx context.Context, ids []string) ([]driver.Row, error) {
	docs := make([]map[string]any, len(ids))
	al := d.coll.Actions()
	for i, id := range ids {
		docs[i] = map[string]any{d.keyField: id}
		al.Get(docs[i])
	}
	missing := map[int]bool{}
	if err := al.Do(ctx); err != nil {
		var ale docstore.ActionListError
		if !errors.As(err, &ale) {
			return nil, err
		}
		for _, e := range ale {
			if gcerrors.Code(e.Err) != gcerrors.NotFound {
				return nil, e.Err
			}
			missing[e.Index] = true
		}
	}
	out := make([]driver.Row, len(ids))
	for i, doc := range docs {
		if missing[i] {
			out[i] = driver.Row{ID: ids[i]}
			continue
		}
		r, err := d.row(ids[i], doc)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// PutMany implements driver.Store with one action list: Create for new rows, Replace conditioned
// on the revision for stored ones.
func (d *Driver) PutMany(ctx context.Context, rows []driver.Row) ([]int, error) {
	al := d.coll.Actions()
	docs := make([]map[string]any, len(rows))
	for i, r := range rows {
		doc := map[string]any{d.keyField: r.ID, fieldPrefix: r.Prefix, fieldData: r.Data}
		docs[i] = doc
		if !r.Expires.IsZero() {
			doc[fieldExpires] = r.Expires.Unix()
			doc[fieldExpireAt] = r.Expires.UTC()
		}
		if r.Rev == "" {
			doc[revField] = nil
			al.Create(doc)
			continue
		}
		rev, err := d.coll.StringToRevision(r.Rev)
		if err != nil {
			return nil, fmt.Errorf("docview: document %q: revision %q: %w", r.ID, r.Rev, err)
		}
		doc[revField] = rev
		al.Replace(doc)
	}
	var lost []int
	if err := al.Do(ctx); err != nil {
		var ale docstore.ActionListError
		if !errors.As(err, &ale) {
			return nil, err
		}
		for _, e := range ale {
			switch gcerrors.Code(e.Err) {
			case gcerrors.AlreadyExists, gcerrors.FailedPrecondition, gcerrors.NotFound:
				lost = append(lost, e.Index)
			default:
				return nil, e.Err
			}
		}
	}
	failed := map[int]bool{}
	for _, i := range lost {
		failed[i] = true
	}
	// docstore sets the revision field of each document it wrote.
	for i, doc := range docs {
		if failed[i] {
			continue
		}
		rev, err := d.coll.RevisionToString(doc[revField])
		if err != nil {
			return nil, fmt.Errorf("docview: document %q: revision: %w", rows[i].ID, err)
		}
		rows[i].Rev = rev
	}
	return lost, nil
}

// Scan implements driver.Store with a query on the prefix field.
func (d *Driver) Scan(ctx context.Context, prefix string, fn func(driver.Row) error) error {
	it := d.coll.Query().Where(fieldPrefix, "=", prefix).Get(ctx)
	defer it.Stop()
	for {
		doc := map[string]any{}
		err := it.Next(ctx, doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		id, _ := doc[d.keyField].(string)
		r, err := d.row(id, doc)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}

// Close implements driver.Store.
func (d *Driver) Close() error { return d.coll.Close() }
