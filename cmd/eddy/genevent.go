package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
)

type genOpts struct {
	input, key, at string
	spec           string
	interval       time.Duration
	msgID          int64
	// aws
	stream, region, account, shard, seqStart string
	// gcp
	project, topic, subscription, mode string
	attrs                              []string
	// azure
	namespace, hub, consumerGroup, partition, method string
	seq                                              int64
	offset                                           int64
}

func newGenerateEventCmd(e *env) *cobra.Command {
	var o genOpts
	cmd := &cobra.Command{
		Use:       "generate-event aws|gcp|azure (--input FILE | EVENT...)",
		ValidArgs: []string{"aws", "gcp", "azure"},
		Short:     "Print the trigger payload a cloud would deliver for some events",
		Long: `generate-event wraps events (the lines of --input, or arguments) in the exact payload a cloud
trigger hands to a function, to test a deployed or emulated function by hand:

  aws    a Kinesis → Lambda KinesisEvent: {"Records":[{"kinesis":{"data":BASE64,"sequenceNumber":...}}]},
         one record per event, increasing sequence numbers, one shard
  gcp    a Pub/Sub messagePublished CloudEvent per event, as delivered to a Cloud Run function: an
         HTTP request in binary content mode (ce-* headers, then the JSON body; several requests
         are separated by a blank line), or with --mode structured one application/cloudevents+json
         object per line
  azure  the body the Azure Functions host POSTs to a custom handler for an Event Hubs trigger
         (cardinality many, dataType string): Data.events and the *Array metadata are JSON text
         inside JSON strings, as the host encodes them

The partition (ordering) key of each event is read as the function reads it: by the input.key of
--spec (default ./eddy.yaml when there is one), or by the field --key names, which wins.
Times start at --at (default now) and advance --interval (10ms) per event.`,
		Example: `  eddy generate-event aws --input events.ndjson > kinesis-event.json
  eddy generate-event gcp '{"key":"sensor-0001","ts":1764086400000,"value":81.5}' | curl -s --data-binary @- ...
  eddy generate-event azure --input events.ndjson --hub telemetry --partition 2`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("generate-event needs the cloud: aws, gcp or azure")
			}
			switch args[0] {
			case "aws", "gcp", "azure":
			default:
				return usagef("generate-event %q: want aws, gcp or azure", args[0])
			}
			if (o.input == "") == (len(args) == 1) {
				return usagef("give either --input FILE or events as arguments after the cloud")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			evs, err := readEvents(e, o.input, args[1:])
			if err != nil {
				return err
			}
			at := time.Now().UTC()
			if o.at != "" {
				if at, err = time.Parse(time.RFC3339Nano, o.at); err != nil {
					return usagef("--at %q: want an RFC 3339 time such as 2025-11-25T16:00:00Z", o.at)
				}
			}
			keyPath, format, err := genKeyField(o, cmd.Flags().Changed("key"))
			if err != nil {
				return err
			}
			keys, err := eventKeys(evs, keyPath, format)
			if err != nil {
				return err
			}
			for i := range keys {
				if keys[i] == "" { // a keyless spec: every transport still wants a key
					keys[i] = strconv.Itoa(i)
				}
			}
			var out []byte
			switch args[0] {
			case "aws":
				out, err = kinesisEvent(o, evs, keys, at)
			case "gcp":
				out, err = pubsubEvents(o, evs, keys, at)
			case "azure":
				out, err = eventHubsBody(o, evs, keys, at)
			}
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(out)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.input, "input", "i", "", "newline-delimited events (gzip or plain); - for stdin")
	fl.StringVar(&o.key, "key", "key", "field path of the partition key (default: --spec's input.key, else \"key\")")
	fl.StringVarP(&o.spec, "spec", "s", "", "spec whose input (format, key) gives each event's partition key (default ./eddy.yaml if present)")
	fl.StringVar(&o.at, "at", "", "arrival time of the first event, RFC 3339 (default now)")
	fl.DurationVar(&o.interval, "interval", 10*time.Millisecond, "arrival time between events")
	fl.Int64Var(&o.msgID, "message-id", 0, "gcp: message id of the first event (default: from the arrival time)")
	fl.StringVar(&o.stream, "stream", "eddy-events", "aws: Kinesis stream name")
	fl.StringVar(&o.region, "region", "us-east-1", "aws: region")
	fl.StringVar(&o.account, "account", "123456789012", "aws: account id")
	fl.StringVar(&o.shard, "shard", "shardId-000000000000", "aws: shard id")
	fl.StringVar(&o.seqStart, "sequence-start", "49590338271490256608559692538361571095921575989136588898", "aws: sequence number of the first record")
	fl.StringVar(&o.project, "project", "my-project", "gcp: project id")
	fl.StringVar(&o.topic, "topic", "events", "gcp: Pub/Sub topic")
	fl.StringVar(&o.subscription, "subscription", "eventarc-us-central1-sub", "gcp: subscription name")
	fl.StringVar(&o.mode, "mode", "binary", "gcp: CloudEvents content mode: binary (HTTP request) or structured (JSON lines)")
	fl.StringArrayVar(&o.attrs, "attr", nil, "gcp: message attribute NAME=VALUE; repeatable")
	fl.StringVar(&o.namespace, "namespace", "ns.servicebus.windows.net", "azure: Event Hubs namespace")
	fl.StringVar(&o.hub, "hub", "events", "azure: event hub name")
	fl.StringVar(&o.consumerGroup, "consumer-group", "$Default", "azure: consumer group")
	fl.StringVar(&o.partition, "partition", "0", "azure: partition id")
	fl.StringVar(&o.method, "function", "", "azure: function name (default: the hub name)")
	fl.Int64Var(&o.seq, "sequence-number", 0, "azure: sequence number of the first event")
	fl.Int64Var(&o.offset, "offset", 0, "azure: offset of the first event")
	return cmd
}

