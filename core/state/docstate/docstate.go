// Package docstate is a state driver on a gocloud.dev docstore collection: DynamoDB, Firestore, or
// memdocstore for tests. Conditional writes use docstore revisions (a DynamoDB condition expression,
// a Firestore update time precondition). Values larger than one item holds are split into chunk
// documents by the portable state.Store; chunks are read with one batched action list.
//
// Importing this package registers with state.DefaultURLMux the schemes "dynamodb", "firestore"
// and "docstore+mem". The URL is passed on to gocloud.dev/docstore, whose driver must be imported
// too (as with gocloud itself):
//
//	import _ "gocloud.dev/docstore/awsdynamodb/v2" // dynamodb://TABLE?partition_key=id
//	import _ "gocloud.dev/docstore/gcpfirestore"   // firestore://projects/P/databases/(default)/documents/C?name_field=id
//	import _ "gocloud.dev/docstore/memdocstore"    // docstore+mem://collection/id
//
// The table's key (DynamoDB partition_key, Firestore name_field, memdocstore path) must be a string
// field; documents also hold "v" (the bytes), and, for values that expire, "expires" (unix seconds,
// for a DynamoDB TTL setting) and "expire_at" (a timestamp, for a Firestore TTL policy). The optional
// parameter max_value overrides the item size used for chunking (defaults: DynamoDB 350KB of its
// 400KB item limit, Firestore 1,000,000 bytes of its 1 MiB document limit).
package docstate

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

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/driver"
)

// Item size limits of the backends, less room for the key, field names and revision.
const (
	DynamoDBMaxValue  = 350_000
	FirestoreMaxValue = 1_000_000
)

func init() {
	m := state.DefaultURLMux()
	m.Register("dynamodb", opener("dynamodb", DynamoDBMaxValue, func(u *url.URL) string { return u.Query().Get("partition_key") }))
	m.Register("firestore", opener("firestore", FirestoreMaxValue, func(u *url.URL) string { return u.Query().Get("name_field") }))
	m.Register("docstore+mem", opener("mem", 0, func(u *url.URL) string { return strings.TrimPrefix(u.Path, "/") }))
}

func opener(scheme string, max int, keyField func(*url.URL) string) state.URLOpener {
	return state.URLOpenerFunc(func(ctx context.Context, u *url.URL) (driver.Store, error) {
		v := *u
		v.Scheme = scheme
		q := v.Query()
		if s := q.Get("max_value"); s != "" {
			n, err := state.ParseSize(s)
			if err != nil {
				return nil, fmt.Errorf("max_value: %w", err)
			}
			max = n
			q.Del("max_value")
			v.RawQuery = q.Encode()
		}
		kf := keyField(&v)
		if kf == "" {
			return nil, fmt.Errorf("%s URL names no key field (see package docstate)", u.Scheme)
		}
		coll, err := docstore.OpenCollection(ctx, v.String())
		if err != nil {
			return nil, err
		}
		return New(coll, &Options{KeyField: kf, MaxValueSize: max}), nil
	})
}

// Options configure a Driver.
type Options struct {
	// KeyField is the name of the collection's key field (default "id").
	KeyField string
	// MaxValueSize is the most bytes stored in one document (0 for no limit).
	MaxValueSize int
}

// Driver is the docstore driver. It owns the collection and closes it.
type Driver struct {
	coll     *docstore.Collection
	keyField string
	max      int
}

// New returns a driver over coll.
func New(coll *docstore.Collection, opts *Options) *Driver {
	d := &Driver{coll: coll, keyField: "id"}
	if opts != nil {
		if opts.KeyField != "" {
			d.keyField = opts.KeyField
		}
		d.max = opts.MaxValueSize
	}
	return d
}

// Open returns a portable Store over coll.
func Open(coll *docstore.Collection, opts *Options, sopts *state.Options) *state.Store {
	return state.NewStore(New(coll, opts), sopts)
}

const (
	fieldValue    = "v"
	fieldExpires  = "expires"
	fieldExpireAt = "expire_at"
)

var revField = docstore.DefaultRevisionField

func (d *Driver) doc(key string) map[string]any { return map[string]any{d.keyField: key} }

func (d *Driver) value(doc map[string]any, key string) ([]byte, error) {
	switch v := doc[fieldValue].(type) {
	case []byte:
		return v, nil
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("docstate: document %q: field %s is %T, want bytes", key, fieldValue, v)
	}
}

// Get implements driver.Store.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, string, error) {
	doc := d.doc(key)
	if err := d.coll.Get(ctx, doc); err != nil {
		return nil, "", err
	}
	v, err := d.value(doc, key)
	if err != nil {
		return nil, "", err
	}
	rev, err := d.coll.RevisionToString(doc[revField])
	if err != nil {
		return nil, "", fmt.Errorf("docstate: document %q: revision: %w", key, err)
	}
	return v, rev, nil
}

