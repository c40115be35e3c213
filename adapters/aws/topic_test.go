package aws_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/core"
)

// TopicOutput over gocloud's in-memory driver (the SNS/SQS driver shares the portable type).
func TestTopicOutput(t *testing.T) {
	ctx := context.Background()
	topic := mempubsub.NewTopic()
	sub := mempubsub.NewSubscription(topic, time.Minute)
	defer sub.Shutdown(ctx)
	o := aws.NewTopicOutput(topic)
	d := &core.Decision{ID: "d1", Function: "f", Rule: "hot", Key: "sensor-1", State: "firing", Time: time.Unix(60, 0)}
	if err := o.Emit(ctx, []core.Output{d}); err != nil {
		t.Fatal(err)
	}
	f := &core.Failure{Record: core.Record{ID: "7", Offset: "7", Data: []byte("x"), Attrs: map[string]string{aws.AttrKPLError: "bad"}}, Reason: "invalid JSON"}
	if err := o.EmitFailures(ctx, []*core.Failure{f}); err != nil {
		t.Fatal(err)
	}
	got := map[string]*pubsub.Message{}
	for range 2 {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := sub.Receive(rctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		m.Ack()
		got[m.Metadata["type"]] = m
	}
	if m := got["decision"]; m == nil || m.Metadata["id"] != "d1" || m.Metadata["key"] != "sensor-1" || string(m.Body) != string(d.AppendJSON(nil)) {
		t.Fatalf("decision message %+v", m)
	}
	if m := got["failure"]; m == nil || m.Metadata["record"] != "7" || !strings.Contains(string(m.Body), `"attrs":{"kinesis.kplError":"bad"}`) || !strings.Contains(string(m.Body), `"reason":"invalid JSON"`) {
		t.Fatalf("failure message %+v", m)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}
