package main

import (
	"io"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/internal/archive"
)

// isArchive reports whether a replay's input names a bucket rather than a file.
func isArchive(input string) bool {
	for _, s := range []string{"s3://", "gs://", "azblob://", "file://"} {
		if strings.HasPrefix(input, s) {
			return true
		}
	}
	return false
}

// archiveHeap is what replay's heap budget grows by when it reads an archive. An archive record's
// id names its object ("w/2025/11/25/10/stream-1-2025-11-25-10-00-00-UUID.gz:123", about 90
// bytes, against 16 for a local file's "w1.ndjson:123") and stays valid for good, so a replay
// allocates five times as much per event as from a file: on the budget alone (replayHeap) the
// collector ran 25 times over 2 M W1 events instead of 7.
const archiveHeap = 16 << 20

// timeLayouts are the forms --from and --to take.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02"}

func parseFlagTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("--%s %q: want a time like 2025-11-25, 2025-11-25T10:00 or 2025-11-25T10:00:00Z", flag, v)
}

// archiveFlags checks --from, --to and --on-corrupt, which only archive inputs take.
func archiveFlags(o replayOpts) (from, to time.Time, on archive.OnCorrupt, err error) {
	if from, err = parseFlagTime("from", o.from); err != nil {
		return
	}
	if to, err = parseFlagTime("to", o.to); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		err = usagef("--from %s is not before --to %s", o.from, o.to)
		return
	}
	switch o.onCorrupt {
	case "", "fail": // "" is the zero replayOpts of callers that set no flags
	case "skip":
		on = archive.Skip
	default:
		err = usagef("--on-corrupt %q: want fail or skip", o.onCorrupt)
		return
	}
	if !isArchive(o.input) && (o.from != "" || o.to != "" || o.onCorrupt == "skip") {
		err = usagef("--from, --to and --on-corrupt select objects of an archive (--input s3://BUCKET/PREFIX/, gs://, azblob://, file://DIR); %s is a file", o.input)
	}
	return
}

// closeBoth is a Lines that also closes the input under it.
type closeBoth struct {
	*codec.Lines
	in io.Closer
}

func (c closeBoth) Close() error {
	err := c.Lines.Close()
	if cerr := c.in.Close(); err == nil {
		err = cerr
	}
	return err
}

var _ recordSource = closeBoth{}
var _ recordSource = (*archive.Reader)(nil)
