// Package gcsstate is the Google Cloud Storage provider of package blobstate: writes are conditioned on object generations.
// Importing it registers the provider (blobstate.New and blobstate.Open then take its buckets) and the "gs" URL scheme.
package gcsstate

import (
	"errors"
	"fmt"
	"strconv"

	"cloud.google.com/go/storage"
	"gocloud.dev/blob"

	"github.com/eddyhq/eddy/core/state/blobstate"
)

func init() {
	blobstate.Register(Provider{})
	blobstate.RegisterScheme("gs")
}

// Provider conditions on object generations.
type Provider struct{}

// Name implements blobstate.Provider.
func (Provider) Name() string { return "gcs" }

// Detect implements blobstate.Provider.
func (Provider) Detect(b *blob.Bucket) bool {
	var c *storage.Client
	return b.As(&c)
}

// ReadRev implements blobstate.Provider.
func (Provider) ReadRev(r *blob.Reader) (string, error) {
	var sr *storage.Reader
	if !r.As(&sr) || sr == nil {
		return "", errors.New("no storage.Reader behind the blob reader")
	}
	return strconv.FormatInt(sr.Attrs.Generation, 10), nil
}

func gcsConds(rev string) (storage.Conditions, error) {
	if rev == "" {
		return storage.Conditions{DoesNotExist: true}, nil
	}
	g, err := strconv.ParseInt(rev, 10, 64)
	if err != nil || g <= 0 {
		return storage.Conditions{}, fmt.Errorf("malformed generation %q", rev)
	}
	return storage.Conditions{GenerationMatch: g}, nil
}

// WriteHook implements blobstate.Provider.
func (Provider) WriteHook(rev string) (func(func(any) bool) error, func() (string, bool), error) {
	c, err := gcsConds(rev)
	if err != nil {
		return nil, nil, err
	}
	var w *storage.Writer
	hook := func(as func(any) bool) error {
		var oh **storage.ObjectHandle
		if !as(&oh) {
			return errors.New("blobstate: gcs writer exposes no object handle")
		}
		*oh = (*oh).If(c)
		if !as(&w) {
			return errors.New("blobstate: gcs writer exposes no storage.Writer")
		}
		return nil
	}
	after := func() (string, bool) {
		if w == nil || w.Attrs() == nil {
			return "", false
		}
		return strconv.FormatInt(w.Attrs().Generation, 10), true
	}
	return hook, after, nil
}

// DeleteHook implements blobstate.Provider.
func (Provider) DeleteHook(rev string) (func(func(any) bool) error, error) {
	c, err := gcsConds(rev)
	if err != nil {
		return nil, err
	}
	return func(as func(any) bool) error {
		var oh **storage.ObjectHandle
		if !as(&oh) {
			return errors.New("blobstate: gcs delete exposes no object handle")
		}
		// Naming the generation too makes a mismatch a 404 even where the precondition is not
		// enforced (fake-gcs-server ignores ifGenerationMatch on deletes); on GCS the precondition
		// keeps a versioned bucket from deleting a noncurrent generation instead.
		*oh = (*oh).Generation(c.GenerationMatch).If(c)
		return nil
	}, nil
}

// AttrRev implements blobstate.Provider.
func (Provider) AttrRev(a *blob.Attributes) (string, error) {
	var oa storage.ObjectAttrs
	if !a.As(&oa) {
		return "", errors.New("no storage.ObjectAttrs behind the attributes")
	}
	return strconv.FormatInt(oa.Generation, 10), nil
}
