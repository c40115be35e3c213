//go:build unix

package docstate_test

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

	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/docstate"
	"github.com/eddyhq/eddy/core/state/statetest"
	"github.com/eddyhq/eddy/internal/standin"
)

var tableSeq atomic.Int64

// newTable creates an empty table keyed by the string attribute "id" and waits until it is active.
func newTable(t *testing.T, db *dynamodb.Client) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("eddy-state-%d", tableSeq.Add(1))
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	// Poll rather than use the SDK's waiter, whose first delay is seconds long.
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

// TestConformanceDynalite runs the suite against DynamoDB's stand-in, with the real item limit, so
// large values are chunked across items as on AWS.
func TestConformanceDynalite(t *testing.T) {
	db := dynamoClient(standin.Dynalite(t))
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		table := newTable(t, db)
		coll, err := awsdynamodb.OpenCollection(db, table, "id", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { coll.Close() })
		d := docstate.New(coll, &docstate.Options{KeyField: "id", MaxValueSize: docstate.DynamoDBMaxValue})
		return func(opts *state.Options) *state.Store { return state.NewStore(d, opts) }
	}, statetest.Config{Writers: 8, Increments: 10})
}

// A value of 1 MB (the Lambda window-state figure) crosses DynamoDB's 400 KB item limit and is
// stored across items; the URL form opens the same table.
func TestDynaliteLargeValueByURL(t *testing.T) {
	ep := standin.Dynalite(t)
	db := dynamoClient(ep)
	table := newTable(t, db)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	ctx := context.Background()
	s, err := state.Open(ctx, "dynamodb://"+table+"?partition_key=id&region=us-east-1&endpoint="+url.QueryEscape(ep))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := make([]byte, 1<<20)
	for i := range v {
		v[i] = byte(i * 31)
	}
	rev, err := s.Put(ctx, "w1/shard-0", v, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, "w1/shard-0")
	if err != nil || !e.Found || e.Rev != rev || string(e.Value) != string(v) {
		t.Fatalf("Get: found %v, %d bytes, err %v", e.Found, len(e.Value), err)
	}
	// A Scan page stops after 1 MB of items, so count every page.
	var count int32
	var start map[string]types.AttributeValue
	for {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount, ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		count += out.Count
		if start = out.LastEvaluatedKey; len(start) == 0 {
			break
		}
	}
	if count != 1+3 {
		t.Fatalf("%d items for a 1 MiB value, want 4 (head + 3 chunks of at most %d bytes)", count, docstate.DynamoDBMaxValue)
	}
}