// readEvents returns the events of a file or of the arguments.
func readEvents(e *env, input string, args []string) ([][]byte, error) {
	if input == "" {
		evs := make([][]byte, len(args))
		for i, a := range args {
			evs[i] = []byte(strings.TrimSpace(a))
		}
		return evs, nil
	}
	in, _, err := openInput(e, input)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	lines, err := codec.NewLines(in, input)
	if err != nil {
		return nil, err
	}
	var evs [][]byte
	var rec core.Record
	for lines.Next(&rec) {
		evs = append(evs, rec.Data)
	}
	if err := lines.Err(); err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("%s has no events", input)
	}
	return evs, nil
}

// genKeyField picks the field that keys the generated events: --key when given, else the input.key
// (and format) of --spec or of ./eddy.yaml when present, else --key's default.
func genKeyField(o genOpts, keyGiven bool) (path, format string, err error) {
	if keyGiven {
		return o.key, "", nil
	}
	specPath := o.spec
	if specPath == "" {
		if _, err := os.Stat(defaultSpec); err != nil {
			return o.key, "", nil
		}
		specPath = defaultSpec
	}
	f, _, err := loadSpec(specPath)
	if err != nil {
		return "", "", err
	}
	in := f.Input
	if strings.HasPrefix(in.Key, "$") {
		return "", "", usagef("%s: input.key is %s, which the stream gives, not the event: pass --key FIELD to key the generated events", specPath, in.Key)
	}
	return in.Key, in.Format, nil
}

// eventKeys extracts each event's partition key; an event without one (not JSON, say) gets its
// position, so that it still has a key as every transport requires. No path gives no keys.
func eventKeys(evs [][]byte, path, format string) ([]string, error) {
	keys := make([]string, len(evs))
	if path == "" {
		return keys, nil
	}
	dec, err := codec.New(codec.Config{Format: format, Key: path, ProcessingTime: true})
	if err != nil {
		return nil, usagef("--key %q: %v", path, err)
	}
	var ev core.Event
	for i, data := range evs {
		rec := core.Record{ID: strconv.Itoa(i + 1), Data: data}
		if dec.Decode("", &rec, time.Time{}, &ev) == nil {
			keys[i] = ev.Key
		} else {
			keys[i] = strconv.Itoa(i)
		}
	}
	return keys, nil
}

// arrival is the i-th event's arrival time.
func (o *genOpts) arrival(at time.Time, i int) time.Time {
	return at.Add(time.Duration(i) * o.interval)
}

// indentJSON marshals v with two-space indentation and no HTML escaping, as the samples are.
func indentJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// The Kinesis event, field for field in the order Lambda writes it.
type kinesisEventJSON struct {
	Records []kinesisRecordJSON `json:"Records"`
}

