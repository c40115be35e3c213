// Package driver is the interface view store drivers implement. Users use the portable
// view.Store; a driver only stores opaque rows by id with compare-and-set on a revision.
package driver

import (
	"context"
	"time"
)

// Row is one stored row of a view. ID is "function/view/escaped-key" (see view.RowID); Prefix is
// the "function/view/" part, stored so a driver can list a view's rows without parsing ids.
type Row struct {
	ID     string
	Prefix string
	// Data is the row's content (JSON written by package view); nil for an absent row.
	Data []byte
	// Rev is the driver's revision of the stored row, "" when the row is absent. PutMany writes a
	// row only if the stored revision still equals Rev.
	Rev string
	// Expires is when the row may be dropped (zero: never). Drivers that cannot expire rows
	// themselves keep them; the portable Store hides expired rows from readers.
	Expires time.Time
}

// Store is a view store driver. Methods must be safe for concurrent use.
type Store interface {
	// GetMany reads rows by id, in one round trip where the backend allows, returning one Row per
	// id in the same order; an absent row has Rev "" and nil Data.
	GetMany(ctx context.Context, ids []string) ([]Row, error)
	// PutMany writes rows, each conditionally: created if its Rev is "" and the row is absent,
	// replaced if its Rev equals the stored revision. Rows whose condition failed are left alone
	// and their indexes returned in lost; err is for failures of the call itself. PutMany sets the
	// Rev of each row it wrote to the row's new revision, so a writer can write it again without
	// reading it first. A driver may keep rows' Data: callers do not change it after the call.
	PutMany(ctx context.Context, rows []Row) (lost []int, err error)
	// Scan calls fn for every row whose Prefix equals prefix, in no particular order.
	Scan(ctx context.Context, prefix string, fn func(Row) error) error
	// Close releases the backend.
	Close() error
}
