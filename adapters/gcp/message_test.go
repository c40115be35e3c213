package gcp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
)

const sampleBody = `{"message": {"data": "eyJrZXkiOiJzZW5zb3ItMDAwMSIsInRzIjoxNzY0MDg2NDAwMDAwLCJ2YWx1ZSI6ODEuNX0=", "attributes": {"origin": "sensor-gw"}, "messageId": "2070443601311540", "publishTime": "2025-11-25T16:00:01.987Z", "orderingKey": "sensor-0001"}, "subscription": "projects/my-project/subscriptions/eventarc-us-central1-sub"}`

func TestParsePushSample(t *testing.T) {
	m, err := ParsePush([]byte(sampleBody))
	if err != nil {
		t.Fatal(err)
	}
	want := Message{ID: "2070443601311540", Data: []byte(`{"key":"sensor-0001","ts":1764086400000,"value":81.5}`),
		Attributes: map[string]string{"origin": "sensor-gw"}, OrderingKey: "sensor-0001",
		PublishTime:  time.Date(2025, 11, 25, 16, 0, 1, 987e6, time.UTC),
		Subscription: "projects/my-project/subscriptions/eventarc-us-central1-sub"}
	if !sameMessage(m, want) {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}
	rec := m.Record()
	if rec.ID != want.ID || rec.Offset != "" || rec.Key != "sensor-0001" || !rec.Time.Equal(want.PublishTime) || string(rec.Data) != string(want.Data) || rec.Attrs["origin"] != "sensor-gw" {
		t.Fatalf("record %+v", rec)
	}
}

func sameMessage(a, b Message) bool {
	if len(a.Attributes) != len(b.Attributes) {
		return false
	}
	for k, v := range a.Attributes {
		if b.Attributes[k] != v {
			return false
		}
	}
	return a.ID == b.ID && bytes.Equal(a.Data, b.Data) && a.OrderingKey == b.OrderingKey &&
		a.PublishTime.Equal(b.PublishTime) && a.DeliveryAttempt == b.DeliveryAttempt && a.Subscription == b.Subscription
}