type kinesisRecordJSON struct {
	Kinesis           kinesisDataJSON `json:"kinesis"`
	EventSource       string          `json:"eventSource"`
	EventVersion      string          `json:"eventVersion"`
	EventID           string          `json:"eventID"`
	EventName         string          `json:"eventName"`
	InvokeIdentityArn string          `json:"invokeIdentityArn"`
	AwsRegion         string          `json:"awsRegion"`
	EventSourceARN    string          `json:"eventSourceARN"`
}

type kinesisDataJSON struct {
	KinesisSchemaVersion        string  `json:"kinesisSchemaVersion"`
	PartitionKey                string  `json:"partitionKey"`
	SequenceNumber              string  `json:"sequenceNumber"`
	Data                        []byte  `json:"data"`
	ApproximateArrivalTimestamp float64 `json:"approximateArrivalTimestamp"`
}

func kinesisEvent(o genOpts, evs [][]byte, keys []string, at time.Time) ([]byte, error) {
	seq, ok := new(big.Int).SetString(o.seqStart, 10)
	if !ok || seq.Sign() < 0 {
		return nil, usagef("--sequence-start %q: want a decimal number", o.seqStart)
	}
	arn := fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", o.region, o.account, o.stream)
	var ev kinesisEventJSON
	one := big.NewInt(1)
	for i, data := range evs {
		sn := seq.String()
		seq.Add(seq, one)
		ev.Records = append(ev.Records, kinesisRecordJSON{
			Kinesis: kinesisDataJSON{KinesisSchemaVersion: "1.0", PartitionKey: keys[i], SequenceNumber: sn, Data: data,
				ApproximateArrivalTimestamp: float64(o.arrival(at, i).UnixMilli()) / 1000},
			EventSource: "aws:kinesis", EventVersion: "1.0", EventID: o.shard + ":" + sn, EventName: "aws:kinesis:record",
			InvokeIdentityArn: fmt.Sprintf("arn:aws:iam::%s:role/lambda-role", o.account), AwsRegion: o.region, EventSourceARN: arn,
		})
	}
	return indentJSON(ev)
}

// pubsubEvents writes a messagePublished CloudEvent per event. The JSON body is laid out as the
// sample delivery is (", " and ": " separators).
func pubsubEvents(o genOpts, evs [][]byte, keys []string, at time.Time) ([]byte, error) {
	if o.mode != "binary" && o.mode != "structured" {
		return nil, usagef("--mode %q: want binary or structured", o.mode)
	}
	attrs := []byte("{")
	for i, a := range o.attrs {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usagef("--attr %q: want NAME=VALUE", a)
		}
		if i > 0 {
			attrs = append(attrs, ", "...)
		}
		attrs = core.AppendString(attrs, k)
		attrs = append(attrs, ": "...)
		attrs = core.AppendString(attrs, v)
	}
	attrs = append(attrs, '}')
	source := fmt.Sprintf("//pubsub.googleapis.com/projects/%s/topics/%s", o.project, o.topic)
	sub := fmt.Sprintf("projects/%s/subscriptions/%s", o.project, o.subscription)
	var out []byte
	for i, data := range evs {
		t := o.arrival(at, i)
		id := strconv.FormatInt(t.UnixMilli()*1000+int64(i%1000), 10)
		if o.msgID > 0 {
			id = strconv.FormatInt(o.msgID+int64(i), 10)
		}
		ts := t.UTC().Format(core.TimeLayout)
		body := []byte(`{"message": {"data": "`)
		body = base64.StdEncoding.AppendEncode(body, data)
		body = append(body, `", "attributes": `...)
		body = append(body, attrs...)
		body = append(body, `, "messageId": `...)
		body = core.AppendString(body, id)
		body = append(body, `, "publishTime": `...)
		body = core.AppendString(body, ts)
		body = append(body, `, "orderingKey": `...)
		body = core.AppendString(body, keys[i])
		body = append(body, `}, "subscription": `...)
		body = core.AppendString(body, sub)
		body = append(body, '}')
		if o.mode == "structured" {
			out = append(out, `{"specversion": "1.0", "id": `...)
			out = core.AppendString(out, id)
			out = append(out, `, "source": `...)
			out = core.AppendString(out, source)
			out = append(out, `, "type": "google.cloud.pubsub.topic.v1.messagePublished", "time": `...)
			out = core.AppendString(out, ts)
			out = append(out, `, "datacontenttype": "application/json", "data": `...)
			out = append(out, body...)
			out = append(out, "}\n"...)
			continue
		}
		if i > 0 {
			out = append(out, '\n')
		}
		out = fmt.Appendf(out, "POST / HTTP/1.1\nContent-Type: application/json\nce-id: %s\nce-specversion: 1.0\nce-time: %s\nce-type: google.cloud.pubsub.topic.v1.messagePublished\nce-source: %s\n\n",
			id, ts, source)
		out = append(out, body...)
		out = append(out, '\n')
	}
	return out, nil
}

