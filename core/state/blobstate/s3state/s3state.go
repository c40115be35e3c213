// Package s3state is the Amazon S3 provider of package blobstate: writes are conditioned on ETags with S3 conditional writes (If-Match, If-None-Match "*").
// Importing it registers the provider (blobstate.New and blobstate.Open then take its buckets) and the "s3" URL scheme.
package s3state

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"

	"github.com/eddyhq/eddy/core/state/blobstate"
)

func init() {
	blobstate.Register(Provider{})
	blobstate.RegisterScheme("s3")
}

// Provider conditions on ETags with S3's conditional writes.
type Provider struct{}

// Name implements blobstate.Provider.
func (Provider) Name() string { return "s3" }

// Detect implements blobstate.Provider.
func (Provider) Detect(b *blob.Bucket) bool {
	var c *s3.Client
	return b.As(&c)
}

// ReadRev implements blobstate.Provider.
func (Provider) ReadRev(r *blob.Reader) (string, error) {
	var out s3.GetObjectOutput
	if !r.As(&out) || out.ETag == nil {
		return "", errors.New("no ETag in the GetObject output")
	}
	return *out.ETag, nil
}

// WriteHook implements blobstate.Provider.
func (Provider) WriteHook(rev string) (func(func(any) bool) error, func() (string, bool), error) {
	hook := func(as func(any) bool) error {
		var in *transfermanager.UploadObjectInput
		if !as(&in) || in == nil {
			return errors.New("blobstate: s3 writer exposes no UploadObjectInput")
		}
		if rev == "" {
			in.IfNoneMatch = to("*")
		} else {
			in.IfMatch = to(rev)
		}
		return nil
	}
	return hook, func() (string, bool) { return "", false }, nil
}

// DeleteHook implements blobstate.Provider.
func (Provider) DeleteHook(rev string) (func(func(any) bool) error, error) {
	return func(as func(any) bool) error {
		var in *s3.DeleteObjectInput
		if !as(&in) || in == nil {
			return errors.New("blobstate: s3 delete exposes no DeleteObjectInput")
		}
		in.IfMatch = to(rev)
		return nil
	}, nil
}

// AttrRev implements blobstate.Provider.
func (Provider) AttrRev(a *blob.Attributes) (string, error) {
	var out s3.HeadObjectOutput
	if a.As(&out) && out.ETag != nil {
		return *out.ETag, nil
	}
	if a.ETag == "" {
		return "", errors.New("no ETag in the attributes")
	}
	return a.ETag, nil
}

func to[T any](v T) *T { return &v }
