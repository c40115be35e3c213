package send

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka publishes to a Kafka topic with franz-go's idempotent producer: the record key is the
// message's key (so each key's events share a partition, in order), the value its data. The
// producer retries what the brokers reject itself, without duplicating; records still not
// acknowledged after the delivery timeout are reported as failed.
type Kafka struct {
	cl    *kgo.Client
	topic string
}

// openKafka reads kafka://BROKER1,BROKER2/TOPIC?timeout=30s.
func openKafka(_ context.Context, u *url.URL, _ Options) (*Kafka, error) {
	var brokers []string
	for _, b := range strings.Split(u.Host, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	topic := strings.Trim(u.Path, "/")
	if len(brokers) == 0 || topic == "" || strings.Contains(topic, "/") {
		return nil, fmt.Errorf("send to %q: want kafka://BROKER1,BROKER2/TOPIC", u.Redacted())
	}
	timeout := 30 * time.Second
	if v := u.Query().Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("send to %q: timeout=%q: want a duration like 30s", u.Redacted(), v)
		}
		timeout = d
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.ClientID("eddy-send"),
		kgo.RecordDeliveryTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("send to %q: %w", u.Redacted(), err)
	}
	return &Kafka{cl: cl, topic: topic}, nil
}

// Publish implements Publisher.
func (k *Kafka) Publish(ctx context.Context, msgs []Message) (Stats, error) {
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Value: m.Data}
		if m.Key != "" {
			recs[i].Key = []byte(m.Key)
		}
	}
	var st Stats
	var errs []error
	for i, r := range k.cl.ProduceSync(ctx, recs...) {
		if r.Err != nil {
			st.Failed++
			if len(errs) < 5 {
				errs = append(errs, fmt.Errorf("record %s: %w", msgs[i].ID, r.Err))
			}
			continue
		}
		st.Sent++
	}
	if st.Failed > 0 {
		return st, fmt.Errorf("kafka topic %q: %d of %d records not sent: %w", k.topic, st.Failed, len(msgs), errors.Join(errs...))
	}
	return st, nil
}

// Close flushes and closes the producer.
func (k *Kafka) Close(ctx context.Context) error {
	err := k.cl.Flush(ctx)
	k.cl.Close()
	return err
}