// GetMany implements driver.Store with one action list (a batched read where the backend has one).
func (d *Driver) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	docs := make([]map[string]any, len(keys))
	al := d.coll.Actions()
	for i, k := range keys {
		docs[i] = d.doc(k)
		al.Get(docs[i], fieldValue)
	}
	if err := al.Do(ctx); err != nil {
		return nil, firstError(err)
	}
	out := make([][]byte, len(keys))
	for i, doc := range docs {
		v, err := d.value(doc, keys[i])
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// firstError unpacks an ActionListError so ErrorCode sees a coded error.
func firstError(err error) error {
	var ale docstore.ActionListError
	if errors.As(err, &ale) && len(ale) > 0 {
		return ale[0].Err
	}
	return err
}

func (d *Driver) fill(doc map[string]any, value []byte, expires time.Time) {
	doc[fieldValue] = value
	if !expires.IsZero() {
		doc[fieldExpires] = expires.Unix()
		doc[fieldExpireAt] = expires.UTC()
	}
}

// Put implements driver.Store: Create when rev is "", else Replace conditioned on the revision.
func (d *Driver) Put(ctx context.Context, key string, value []byte, rev string, expires time.Time) (string, error) {
	doc := d.doc(key)
	d.fill(doc, value, expires)
	var err error
	if rev == "" {
		doc[revField] = nil
		err = d.coll.Create(ctx, doc)
	} else {
		r, cerr := d.coll.StringToRevision(rev)
		if cerr != nil {
			return "", fmt.Errorf("docstate: document %q: revision %q: %w", key, rev, cerr)
		}
		doc[revField] = r
		err = d.coll.Replace(ctx, doc)
		if gcerrors.Code(err) == gcerrors.NotFound {
			return "", fmt.Errorf("docstate: document %q is gone: %w", key, errGone)
		}
	}
	if err != nil {
		return "", err
	}
	return d.coll.RevisionToString(doc[revField])
}

// PutMany implements driver.Store.
func (d *Driver) PutMany(ctx context.Context, keys []string, values [][]byte, expires time.Time) error {
	al := d.coll.Actions()
	for i, k := range keys {
		doc := d.doc(k)
		d.fill(doc, values[i], expires)
		al.Put(doc)
	}
	if err := al.Do(ctx); err != nil {
		return firstError(err)
	}
	return nil
}

// Delete implements driver.Store.
func (d *Driver) Delete(ctx context.Context, key, rev string) error {
	doc := d.doc(key)
	if rev != "" {
		r, err := d.coll.StringToRevision(rev)
		if err != nil {
			return fmt.Errorf("docstate: document %q: revision %q: %w", key, rev, err)
		}
		doc[revField] = r
	}
	err := d.coll.Delete(ctx, doc)
	if gcerrors.Code(err) == gcerrors.NotFound {
		if rev != "" {
			// Deleted or replaced by someone else meanwhile.
			return fmt.Errorf("docstate: document %q is gone: %w", key, errGone)
		}
		return nil
	}
	return err
}

var errGone = errors.New("revision mismatch")

// DeleteMany implements driver.Store.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	al := d.coll.Actions()
	for _, k := range keys {
		al.Delete(d.doc(k))
	}
	if err := al.Do(ctx); err != nil {
		if err = firstError(err); gcerrors.Code(err) != gcerrors.NotFound {
			return err
		}
	}
	return nil
}

// List implements driver.Store by scanning the collection's keys (a DynamoDB Scan): it serves
// scheduled ticks, not the per-batch path.
func (d *Driver) List(ctx context.Context, prefix string, fn func(string) error) error {
	it := d.coll.Query().Get(ctx, docstore.FieldPath(d.keyField))
	defer it.Stop()
	for {
		doc := map[string]any{}
		err := it.Next(ctx, doc)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		k, _ := doc[d.keyField].(string)
		if strings.HasPrefix(k, prefix) {
			if err := fn(k); err != nil {
				return err
			}
		}
	}
}

// MaxValueSize implements driver.Store.
func (d *Driver) MaxValueSize() int { return d.max }

// ErrorCode implements driver.Store.
func (d *Driver) ErrorCode(err error) driver.Code {
	if errors.Is(err, errGone) {
		return driver.Conflict
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return driver.NotFound
	case gcerrors.AlreadyExists, gcerrors.FailedPrecondition:
		return driver.Conflict
	}
	return driver.Unknown
}

// Close implements driver.Store.
func (d *Driver) Close() error { return d.coll.Close() }
