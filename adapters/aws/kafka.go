package aws

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
)

// Lambda Kafka event sources: Amazon MSK ("aws:kafka") and self-managed Apache Kafka
// ("SelfManagedKafka", also seen as "aws:SelfManagedKafka"). One invocation carries the records of
// one or more topic-partitions, grouped under "TOPIC-PARTITION" keys; keys and values are base64,
// header values arrays of byte values (signed, as Java's bytes are) or, in some tools' fixtures,
// base64 strings.
//
// Each topic-partition is one runner partition named "TOPIC-PARTITION", as the Kafka worker
// (adapters/kafka) names it, so a function can move between the two and keep its state. A record's
// offset is its ID and Offset: dead letters name the topic-partition and the offset.
//
// Failure reporting: undecodable records are dead-lettered by the runner and the invocation
// succeeds, so Lambda moves on; an infrastructure error (state store, outputs) fails the whole
// invocation and Lambda retries the whole batch, in which the runner skips every offset it had
// already applied. The response is {"batchItemFailures":[]}, which Lambda reads as complete
// success whether or not ReportBatchItemFailures is on; per-record failure identifiers for Kafka
// are not used, since their exact semantics are not documented firmly enough to rely on.

// AttrKafkaError holds why a Kafka record's value could not be base64-decoded: the record is
// handed on with its value as sent, fails to decode, and reaches the dead-letter output.
const AttrKafkaError = "kafka.decodeError"

// AttrKafkaTimestampType holds the record's timestampType (CREATE_TIME or LOG_APPEND_TIME).
const AttrKafkaTimestampType = "kafka.timestampType"

// KafkaEvent is a Lambda Kafka event, decoded leniently (see DecodeKafkaEvent).
type KafkaEvent struct {
	EventSource      string                   `json:"eventSource"`
	EventSourceARN   string                   `json:"eventSourceArn,omitempty"`
	BootstrapServers string                   `json:"bootstrapServers,omitempty"`
	Records          map[string][]KafkaRecord `json:"records"`
}

// KafkaRecord is one record of a KafkaEvent.
type KafkaRecord struct {
	Topic         string `json:"topic"`
	Partition     Int    `json:"partition"`
	Offset        Int    `json:"offset"`
	Timestamp     Int    `json:"timestamp"`
	TimestampType string `json:"timestampType,omitempty"`
	// Key and Value are base64 as Lambda sends them; Value may be absent (a tombstone).
	Key     *string                  `json:"key,omitempty"`
	Value   *string                  `json:"value,omitempty"`
	Headers []map[string]HeaderValue `json:"headers,omitempty"`
}

// Int is a whole number that also decodes from a JSON string ("partition":"0" in some samples).
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not a whole number", b)
	}
	*n = Int(v)
	return nil
}

// HeaderValue is a Kafka header's value: a JSON array of byte values (-128 to 255), or a base64
// string.
type HeaderValue []byte

// UnmarshalJSON implements json.Unmarshaler.
func (h *HeaderValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			// Not base64: keep the text itself.
			v = []byte(s)
		}
		*h = v
		return nil
	case string(b) == "null":
		*h = nil
		return nil
	}
	var nums []int
	if err := json.Unmarshal(b, &nums); err != nil {
		return fmt.Errorf("header value %.40s: want an array of byte values or a base64 string", b)
	}
	v := make([]byte, len(nums))
	for i, x := range nums {
		if x < -128 || x > 255 {
			return fmt.Errorf("header value: element %d is %d, not a byte", i, x)
		}
		v[i] = byte(x)
	}
	*h = v
	return nil
}

// MarshalJSON writes the array form Lambda sends (signed byte values).
func (h HeaderValue) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, x := range h {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(int8(x)), 10)
	}
	return append(b, ']'), nil
}

// IsKafkaEvent reports whether a payload is a Lambda Kafka event: its top-level eventSource names
// Kafka. (Kinesis events carry eventSource only inside their records.)
func IsKafkaEvent(payload []byte) bool {
	var peek struct {
		EventSource string          `json:"eventSource"`
		Records     json.RawMessage `json:"records"`
	}
	if json.Unmarshal(payload, &peek) != nil {
		return false
	}
	return strings.Contains(strings.ToLower(peek.EventSource), "kafka") && len(peek.Records) > 0 && peek.Records[0] == '{'
}

// DecodeKafkaEvent decodes a Lambda Kafka event. An error names the topic-partition key, the record
// index and the field at fault.
func DecodeKafkaEvent(payload []byte) (*KafkaEvent, error) {
	var raw struct {
		EventSource      string                       `json:"eventSource"`
		EventSourceARN   string                       `json:"eventSourceArn"`
		BootstrapServers string                       `json:"bootstrapServers"`
		Records          map[string][]json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("kafka event: %w", err)
	}
	if !strings.Contains(strings.ToLower(raw.EventSource), "kafka") {
		return nil, fmt.Errorf("kafka event: eventSource %q is not aws:kafka or SelfManagedKafka", raw.EventSource)
	}
	ev := &KafkaEvent{EventSource: raw.EventSource, EventSourceARN: raw.EventSourceARN, BootstrapServers: raw.BootstrapServers,
		Records: make(map[string][]KafkaRecord, len(raw.Records))}
	for key, recs := range raw.Records {
		out := make([]KafkaRecord, len(recs))
		for i, r := range recs {
			if err := json.Unmarshal(r, &out[i]); err != nil {
				return nil, fmt.Errorf("kafka event: records[%q][%d]: %w", key, i, fieldError(err))
			}
		}
		ev.Records[key] = out
	}
	return ev, nil
}

