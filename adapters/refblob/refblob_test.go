package refblob_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob" // s3:// for the URL loader
	"google.golang.org/api/option"

	"github.com/eddyhq/eddy/adapters/refblob"
	"github.com/eddyhq/eddy/core/reftable/reftabletest"
	"github.com/eddyhq/eddy/internal/standin"
)

// bucketHarness runs the suite through an opened bucket, as a function does that opens its
// bucket with a client of its own.
func bucketHarness(b *blob.Bucket, scheme, name string) reftabletest.Harness {
	ctx := context.Background()
	return reftabletest.Harness{
		Put: func(t testing.TB, key string, data []byte) {
			if err := b.WriteAll(ctx, "tables/"+key, data, nil); err != nil {
				t.Fatal(err)
			}
		},
		Delete: func(t testing.TB, key string) {
			if err := b.Delete(ctx, "tables/"+key); err != nil {
				t.Fatal(err)
			}
		},
		Source: func(key string) string { return scheme + "://" + name + "/tables/" + key },
		Loader: refblob.Bucket(b),
	}
}

// TestGCS runs the suite on fake-gcs-server, in process.
func TestGCS(t *testing.T) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	client, err := storage.NewClient(ctx, option.WithEndpoint(srv.URL()+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "eddy-ref"})
	b, err := gcsblob.OpenBucket(ctx, nil, "eddy-ref", &gcsblob.Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	reftabletest.Run(t, bucketHarness(b, "gs", "eddy-ref"))
}

// TestAzurite runs the suite on Azurite's blob service.
func TestAzurite(t *testing.T) {
	conn := standin.AzuriteConnString(standin.Azurite(t))
	ctx := context.Background()
	cc, err := container.NewClientFromConnectionString(conn, "eddy-ref", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	b, err := azureblob.OpenBucket(ctx, cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	reftabletest.Run(t, bucketHarness(b, "azblob", "eddy-ref"))
}

// TestS3URL runs the suite on gofakes3 through s3:// URLs, as a spec declares them: the loader
// registered by refblob opens the bucket from the URL (endpoint and path style in its query).
func TestS3URL(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: awssdk.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	bucket := "eddy-ref"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"region": {"us-east-1"}, "endpoint": {srv.URL}, "use_path_style": {"true"}}
	reftabletest.Run(t, reftabletest.Harness{
		Put: func(t testing.TB, key string, data []byte) {
			key = "tables/" + key
			if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)}); err != nil {
				t.Fatal(err)
			}
		},
		Delete: func(t testing.TB, key string) {
			key = "tables/" + key
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
				t.Fatal(err)
			}
		},
		Source: func(key string) string { return fmt.Sprintf("s3://%s/tables/%s?%s", bucket, key, q.Encode()) },
	})
}

func TestSplit(t *testing.T) {
	for _, c := range []struct{ in, bucket, key string }{
		{"s3://b/dir/limits.csv?region=eu-west-1", "s3://b?region=eu-west-1", "dir/limits.csv"},
		{"gs://b/limits.jsonl", "gs://b", "limits.jsonl"},
		{"azblob://c/x/y.csv", "azblob://c", "x/y.csv"},
	} {
		b, k, err := refblob.Split(c.in)
		if err != nil || b != c.bucket || k != c.key {
			t.Errorf("Split(%q) = %q, %q, %v; want %q, %q", c.in, b, k, err, c.bucket, c.key)
		}
	}
	for _, bad := range []string{"s3://bucket", "s3:///key", "gs://b/"} {
		if _, _, err := refblob.Split(bad); err == nil {
			t.Errorf("Split(%q) succeeded, want an error", bad)
		}
	}
}
