package azure

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"gocloud.dev/blob"

	"github.com/eddyhq/eddy/core"
)

// BlobDeadLetter writes failed records to a blob container (azblob://container, or any
// gocloud.dev bucket), one newline-delimited JSON object per call, named by a hash of its content
// under Prefix: a retried invocation rewrites the same object instead of adding a copy.
type BlobDeadLetter struct {
	Bucket *blob.Bucket
	// Prefix is prepended to object names (for example "deadletter/w1/").
	Prefix string
}

// EmitFailures implements runner.FailureSink.
func (d *BlobDeadLetter) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	if len(fs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, f := range fs {
		buf.Write(f.AppendJSON(nil))
		buf.WriteByte('\n')
	}
	sum := sha256.Sum256(buf.Bytes())
	name := d.Prefix + fs[0].Record.Offset + "-" + strconv.Itoa(len(fs)) + "-" + hex.EncodeToString(sum[:12]) + ".ndjson"
	if err := d.Bucket.WriteAll(ctx, name, buf.Bytes(), &blob.WriterOptions{ContentType: "application/x-ndjson"}); err != nil {
		return fmt.Errorf("dead-letter %d records to %s: %w", len(fs), name, err)
	}
	return nil
}
