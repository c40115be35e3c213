package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core"
)

// publishKafka feeds `eddy dev --from kafka://BROKERS/TOPIC`: it reads the topic from its start
// (dev's state starts empty too, unless --state keeps it) and publishes each record to the local
// broker, with its key, timestamp and headers, until ctx ends. A record's id names where it came
// from ("TOPIC-PARTITION:OFFSET"), so dead letters can be traced back to the topic.
func publishKafka(ctx context.Context, b *local.Broker, from string) error {
	src, err := kafka.ParseSourceURL(from)
	if err != nil {
		return usagef("--from: %v", err)
	}
	if _, err := kafka.TopicPartitions(ctx, src.Brokers, src.Topic, 4, 500*time.Millisecond); err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(src.Brokers...), kgo.ConsumeTopics(src.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID("eddy-dev"))
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		var errs []error
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("%s: %w", kafka.Partition(topic, p), err))
			}
		})
		if len(errs) > 0 {
			return fmt.Errorf("--from %s: %w", src.Topic, errors.Join(errs...))
		}
		recs := make([]core.Record, 0, fs.NumRecords())
		fs.EachRecord(func(r *kgo.Record) {
			rec := kafka.Record(r)
			rec.ID = kafka.Partition(r.Topic, r.Partition) + ":" + rec.Offset
			rec.Offset = "" // the local broker numbers its own partitions
			recs = append(recs, rec)
		})
		if len(recs) > 0 {
			if err := b.Publish(ctx, recs...); err != nil {
				return err
			}
		}
	}
}