func fieldError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("field %s: %w", te.Field, err)
	}
	return err
}

// KafkaBatches turns a Kafka event into one batch per topic-partition, sorted by partition name,
// each in offset order. A record's key is its base64-decoded key, its time its timestamp, its data
// its base64-decoded value, its attributes its headers (text; a repeated header keeps its last
// value) and AttrKafkaTimestampType. A value that is not base64 is passed on as sent with
// AttrKafkaError, so that it is dead-lettered with its reason rather than failing the batch.
func KafkaBatches(ev *KafkaEvent, now time.Time) ([]core.Batch, error) {
	byPart := map[string][]core.Record{}
	for key, recs := range ev.Records {
		for i := range recs {
			r := &recs[i]
			topic := r.Topic
			if topic == "" {
				// The key is TOPIC-PARTITION; the record's own fields win when present.
				if j := strings.LastIndexByte(key, '-'); j > 0 {
					topic = key[:j]
				}
			}
			if topic == "" || r.Partition < 0 || r.Offset < 0 {
				return nil, fmt.Errorf("kafka event: records[%q][%d]: no topic, or a negative partition or offset", key, i)
			}
			part := topic + "-" + strconv.FormatInt(int64(r.Partition), 10)
			off := strconv.FormatInt(int64(r.Offset), 10)
			rec := core.Record{ID: off, Offset: off}
			if r.Key != nil && *r.Key != "" {
				k, err := base64.StdEncoding.DecodeString(*r.Key)
				if err != nil {
					k = []byte(*r.Key)
				}
				rec.Key = string(k)
			}
			if r.Timestamp > 0 {
				rec.Time = time.UnixMilli(int64(r.Timestamp)).UTC()
			}
			attrs := map[string]string{}
			for _, h := range r.Headers {
				for k, v := range h {
					attrs[k] = string(v)
				}
			}
			if r.TimestampType != "" {
				attrs[AttrKafkaTimestampType] = r.TimestampType
			}
			if r.Value != nil {
				v, err := base64.StdEncoding.DecodeString(*r.Value)
				if err != nil {
					v = []byte(*r.Value)
					attrs[AttrKafkaError] = "value: not base64: " + err.Error()
				}
				rec.Data = v
			}
			if len(attrs) > 0 {
				rec.Attrs = attrs
			}
			byPart[part] = append(byPart[part], rec)
		}
	}
	parts := make([]string, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	out := make([]core.Batch, len(parts))
	for i, p := range parts {
		recs := byPart[p]
		sort.SliceStable(recs, func(a, b int) bool { return core.CompareOffsets(recs[a].Offset, recs[b].Offset) < 0 })
		out[i] = core.Batch{Partition: p, Records: recs, Now: now}
	}
	return out, nil
}

// KafkaResponse is the answer to a Kafka invocation: always an empty batchItemFailures (see the
// failure reporting above), with counts for the logs.
type KafkaResponse struct {
	BatchItemFailures []struct{} `json:"batchItemFailures"`
	Partitions        int        `json:"partitions"`
	Records           int        `json:"records"`
	Failed            int        `json:"failed"`
}

// HandleKafka processes a Lambda Kafka event: each topic-partition's batch goes through the runner,
// the partitions concurrently. Any partition's infrastructure error fails the invocation (Lambda
// retries it whole; the applied partitions skip their records then).
func (h *Handler) HandleKafka(ctx context.Context, ev *KafkaEvent) (KafkaResponse, error) {
	resp := KafkaResponse{BatchItemFailures: []struct{}{}}
	if h.opts.LambdaWindowState {
		return resp, errors.New("aws: the handler keeps its state in Lambda's tumbling window, which Kafka event sources do not have: set EDDY_STATE_URL instead")
	}
	bs, err := KafkaBatches(ev, h.opts.Now())
	if err != nil {
		return resp, fmt.Errorf("aws: %w", err)
	}
	resp.Partitions = len(bs)
	errs := make([]error, len(bs))
	results := make([]core.Result, len(bs))
	var wg sync.WaitGroup
	for i := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = h.run(ctx, bs[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return resp, err
	}
	for i := range results {
		resp.Records += len(bs[i].Records)
		resp.Failed += len(results[i].Failures)
	}
	return resp, nil
}

// invokeKafka is Invoke for a Kafka event.
func (h *Handler) invokeKafka(ctx context.Context, payload []byte) ([]byte, error) {
	ev, err := DecodeKafkaEvent(payload)
	if err != nil {
		return nil, fmt.Errorf("aws: %w", err)
	}
	resp, err := h.HandleKafka(ctx, ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}
