package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrTopicNotFound is returned (wrapped) when the brokers answer but do not have the topic.
var ErrTopicNotFound = errors.New("topic does not exist")

// ErrUnreachable is returned (wrapped) when no broker answered.
var ErrUnreachable = errors.New("no broker reachable")

// TopicPartitions asks the brokers how many partitions topic has. It tries attempts times, waiting
// first backoff and then twice as long each time (at most 30 s), since brokers start after their
// clients in a compose file or a pod and a topic may be created moments after its consumer; then
// it returns an error that wraps ErrUnreachable or ErrTopicNotFound and says what to check.
func TopicPartitions(ctx context.Context, brokers []string, topic string, attempts int, backoff time.Duration, opts ...kgo.Opt) (int, error) {
	if attempts <= 0 {
		attempts = 1
	}
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	o := append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(5 * time.Second), kgo.RequestRetries(0),
		kgo.RetryTimeout(5 * time.Second)}, opts...)
	cl, err := kgo.NewClient(o...)
	if err != nil {
		return 0, fmt.Errorf("kafka: client for brokers %s: %w", strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	var last error
	wait := backoff
	start := time.Now()
	for attempt := 1; ; attempt++ {
		n, err := topicPartitions(ctx, cl, topic)
		if err == nil {
			return n, nil
		}
		last = err
		if attempt >= attempts || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
	took := time.Since(start).Round(time.Millisecond)
	if errors.Is(last, ErrTopicNotFound) {
		return 0, fmt.Errorf("kafka: topic %q on brokers %s: %w after %d attempts over %s (create it, e.g. kafka-topics.sh --create --topic %s --partitions 12, or enable auto-creation)",
			topic, strings.Join(brokers, ","), last, attempts, took, topic)
	}
	return 0, fmt.Errorf("kafka: topic %q: brokers %s: %w after %d attempts over %s: %v (check the addresses, the listeners the brokers advertise, and TLS/SASL settings)",
		topic, strings.Join(brokers, ","), ErrUnreachable, attempts, took, last)
}

func topicPartitions(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, cl)
	if err != nil {
		return 0, err
	}
	for _, rt := range resp.Topics {
		if rt.Topic == nil || *rt.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return 0, fmt.Errorf("%w (%v)", ErrTopicNotFound, err)
			}
			return 0, err
		}
		if len(rt.Partitions) == 0 {
			return 0, fmt.Errorf("%w (no partitions)", ErrTopicNotFound)
		}
		return len(rt.Partitions), nil
	}
	return 0, fmt.Errorf("%w (not in the metadata answer)", ErrTopicNotFound)
}
