//go:build unix

package aws_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/standin"
)

// The conformance suite on the Lambda handler fed by a Kafka event source mapping: each scenario
// partition is a partition of topic "conformance", batches are Lambda Kafka events (base64 keys and
// values, headers as byte arrays) through Handler.Invoke, a function error makes Lambda deliver the
// same batch again, the state is in DynamoDB (dynalite), outputs and dead letters on the log output.
func TestKafkaConformance(t *testing.T) {
	ep := standin.Dynalite(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	var tables atomic.Int64
	adaptertest.Run(t, func(t *testing.T, s adaptertest.Setup) adaptertest.Harness {
		table := fmt.Sprintf("kafka-conformance-%d", tables.Add(1))
		createTable(t, ep, table)
		h := &kafkaLambdaHarness{lambdaHarness{s: s, WireTap: adaptertest.NewWireTap(), stateURL: "dynamodb://" + table + "?partition_key=id&region=us-east-1&endpoint=" + url.QueryEscape(ep)}}
		if err := h.start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.store.Close() })
		return h
	}, adaptertest.Parallel())
}

type kafkaLambdaHarness struct{ lambdaHarness }

func (h *kafkaLambdaHarness) partition(p string) int { return slices.Index(h.s.Partitions, p) }

func (h *kafkaLambdaHarness) Locate(partition string, r adaptertest.Record) (string, core.Pos) {
	off := strconv.FormatInt(r.Seq-1, 10)
	return off, core.Pos{Partition: "conformance-" + strconv.Itoa(h.partition(partition)), Offset: off}
}

// Deliver invokes the handler with the batch as Lambda's Kafka poller would, and delivers the same
// batch again after a function error.
func (h *kafkaLambdaHarness) Deliver(ctx context.Context, partition string, recs []adaptertest.Record, now time.Time) (adaptertest.Delivery, error) {
	h.now.Store(now.UnixNano())
	var d adaptertest.Delivery
	p := h.partition(partition)
	ev := aws.KafkaEvent{EventSource: "aws:kafka", EventSourceARN: "arn:aws:kafka:us-east-1:000000000000:cluster/conformance/1",
		BootstrapServers: "b-1.conformance:9092", Records: map[string][]aws.KafkaRecord{}}
	key := fmt.Sprintf("conformance-%d", p)
	for _, r := range recs {
		k := base64.StdEncoding.EncodeToString([]byte(r.Key))
		v := base64.StdEncoding.EncodeToString(r.Data)
		ev.Records[key] = append(ev.Records[key], aws.KafkaRecord{Topic: "conformance", Partition: aws.Int(p), Offset: aws.Int(r.Seq - 1),
			Timestamp: aws.Int(r.Time.UnixMilli()), TimestampType: "CREATE_TIME", Key: &k, Value: &v})
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return d, err
	}
	for {
		if d.Invocations == 20 {
			return d, errors.New("Lambda still retrying after 20 invocations")
		}
		d.Invocations++
		out, err := h.h.Invoke(ctx, payload)
		if err != nil {
			if !errors.Is(err, adaptertest.ErrInjected) {
				return d, err
			}
			d.Failed++
			continue
		}
		var resp aws.KafkaResponse
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
			return d, fmt.Errorf("response %s: %v", out, err)
		}
		return d, nil
	}
}

// ReportsFailures implements adaptertest.Reporter: Kafka batches report no records (the poison
// ones are dead-lettered and the batch succeeds).
func (h *kafkaLambdaHarness) ReportsFailures() bool { return false }
