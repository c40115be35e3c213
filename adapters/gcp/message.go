package gcp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyhq/eddy/core"
)

// MessagePublished is the CloudEvent type of a Pub/Sub trigger.
const MessagePublished = "google.cloud.pubsub.topic.v1.messagePublished"

// Message is one Pub/Sub message as a trigger or a subscription delivered it.
type Message struct {
	// ID is the message id Pub/Sub assigned; redeliveries carry the same one.
	ID string
	// Data is the payload, base64-decoded.
	Data []byte
	// Attributes are the publisher's attributes.
	Attributes map[string]string
	// OrderingKey is the publisher's ordering key ("" when none).
	OrderingKey string
	// PublishTime is when Pub/Sub received the message.
	PublishTime time.Time
	// DeliveryAttempt counts deliveries when the subscription has a dead-letter policy (0 when
	// unknown).
	DeliveryAttempt int
	// Subscription names the subscription that delivered the message, when known.
	Subscription string
}

// Record turns the message into the record the Runner processes. Offset stays empty: Pub/Sub
// has no order to checkpoint, so the Runner dedupes by ID instead.
func (m *Message) Record() core.Record {
	return core.Record{ID: m.ID, Key: m.OrderingKey, Time: m.PublishTime, Data: m.Data, Attrs: m.Attributes}
}

// MessageError says why a payload is not a Pub/Sub message: which message (id, when known),
// which field and what is wrong.
type MessageError struct {
	ID     string
	Field  string
	Reason string
}

// Error implements error.
func (e *MessageError) Error() string {
	s := "pubsub message"
	if e.ID != "" {
		s += " " + strconv.Quote(e.ID)
	}
	if e.Field != "" {
		s += " field " + strconv.Quote(e.Field)
	}
	return s + ": " + e.Reason
}

// pushBody is the JSON a push subscription posts, and the data of a messagePublished CloudEvent.
// Pub/Sub writes both camelCase and snake_case names for some members; either is accepted.
type pushBody struct {
	Message *struct {
		Data         json.RawMessage   `json:"data"`
		Attributes   map[string]string `json:"attributes"`
		MessageID    string            `json:"messageId"`
		MessageID2   string            `json:"message_id"`
		PublishTime  string            `json:"publishTime"`
		PublishTime2 string            `json:"publish_time"`
		OrderingKey  string            `json:"orderingKey"`
		OrderingKey2 string            `json:"ordering_key"`
	} `json:"message"`
	Subscription    string          `json:"subscription"`
	DeliveryAttempt json.RawMessage `json:"deliveryAttempt"`
}

// ParsePush decodes the body of a Pub/Sub push request ({"message": {...}, "subscription": ...}),
// which is also the data of a messagePublished CloudEvent. It does not invent a message id: a
// body without one is an error (see ParseCloudEvent for the CloudEvent's own id).
func ParsePush(body []byte) (Message, error) {
	m, err := parsePush(body)
	if err != nil {
		return Message{}, err
	}
	if m.ID == "" {
		return Message{}, &MessageError{Field: "message.messageId", Reason: "missing"}
	}
	return m, nil
}

func parsePush(body []byte) (Message, error) {
	var p pushBody
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&p); err != nil {
		return Message{}, &MessageError{Reason: "not a Pub/Sub push body: " + err.Error()}
	}
	if d.More() {
		return Message{}, &MessageError{Reason: "not a Pub/Sub push body: text after the JSON object"}
	}
	if p.Message == nil {
		return Message{}, &MessageError{Field: "message", Reason: "missing"}
	}
	pm := p.Message
	m := Message{ID: first(pm.MessageID, pm.MessageID2), Attributes: pm.Attributes,
		OrderingKey: first(pm.OrderingKey, pm.OrderingKey2), Subscription: p.Subscription}
	if len(m.Attributes) == 0 {
		m.Attributes = nil
	}
	data, err := decodeData(pm.Data)
	if err != nil {
		return Message{}, &MessageError{ID: m.ID, Field: "message.data", Reason: err.Error()}
	}
	m.Data = data
	if s := first(pm.PublishTime, pm.PublishTime2); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Message{}, &MessageError{ID: m.ID, Field: "message.publishTime", Reason: "not an RFC 3339 time: " + strconv.Quote(s)}
		}
		m.PublishTime = t
	}
	if len(p.DeliveryAttempt) > 0 && string(p.DeliveryAttempt) != "null" {
		n, err := strconv.Atoi(string(p.DeliveryAttempt))
		if err != nil || n < 0 {
			return Message{}, &MessageError{ID: m.ID, Field: "deliveryAttempt", Reason: "not a non-negative integer: " + string(p.DeliveryAttempt)}
		}
		m.DeliveryAttempt = n
	}
	return m, nil
}

// decodeData decodes message.data: a base64 string (standard alphabet, padded or not), or
// absent/null for a message that carries only attributes.
func decodeData(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("not a base64 string: %s", truncate(raw, 40))
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %v", err)
	}
	return b, nil
}

// ParseCloudEvent turns a messagePublished CloudEvent, as functions-framework-go hands it to a
// function (binary or structured mode, or converted from a raw push body), into the message. The
// message id and publish time fall back to the event's id and time when the data lacks them, as
// in events converted from the legacy push format.
func ParseCloudEvent(e event.Event) (Message, error) {
	return parseEvent(e.Type(), e.ID(), e.Time(), e.Data())
}

// parseEvent is ParseCloudEvent on the parts it reads, so it can be fuzzed without the SDK.
func parseEvent(typ, id string, t time.Time, data []byte) (Message, error) {
	if typ != MessagePublished {
		return Message{}, &MessageError{ID: id, Field: "type", Reason: fmt.Sprintf("CloudEvent type %q, want %q: is the trigger a Pub/Sub topic?", typ, MessagePublished)}
	}
	if len(data) == 0 {
		return Message{}, &MessageError{ID: id, Field: "data", Reason: "the CloudEvent has no data"}
	}
	m, err := parsePush(data)
	if err != nil {
		if me, ok := err.(*MessageError); ok && me.ID == "" {
			me.ID = id
		}
		return Message{}, err
	}
	if m.ID == "" {
		m.ID = id
	}
	if m.ID == "" {
		return Message{}, &MessageError{Field: "message.messageId", Reason: "missing, and the CloudEvent has no id"}
	}
	if m.PublishTime.IsZero() {
		m.PublishTime = t
	}
	return m, nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
