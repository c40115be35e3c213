package archive

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/eddyhq/eddy/core"
)

// captureRecord is an Event Hubs Capture record (Microsoft.ServiceBus.Messaging.EventData); the
// writer schema comes from the file, fields missing from it stay empty.
type captureRecord struct {
	SequenceNumber   int64          `avro:"SequenceNumber"`
	Offset           string         `avro:"Offset"`
	EnqueuedTimeUtc  string         `avro:"EnqueuedTimeUtc"`
	SystemProperties map[string]any `avro:"SystemProperties"`
	Properties       map[string]any `avro:"Properties"`
	Body             []byte         `avro:"Body"`
}

// pubsubRecord is a Pub/Sub Cloud Storage subscription's Avro record (write_metadata adds all but
// data).
type pubsubRecord struct {
	SubscriptionName string            `avro:"subscription_name"`
	MessageID        string            `avro:"message_id"`
	PublishTime      time.Time         `avro:"publish_time"`
	Attributes       map[string]string `avro:"attributes"`
	Data             []byte            `avro:"data"`
}

// avroReader reads an Avro object container file of Capture or Pub/Sub records.
type avroReader struct {
	dec     *ocf.Decoder
	key     string
	capture bool
	n       int
	cr      captureRecord
	pr      pubsubRecord
}

func newAvroReader(r io.Reader, key string) (*avroReader, error) {
	dec, err := ocf.NewDecoder(r)
	if err != nil {
		return nil, fmt.Errorf("avro: %w", err)
	}
	rs, ok := dec.Schema().(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("avro: schema %s is not a record", dec.Schema().Type())
	}
	has := map[string]bool{}
	for _, f := range rs.Fields() {
		has[f.Name()] = true
	}
	a := &avroReader{dec: dec, key: key}
	switch {
	case has["Body"]:
		a.capture = true
	case has["data"]:
	default:
		return nil, fmt.Errorf("avro: record %s has neither Body (Event Hubs Capture) nor data (Pub/Sub)", rs.FullName())
	}
	return a, nil
}

func (a *avroReader) read(rec *core.Record) (bool, error) {
	if !a.dec.HasNext() {
		if err := a.dec.Error(); err != nil {
			return false, fmt.Errorf("avro: after record %d: %w", a.n, err)
		}
		return false, nil
	}
	a.n++
	if a.capture {
		a.cr = captureRecord{}
		if err := a.dec.Decode(&a.cr); err != nil {
			return false, fmt.Errorf("avro: record %d: %w", a.n, err)
		}
		*rec = captureToRecord(&a.cr)
		return true, nil
	}
	a.pr = pubsubRecord{}
	if err := a.dec.Decode(&a.pr); err != nil {
		return false, fmt.Errorf("avro: record %d: %w", a.n, err)
	}
	*rec = pubsubToRecord(&a.pr)
	if rec.ID == "" {
		// Without write_metadata there is no message id: number the records.
		rec.ID = a.key + ":" + strconv.Itoa(a.n)
	}
	return true, nil
}

// captureToRecord maps a Capture record as the live adapter (adapters/azure.Record) maps the
// event it was: the sequence number is the id and the offset, the partition key the key, the
// enqueued time the time, the application properties the attributes (TestCaptureAsLive holds the
// two together; importing the adapter here would link the Event Hubs SDK into every replay).
func captureToRecord(c *captureRecord) core.Record {
	seq := strconv.FormatInt(c.SequenceNumber, 10)
	r := core.Record{ID: seq, Offset: seq, Data: c.Body}
	if pk, ok := c.SystemProperties["x-opt-partition-key"].(string); ok {
		r.Key = pk
	}
	if t, ok := parseEnqueued(c.EnqueuedTimeUtc); ok {
		r.Time = t
	}
	if len(c.Properties) > 0 {
		r.Attrs = make(map[string]string, len(c.Properties))
		for k, v := range c.Properties {
			r.Attrs[k] = propString(v)
		}
	}
	return r
}

// propString renders a property as adapters/azure does: strings and bytes as text, numbers in
// decimal, times in RFC 3339, anything else as JSON.
func propString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return string(core.AppendNumber(nil, x))
	case float32:
		return string(core.AppendNumber(nil, float64(x)))
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case nil:
		return ""
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// enqueuedLayouts are the forms Capture's EnqueuedTimeUtc string takes: .NET's invariant
// DateTime text ("12/8/2017 3:03:17 AM") and ISO 8601.
var enqueuedLayouts = []string{time.RFC3339Nano, "1/2/2006 3:04:05 PM", "2006-01-02T15:04:05.9999999", "1/2/2006 15:04:05"}

func parseEnqueued(s string) (time.Time, bool) {
	for _, l := range enqueuedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// pubsubToRecord maps a Pub/Sub Avro record as adapters/gcp maps the message it was (message id,
// ordering key, publish time, data, attributes). The ordering key, which the subscription writes
// among the attributes, is the record's key.
func pubsubToRecord(p *pubsubRecord) core.Record {
	r := core.Record{ID: p.MessageID, Data: p.Data, Attrs: p.Attributes}
	if !p.PublishTime.IsZero() {
		r.Time = p.PublishTime.UTC()
	}
	if k, ok := p.Attributes["ordering_key"]; ok {
		r.Key = k
		attrs := make(map[string]string, len(p.Attributes)-1)
		for a, v := range p.Attributes {
			if a != "ordering_key" {
				attrs[a] = v
			}
		}
		r.Attrs = attrs
	}
	if len(r.Attrs) == 0 {
		r.Attrs = nil
	}
	return r
}
