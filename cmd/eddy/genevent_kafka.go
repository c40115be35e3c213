package main

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/eddyhq/eddy/adapters/aws"
)

// kafkaLambdaEvent writes the event an AWS Lambda Kafka event source mapping delivers: MSK
// ("aws:kafka", with the cluster ARN) or, with --kafka-source self-managed, "SelfManagedKafka".
// Every event goes to --topic partition --partition from offset --offset, base64 key and value,
// timestamp the arrival time.
func kafkaLambdaEvent(o genOpts, evs [][]byte, keys []string, at time.Time) ([]byte, error) {
	p, err := strconv.ParseInt(o.partition, 10, 32)
	if err != nil || p < 0 {
		return nil, usagef("--partition %q: want a Kafka partition number", o.partition)
	}
	if o.offset < 0 {
		return nil, usagef("--offset %d: want 0 or more", o.offset)
	}
	ev := aws.KafkaEvent{BootstrapServers: "b-1.eddy.kafka." + o.region + ".amazonaws.com:9092,b-2.eddy.kafka." + o.region + ".amazonaws.com:9092"}
	switch o.kafkaSource {
	case "msk":
		ev.EventSource = "aws:kafka"
		ev.EventSourceARN = fmt.Sprintf("arn:aws:kafka:%s:%s:cluster/eddy/00000000-0000-0000-0000-000000000000-1", o.region, o.account)
	case "self-managed":
		ev.EventSource = "SelfManagedKafka"
	default:
		return nil, usagef("--kafka-source %q: want msk or self-managed", o.kafkaSource)
	}
	part := o.topic + "-" + strconv.FormatInt(p, 10)
	ev.Records = map[string][]aws.KafkaRecord{}
	for i, data := range evs {
		v := base64.StdEncoding.EncodeToString(data)
		r := aws.KafkaRecord{Topic: o.topic, Partition: aws.Int(p), Offset: aws.Int(o.offset + int64(i)),
			Timestamp: aws.Int(o.arrival(at, i).UnixMilli()), TimestampType: "CREATE_TIME", Value: &v,
			Headers: []map[string]aws.HeaderValue{}}
		if keys[i] != "" {
			k := base64.StdEncoding.EncodeToString([]byte(keys[i]))
			r.Key = &k
		}
		ev.Records[part] = append(ev.Records[part], r)
	}
	return indentJSON(ev)
}
