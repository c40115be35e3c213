//go:build unix

package docview_test

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	awsdynamodb "gocloud.dev/docstore/awsdynamodb/v2"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/docview"
	"github.com/eddyhq/eddy/core/view/driver"
	"github.com/eddyhq/eddy/core/view/viewtest"
	"github.com/eddyhq/eddy/internal/standin"
)

var tableSeq atomic.Int64

func newTable(t *testing.T, db *dynamodb.Client) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("eddy-views-%d", tableSeq.Add(1))
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return name
		}
	}
	t.Fatalf("table %s not active after 30s", name)
	return ""
}

func dynamoClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	})
}

// TestConformanceDynalite runs the suite on DynamoDB's stand-in: conditional writes are DynamoDB
// condition expressions, reads BatchGetItem.
func TestConformanceDynalite(t *testing.T) {
	ep := standin.Dynalite(t)
	db := dynamoClient(ep)
	viewtest.Run(t, func(t *testing.T) driver.Store {
		coll, err := awsdynamodb.OpenCollection(db, newTable(t, db), "id", "", &awsdynamodb.Options{AllowScans: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { coll.Close() })
		return docview.New(coll, "id")
	}, viewtest.Config{Writers: 4, Batches: 6})

	t.Run("URL", func(t *testing.T) {
		table := newTable(t, db)
		t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		ctx := context.Background()
		s, err := view.Open(ctx, "dynamodb://"+table+"?partition_key=id&region=us-east-1&endpoint="+url.QueryEscape(ep))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		w, err := view.NewWriter(s, "fn", []view.Def{{Name: "latest", Kind: view.Latest, TTL: time.Hour}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Emit(ctx, []core.Output{viewtest.Win("fn", "k", 1, 0)}); err != nil {
			t.Fatal(err)
		}
		// The TTL attribute is a number DynamoDB's TTL setting can use.
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: view.RowID("fn", "latest", "k")}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := out.Item["expires"].(*types.AttributeValueMemberN); !ok {
			t.Errorf("item %v has no numeric expires attribute", out.Item)
		}
	})
}
