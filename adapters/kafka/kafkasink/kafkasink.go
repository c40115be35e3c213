// Package kafkasink is the sink driver for Kafka topics: kafka://BROKER1,BROKER2/TOPIC opens a
// producer (franz-go) writing each output as one record keyed by the output's key, so one key's
// outputs land on one partition in order, with the wire contract's metadata (eddy_id, eddy_type,
// ...) as record headers. The producer is idempotent (franz-go's default), so its own retries
// never duplicate a record; duplicates from a function's retries carry the same eddy_id.
//
// Importing the package registers the "kafka" scheme with sink.DefaultURLMux. URL parameters:
//
//	max_record_bytes  the producer's largest record batch (default 1000012, Kafka's default
//	                  max.message.bytes); the driver's Limits().MaxMessageBytes is this less
//	                  RecordOverhead, and a larger message is a *sink.TooLargeError
//	timeout           how long a record may take to be acknowledged (default 30s)
//	client_id         the client id the brokers see (default "eddy")
package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Scheme is the URL scheme the package registers.
const Scheme = "kafka"

// RecordOverhead is what the driver keeps free of a record batch for Kafka's own framing (batch
// header, record header, varints), so that a message within Limits always fits one batch.
const RecordOverhead = 512

// DefaultMaxRecordBytes is Kafka's default max.message.bytes, and franz-go's batch size.
const DefaultMaxRecordBytes = 1000012

func init() {
	sink.DefaultURLMux().Register(Scheme, sink.URLOpenerFunc(OpenURL))
}

// Options configure a Sink.
type Options struct {
	// MaxRecordBytes is the producer's record batch limit (default DefaultMaxRecordBytes); set it
	// to the topic's max.message.bytes.
	MaxRecordBytes int
	// Timeout bounds the wait for a record's acknowledgement (default 30 s).
	Timeout time.Duration
	// ClientOpts are extra franz-go options (TLS, SASL).
	ClientOpts []kgo.Opt
}

// Sink writes messages to one topic. It is a driver.Sink.
type Sink struct {
	cl    *kgo.Client
	topic string
	limit int
}

// OpenURL opens kafka://BROKERS/TOPIC; see the package doc.
func OpenURL(_ context.Context, u *url.URL) (driver.Sink, error) {
	brokers := splitBrokers(u.Host)
	topic := strings.Trim(u.Path, "/")
	if len(brokers) == 0 || topic == "" || strings.Contains(topic, "/") {
		return nil, fmt.Errorf("kafkasink: URL %q: want kafka://BROKER1,BROKER2/TOPIC", u.Redacted())
	}
	var o Options
	q := u.Query()
	for k := range q {
		switch k {
		case "max_record_bytes", "timeout", "client_id":
		default:
			return nil, fmt.Errorf("kafkasink: URL %q: unknown parameter %q (want max_record_bytes, timeout or client_id)", u.Redacted(), k)
		}
	}
	if v := q.Get("max_record_bytes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1024 || n > 1<<30 {
			return nil, fmt.Errorf("kafkasink: URL %q: max_record_bytes=%q: want a whole number from 1024 to 1073741824", u.Redacted(), v)
		}
		o.MaxRecordBytes = n
	}
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("kafkasink: URL %q: timeout=%q: want a duration like 30s", u.Redacted(), v)
		}
		o.Timeout = d
	}
	if v := q.Get("client_id"); v != "" {
		o.ClientOpts = append(o.ClientOpts, kgo.ClientID(v))
	}
	return New(brokers, topic, &o)
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// New returns a Sink producing to topic on brokers. opts may be nil.
func New(brokers []string, topic string, opts *Options) (*Sink, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	kopts := append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.ClientID("eddy"),
		kgo.ProducerBatchMaxBytes(int32(o.MaxRecordBytes)),
		kgo.RecordDeliveryTimeout(o.Timeout),
		kgo.ProducerLinger(0),
	}, o.ClientOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafkasink: producer for topic %q on %s: %w", topic, strings.Join(brokers, ","), err)
	}
	return &Sink{cl: cl, topic: topic, limit: o.MaxRecordBytes - RecordOverhead}, nil
}

// Record is the Kafka record of a message: key, body as value, metadata as headers (sorted by
// name, so equal messages are equal records).
func Record(topic string, m *driver.Message) *kgo.Record {
	r := &kgo.Record{Topic: topic, Value: m.Body}
	if m.Key != "" {
		r.Key = []byte(m.Key)
	}
	keys := make([]string, 0, len(m.Metadata))
	for k := range m.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(m.Metadata[k])})
	}
	if _, ok := m.Metadata[sink.MetaID]; !ok && m.ID != "" {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: sink.MetaID, Value: []byte(m.ID)})
	}
	return r
}

// Send implements driver.Sink: it produces every message and waits for all acknowledgements.
// When some fail, the rest are acknowledged and a *driver.PartialError lists the failed ones and
// every later message of their keys, so that a resend keeps each key's order.
func (s *Sink) Send(ctx context.Context, msgs []*driver.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafkasink: topic %q: %w", s.topic, err)
	}
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = Record(s.topic, m)
	}
	res := s.cl.ProduceSync(ctx, recs...)
	var failed []int
	var first error
	badKeys := map[string]bool{}
	for i, r := range res {
		key := msgs[i].Key
		if r.Err != nil || (key != "" && badKeys[key]) {
			failed = append(failed, i)
			if r.Err != nil && first == nil {
				first = fmt.Errorf("kafkasink: topic %q: message %s (key %q): %w", s.topic, msgs[i].ID, key, r.Err)
			}
			if key != "" {
				badKeys[key] = true
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if len(failed) == len(msgs) {
		return first
	}
	return &driver.PartialError{Failed: failed, Err: first}
}

// Limits implements driver.Sink: one message must fit the producer's record batch.
func (s *Sink) Limits() driver.Limits { return driver.Limits{MaxMessageBytes: s.limit} }

// Close flushes what is buffered and closes the producer.
func (s *Sink) Close(ctx context.Context) error {
	err := s.cl.Flush(ctx)
	s.cl.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("kafkasink: topic %q: flush: %w", s.topic, err)
	}
	return nil
}

// Client returns the franz-go client, for As-style access to the transport.
func (s *Sink) Client() *kgo.Client { return s.cl }