// The Event Hubs custom-handler request, in the order the Functions host writes it.
type ehBodyJSON struct {
	Data     ehDataJSON `json:"Data"`
	Metadata ehMetaJSON `json:"Metadata"`
}

type ehDataJSON struct {
	Events string `json:"events"`
}

type ehMetaJSON struct {
	PartitionContext      ehPartitionJSON `json:"PartitionContext"`
	PartitionKeyArray     string          `json:"PartitionKeyArray"`
	OffsetArray           string          `json:"OffsetArray"`
	SequenceNumberArray   string          `json:"SequenceNumberArray"`
	EnqueuedTimeUtcArray  string          `json:"EnqueuedTimeUtcArray"`
	PropertiesArray       string          `json:"PropertiesArray"`
	SystemPropertiesArray string          `json:"SystemPropertiesArray"`
	Sys                   ehSysJSON       `json:"sys"`
}

type ehPartitionJSON struct {
	FullyQualifiedNamespace string `json:"FullyQualifiedNamespace"`
	EventHubName            string `json:"EventHubName"`
	ConsumerGroup           string `json:"ConsumerGroup"`
	PartitionId             string `json:"PartitionId"`
}

type ehSysJSON struct {
	MethodName string `json:"MethodName"`
	UtcNow     string `json:"UtcNow"`
	RandGuid   string `json:"RandGuid"`
}

// dotnetTime is how .NET writes a UTC DateTime without a zone: up to 7 fraction digits, trailing
// zeros dropped.
const dotnetTime = "2006-01-02T15:04:05.9999999"

func eventHubsBody(o genOpts, evs [][]byte, keys []string, at time.Time) ([]byte, error) {
	method := o.method
	if method == "" {
		method = o.hub
	}
	// The host serializes each array with JSON.NET and puts the text in a JSON string; the items
	// are separated by ", " as in the sample.
	var events, pkeys, offs, seqs, times, props, sys []byte
	off := o.offset
	for i, data := range evs {
		sep := func(b []byte) []byte {
			if i > 0 {
				return append(b, ", "...)
			}
			return b
		}
		seq := o.seq + int64(i)
		t := o.arrival(at, i).UTC()
		offStr := strconv.FormatInt(off, 10)
		events = core.AppendString(sep(events), string(data))
		pkeys = core.AppendString(sep(pkeys), keys[i])
		offs = core.AppendString(sep(offs), offStr)
		seqs = strconv.AppendInt(sep(seqs), seq, 10)
		times = core.AppendString(sep(times), t.Format(dotnetTime))
		props = append(sep(props), "{}"...)
		sys = fmt.Appendf(sep(sys), `{"x-opt-sequence-number": %d, "x-opt-offset": %q, "x-opt-enqueued-time": %q, "SequenceNumber": %d, "Offset": %q, "PartitionKey": %s, "EnqueuedTimeUtc": %q}`,
			seq, offStr, t.Format(dotnetTime)+"+00:00", seq, offStr, core.AppendString(nil, keys[i]), t.Format(dotnetTime))
		off += int64(len(data))
	}
	arr := func(b []byte) string { return "[" + string(b) + "]" }
	now := o.arrival(at, len(evs)).UTC().Add(time.Second)
	body := ehBodyJSON{
		Data: ehDataJSON{Events: arr(events)},
		Metadata: ehMetaJSON{
			PartitionContext:  ehPartitionJSON{FullyQualifiedNamespace: o.namespace, EventHubName: o.hub, ConsumerGroup: o.consumerGroup, PartitionId: o.partition},
			PartitionKeyArray: arr(pkeys), OffsetArray: arr(offs), SequenceNumberArray: arr(seqs),
			EnqueuedTimeUtcArray: arr(times), PropertiesArray: arr(props), SystemPropertiesArray: arr(sys),
			Sys: ehSysJSON{MethodName: method, UtcNow: now.Format("2006-01-02T15:04:05.9999999Z"), RandGuid: newGUID()},
		},
	}
	return indentJSON(body)
}

// newGUID returns a random (version 4) GUID.
func newGUID() string {
	var u [16]byte
	_, _ = io.ReadFull(rand.Reader, u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