func TestParsePushForms(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Message
	}{
		{"snake case and unpadded base64", `{"message":{"data":"aGk","message_id":"7","publish_time":"2024-01-02T03:04:05Z","ordering_key":"k"}}`,
			Message{ID: "7", Data: []byte("hi"), OrderingKey: "k", PublishTime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{"attributes only", `{"message":{"attributes":{"a":"b"},"messageId":"8"},"deliveryAttempt":3}`,
			Message{ID: "8", Attributes: map[string]string{"a": "b"}, DeliveryAttempt: 3}},
		{"null data, empty attributes", `{"message":{"data":null,"attributes":{},"messageId":"9"}}`, Message{ID: "9"}},
		{"legacy conversion", `{"message":{"@type":"type.googleapis.com/google.pubsub.v1.PubsubMessage","attributes":null,"data":"eyJ4IjoxfQ==","messageId":"10","publishTime":"2025-11-25T16:00:01.987654321Z"}}`,
			Message{ID: "10", Data: []byte(`{"x":1}`), PublishTime: time.Date(2025, 11, 25, 16, 0, 1, 987654321, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParsePush([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !sameMessage(m, tc.want) {
				t.Fatalf("got %+v\nwant %+v", m, tc.want)
			}
		})
	}
}

func TestParsePushErrors(t *testing.T) {
	for _, tc := range []struct{ body, field, reason string }{
		{`{"message":{"data":"aGk="}}`, "message.messageId", "missing"},
		{`{"subscription":"s"}`, "message", "missing"},
		{`[1,2]`, "", "not a Pub/Sub push body"},
		{`{"message":{"messageId":"1"}} x`, "", "text after the JSON object"},
		{`{"message":{"messageId":"1","data":"!!"}}`, "message.data", "invalid base64"},
		{`{"message":{"messageId":"1","data":5}}`, "message.data", "not a base64 string"},
		{`{"message":{"messageId":"1","publishTime":"yesterday"}}`, "message.publishTime", "not an RFC 3339 time"},
		{`{"message":{"messageId":"1"},"deliveryAttempt":"x"}`, "deliveryAttempt", "not a non-negative integer"},
	} {
		_, err := ParsePush([]byte(tc.body))
		var me *MessageError
		if !errors.As(err, &me) || me.Field != tc.field || !strings.Contains(me.Reason, tc.reason) {
			t.Errorf("%s: error %v, want field %q reason containing %q", tc.body, err, tc.field, tc.reason)
		}
	}
}

func TestParseCloudEvent(t *testing.T) {
	e := event.New()
	e.SetID("ce-1")
	e.SetType(MessagePublished)
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
	ts := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e.SetTime(ts)
	if err := e.SetData("application/json", json.RawMessage(`{"message":{"data":"aGk="}}`)); err != nil {
		t.Fatal(err)
	}
	m, err := ParseCloudEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	// The data lacks id and time: the event's own stand in.
	if m.ID != "ce-1" || !m.PublishTime.Equal(ts) || string(m.Data) != "hi" {
		t.Fatalf("%+v", m)
	}
	e.SetType("google.cloud.storage.object.v1.finalized")
	_, err = ParseCloudEvent(e)
	var me *MessageError
	if !errors.As(err, &me) || me.Field != "type" || me.ID != "ce-1" {
		t.Fatalf("wrong type: %v", err)
	}
	if _, err := parseEvent(MessagePublished, "", time.Time{}, []byte(`{"message":{}}`)); err == nil || !strings.Contains(err.Error(), "no id") {
		t.Fatalf("no id anywhere: %v", err)
	}
	if _, err := parseEvent(MessagePublished, "x", time.Time{}, nil); err == nil || !strings.Contains(err.Error(), `"x" field "data"`) {
		t.Fatalf("no data: %v", err)
	}
}

func TestPartitioners(t *testing.T) {
	byKey, err := ByEventKey(codec.Config{Format: "json", Key: "key", Time: "ts"})
	if err != nil {
		t.Fatal(err)
	}
	p := FirstOf(ByOrderingKey, ByAttribute("tenant"), byKey)
	for _, tc := range []struct {
		rec  core.Record
		want string
	}{
		{core.Record{Key: "ok", Attrs: map[string]string{"tenant": "t"}, Data: []byte(`{"key":"a"}`)}, "ok"},
		{core.Record{Attrs: map[string]string{"tenant": "t"}, Data: []byte(`{"key":"a"}`)}, "t"},
		{core.Record{Data: []byte(`{"key":42}`)}, "42"},
	} {
		got, err := p(&tc.rec)
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.rec, got, err, tc.want)
		}
	}
	_, err = p(&core.Record{ID: "m1", Data: []byte(`{"value":1}`)})
	var f *core.Failure
	if !errors.As(err, &f) || f.Field != "key" || f.Record.ID != "m1" {
		t.Errorf("missing key: %v", err)
	}
	if got, err := FirstOf(ByOrderingKey)(&core.Record{}); got != SinglePartition || err != nil {
		t.Errorf("no key: %q %v", got, err)
	}
	// A function without a key (or with $key) has no event key to partition by: ByEventKey has
	// no opinion, so keyless messages share SinglePartition. It used to fail, and the function
	// with it: every push answered 500.
	for _, key := range []string{"", "$key"} {
		p, err := ByEventKey(codec.Config{Key: key, Time: "ts"})
		if err != nil {
			t.Fatalf("key %q: %v", key, err)
		}
		if got, err := FirstOf(ByOrderingKey, p)(&core.Record{ID: "m2", Data: []byte(`{"ts":1}`)}); got != SinglePartition || err != nil {
			t.Errorf("key %q, no ordering key: partition %q %v, want SinglePartition", key, got, err)
		}
	}
}

// FuzzParsePush: any body either parses into a message whose data round-trips through a
// re-encoded push body, or fails with a *MessageError; nothing panics.
func FuzzParsePush(f *testing.F) {
	f.Add([]byte(sampleBody))
	f.Add([]byte(`{"message":{"data":"aGk","message_id":"7","publish_time":"2024-01-02T03:04:05Z"},"deliveryAttempt":2}`))
	f.Add([]byte(`{"message":{"attributes":{"a":"b"},"messageId":"8"}}`))
	f.Add([]byte(`{"message":null}`))
	f.Add([]byte(`{"message":{"messageId":"1","data":"!!"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseEvent(MessagePublished, "ce", time.Time{}, body)
		if err != nil {
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if m.ID == "" {
			t.Fatal("parsed a message without an id")
		}
		again, err := json.Marshal(map[string]any{"message": map[string]any{
			"data": base64.StdEncoding.EncodeToString(m.Data), "attributes": m.Attributes,
			"messageId": m.ID, "orderingKey": m.OrderingKey,
		}})
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParsePush(again)
		if err != nil {
			t.Fatalf("re-encoded %s: %v", again, err)
		}
		if !bytes.Equal(m.Data, m2.Data) || m2.ID != m.ID || m2.OrderingKey != m.OrderingKey {
			t.Fatalf("round trip: %+v vs %+v", m, m2)
		}
	})
}
