// Package azurestate is the Azure Blob Storage provider of package blobstate: writes are conditioned on ETags (If-Match, or If-None-Match "*" to create).
// Importing it registers the provider (blobstate.New and blobstate.Open then take its buckets) and the "azblob" URL scheme.
package azurestate

import (
	"errors"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"

	"github.com/eddyhq/eddy/core/state/blobstate"
)

func init() {
	blobstate.Register(Provider{})
	blobstate.RegisterScheme("azblob")
}

// Provider conditions on ETags.
type Provider struct{}

// Name implements blobstate.Provider.
func (Provider) Name() string { return "azure" }

// Detect implements blobstate.Provider.
func (Provider) Detect(b *blob.Bucket) bool {
	var c *container.Client
	return b.As(&c)
}

// ReadRev implements blobstate.Provider.
func (Provider) ReadRev(r *blob.Reader) (string, error) {
	var resp azblobblob.DownloadStreamResponse
	if !r.As(&resp) || resp.ETag == nil {
		return "", errors.New("no ETag in the download response")
	}
	return string(*resp.ETag), nil
}

func azureConds(rev string) *azblobblob.AccessConditions {
	m := &azblobblob.ModifiedAccessConditions{}
	if rev == "" {
		m.IfNoneMatch = to(azcore.ETagAny)
	} else {
		m.IfMatch = to(azcore.ETag(rev))
	}
	return &azblobblob.AccessConditions{ModifiedAccessConditions: m}
}

func to[T any](v T) *T { return &v }

// WriteHook implements blobstate.Provider.
func (Provider) WriteHook(rev string) (func(func(any) bool) error, func() (string, bool), error) {
	hook := func(as func(any) bool) error {
		var o *azblob.UploadStreamOptions
		if !as(&o) || o == nil {
			return errors.New("blobstate: azure writer exposes no UploadStreamOptions")
		}
		o.AccessConditions = azureConds(rev)
		return nil
	}
	return hook, func() (string, bool) { return "", false }, nil
}

// DeleteHook implements blobstate.Provider.
func (Provider) DeleteHook(rev string) (func(func(any) bool) error, error) {
	return func(as func(any) bool) error {
		var o *azblobblob.DeleteOptions
		if !as(&o) || o == nil {
			return errors.New("blobstate: azure delete exposes no DeleteOptions")
		}
		o.AccessConditions = azureConds(rev)
		return nil
	}, nil
}

// AttrRev implements blobstate.Provider.
func (Provider) AttrRev(a *blob.Attributes) (string, error) {
	if a.ETag == "" {
		return "", errors.New("no ETag in the attributes")
	}
	return a.ETag, nil
}
