package main

// eddy dev and replay read reference tables from blob URLs as the clouds do.
import (
	_ "gocloud.dev/blob/azureblob" // azblob:// reference tables
	_ "gocloud.dev/blob/gcsblob"   // gs:// reference tables
	_ "gocloud.dev/blob/s3blob"    // s3:// reference tables

	_ "github.com/eddyhq/eddy/adapters/refblob"
)
