package main

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/adapters/aws"
)

// withAWSKafka adds the "aws-kafka" payload to generate-event: it answers that argument itself and
// hands every other to the command's own Args and RunE, so the cloud payloads stay in one place.
// It reuses --topic, --partition, --offset, --region and --account, and adds --kafka-source.
func withAWSKafka(cmd *cobra.Command, e *env, o *genOpts) {
	var source string
	cmd.Flags().StringVar(&source, "kafka-source", "msk", "aws-kafka: msk or self-managed")
	for name, add := range map[string]string{"topic": "aws-kafka: Kafka topic", "partition": "aws-kafka: partition number",
		"offset": "aws-kafka: offset of the first record"} {
		if f := cmd.Flags().Lookup(name); f != nil {
			f.Usage += "; " + add
		}
	}
	cmd.ValidArgs = append(cmd.ValidArgs, "aws-kafka")
	cmd.Long += `

  aws-kafka  an AWS Lambda Kafka event: MSK ("aws:kafka"), or with --kafka-source self-managed
             "SelfManagedKafka"; the records of --topic partition --partition from --offset, base64
             keys and values, timestamps the arrival times`
	args, run := cmd.Args, cmd.RunE
	cmd.Args = func(cmd *cobra.Command, a []string) error {
		if len(a) == 0 || a[0] != "aws-kafka" {
			return args(cmd, a)
		}
		if (o.input == "") == (len(a) == 1) {
			return usagef("give either --input FILE or events as arguments after the payload kind")
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, a []string) error {
		if a[0] != "aws-kafka" {
			return run(cmd, a)
		}
		evs, err := readEvents(e, o.input, a[1:])
		if err != nil {
			return err
		}
		at := time.Now().UTC()
		if o.at != "" {
			if at, err = time.Parse(time.RFC3339Nano, o.at); err != nil {
				return usagef("--at %q: want an RFC 3339 time such as 2025-11-25T16:00:00Z", o.at)
			}
		}
		keyPath, format, err := genKeyField(*o, cmd.Flags().Changed("key"))
		if err != nil {
			return err
		}
		// Kafka records may have no key: an event without one gets none.
		keys, err := eventKeys(evs, keyPath, format)
		if err != nil {
			return err
		}
		out, err := kafkaLambdaEvent(*o, source, evs, keys, at)
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(out)
		return err
	}
}

// kafkaLambdaEvent writes the event an AWS Lambda Kafka event source mapping delivers: MSK
// ("aws:kafka", with the cluster ARN) or, with --kafka-source self-managed, "SelfManagedKafka".
// Every event goes to --topic partition --partition from offset --offset, base64 key and value,
// timestamp the arrival time.
func kafkaLambdaEvent(o genOpts, source string, evs [][]byte, keys []string, at time.Time) ([]byte, error) {
	p, err := strconv.ParseInt(o.partition, 10, 32)
	if err != nil || p < 0 {
		return nil, usagef("--partition %q: want a Kafka partition number", o.partition)
	}
	if o.offset < 0 {
		return nil, usagef("--offset %d: want 0 or more", o.offset)
	}
	ev := aws.KafkaEvent{BootstrapServers: "b-1.eddy.kafka." + o.region + ".amazonaws.com:9092,b-2.eddy.kafka." + o.region + ".amazonaws.com:9092"}
	switch source {
	case "msk":
		ev.EventSource = "aws:kafka"
		ev.EventSourceARN = fmt.Sprintf("arn:aws:kafka:%s:%s:cluster/eddy/00000000-0000-0000-0000-000000000000-1", o.region, o.account)
	case "self-managed":
		ev.EventSource = "SelfManagedKafka"
	default:
		return nil, usagef("--kafka-source %q: want msk or self-managed", source)
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
