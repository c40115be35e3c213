package azure

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core"
)

// Invocation is one request of the Functions host to a custom handler for an Event Hubs trigger
// with cardinality "many": the batch of one partition, decoded into records.
type Invocation struct {
	// Partition is where the batch came from.
	Partition PartitionContext
	// Records are the events in delivery order; Offset and ID are the sequence numbers.
	Records []core.Record
	// Retry is set when the function has a retry policy: the host re-invokes a failed batch
	// in memory before it advances the checkpoint.
	Retry *RetryContext
}

// PartitionContext is the host's Metadata.PartitionContext.
type PartitionContext struct {
	FullyQualifiedNamespace string
	EventHubName            string
	ConsumerGroup           string
	PartitionID             string `json:"PartitionId"`
}

// RetryContext is the host's Metadata.RetryContext.
type RetryContext struct {
	RetryCount    int
	MaxRetryCount int
	Exception     json.RawMessage `json:",omitempty"`
}

// Final reports whether this is the last attempt the host will make: after it the checkpoint
// advances whatever the reply. A nil context (no retry policy) is a final attempt.
func (r *RetryContext) Final() bool {
	if r == nil {
		return true
	}
	return r.MaxRetryCount >= 0 && r.RetryCount >= r.MaxRetryCount
}

// DecodeOptions say how to read an invocation.
type DecodeOptions struct {
	// Binding is the trigger's binding name in function.json (default "events").
	Binding string
	// Binary is set when the trigger's dataType is "binary": event bodies arrive base64-encoded.
	// With dataType "string" (the default) they arrive as text.
	Binary bool
}

// Field errors name the request member at fault.
type decodeError struct {
	field  string
	index  int // -1 when the whole field is at fault
	reason string
}

func (e *decodeError) Error() string {
	if e.index >= 0 {
		return fmt.Sprintf("custom handler request: %s[%d]: %s", e.field, e.index, e.reason)
	}
	return fmt.Sprintf("custom handler request: %s: %s", e.field, e.reason)
}

// DecodeInvocation decodes the body the Functions host POSTs to a custom handler for an Event Hubs
// trigger with cardinality "many". The host serializes arrays and strings as JSON strings holding
// JSON text ("[\"{\\\"v\\\":1}\"]"), and whether a value is encoded once or twice has varied between
// host versions, so every member is decoded defensively: as the target type, or failing that as a
// string holding it, up to twice.
//
// The sequence numbers (Metadata.SequenceNumberArray, or else the SystemPropertiesArray entries)
// become the records' offsets and ids, so that a redelivered batch is recognized; a batch without
// them is an error.
func DecodeInvocation(body []byte, opts DecodeOptions) (*Invocation, error) {
	binding := opts.Binding
	if binding == "" {
		binding = "events"
	}
	var req struct {
		Data     map[string]json.RawMessage
		Metadata map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &decodeError{"body", -1, "not a JSON object with Data and Metadata: " + err.Error()}
	}
	rawEvents, ok := req.Data[binding]
	if !ok {
		return nil, &decodeError{"Data." + binding, -1, fmt.Sprintf("missing (Data has %s); is the trigger binding named %q?", keys(req.Data), binding)}
	}
	var events []json.RawMessage
	if err := decodeLoose(rawEvents, &events); err != nil {
		return nil, &decodeError{"Data." + binding, -1, "not an array of events (is cardinality \"many\"?): " + err.Error()}
	}
	inv := &Invocation{}
	if err := decodeLoose(req.Metadata["PartitionContext"], &inv.Partition); err != nil || inv.Partition.PartitionID == "" {
		reason := "missing PartitionId"
		if err != nil {
			reason = err.Error()
		}
		return nil, &decodeError{"Metadata.PartitionContext", -1, reason}
	}
	if raw, ok := req.Metadata["RetryContext"]; ok && !isNull(raw) {
		inv.Retry = &RetryContext{}
		if err := decodeLoose(raw, inv.Retry); err != nil {
			return nil, &decodeError{"Metadata.RetryContext", -1, err.Error()}
		}
	}
	n := len(events)
	var (
		seqs    []json.Number
		keysArr []*string
		times   []string
		props   []map[string]any
		sys     []map[string]any
	)
	if err := metaArray(req.Metadata, "SequenceNumberArray", n, &seqs); err != nil {
		return nil, err
	}
	if err := metaArray(req.Metadata, "PartitionKeyArray", n, &keysArr); err != nil {
		return nil, err
	}
	if err := metaArray(req.Metadata, "EnqueuedTimeUtcArray", n, &times); err != nil {
		return nil, err
	}
	if err := metaArray(req.Metadata, "PropertiesArray", n, &props); err != nil {
		return nil, err
	}
	// The system properties repeat the other arrays; they are decoded (which is costly) only to
	// fill a gap.
	if seqs == nil || keysArr == nil || times == nil {
		if err := metaArray(req.Metadata, "SystemPropertiesArray", n, &sys); err != nil {
			return nil, err
		}
	}
	inv.Records = make([]core.Record, n)
	for i, raw := range events {
		rec := &inv.Records[i]
		data, err := eventData(raw, opts.Binary)
		if err != nil {
			return nil, &decodeError{"Data." + binding, i, err.Error()}
		}
		rec.Data = data
		var seq string
		switch {
		case seqs != nil:
			seq = string(seqs[i])
		case sys != nil:
			seq = sysString(sys[i], "SequenceNumber", "x-opt-sequence-number")
		}
		if seq == "" {
			return nil, &decodeError{"Metadata.SequenceNumberArray", i, "no sequence number (neither SequenceNumberArray nor SystemPropertiesArray has one)"}
		}
		v, err := strconv.ParseInt(seq, 10, 64)
		if err != nil || v < 0 {
			return nil, &decodeError{"Metadata.SequenceNumberArray", i, fmt.Sprintf("sequence number %q is not a non-negative integer", seq)}
		}
		// Offsets compare as decimal strings, so they must be canonical ("7", not "07").
		seq = strconv.FormatInt(v, 10)
		rec.ID, rec.Offset = seq, seq
		switch {
		case keysArr != nil:
			if keysArr[i] != nil {
				rec.Key = *keysArr[i]
			}
		case sys != nil:
			rec.Key = sysString(sys[i], "PartitionKey", "x-opt-partition-key")
		}
		var ts string
		switch {
		case times != nil:
			ts = times[i]
		case sys != nil:
			ts = sysString(sys[i], "EnqueuedTimeUtc", "x-opt-enqueued-time")
		}
		if ts != "" {
			t, err := parseHostTime(ts)
			if err != nil {
				return nil, &decodeError{"Metadata.EnqueuedTimeUtcArray", i, err.Error()}
			}
			rec.Time = t
		}
		if props != nil && len(props[i]) > 0 {
			rec.Attrs = make(map[string]string, len(props[i]))
			for k, v := range props[i] {
				rec.Attrs[k] = attrString(v)
			}
		}
	}
	return inv, nil
}

// Batch returns the invocation as the runner's input.
func (inv *Invocation) Batch(now time.Time) core.Batch {
	return core.Batch{Partition: inv.Partition.PartitionID, Records: inv.Records, Now: now}
}

// decodeLoose unmarshals raw into v, or, when raw is a JSON string, the JSON text it holds (up to
// two levels of such wrapping).
func decodeLoose(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return errors.New("missing")
	}
	err := json.Unmarshal(raw, v)
	for range 2 {
		if err == nil {
			return nil
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return err
		}
		raw = json.RawMessage(s)
		err = json.Unmarshal(raw, v)
	}
	return err
}

// metaArray decodes Metadata[name] into dst when present, checking it has one entry per event.
func metaArray[T any](meta map[string]json.RawMessage, name string, n int, dst *[]T) error {
	raw, ok := meta[name]
	if !ok || isNull(raw) {
		return nil
	}
	dec := func(b []byte, v any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		return d.Decode(v)
	}
	var out []T
	err := dec(raw, &out)
	for range 2 {
		if err == nil {
			break
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			break
		}
		raw = json.RawMessage(s)
		err = dec(raw, &out)
	}
	if err != nil {
		return &decodeError{"Metadata." + name, -1, err.Error()}
	}
	if len(out) != n {
		return &decodeError{"Metadata." + name, -1, fmt.Sprintf("%d entries for %d events", len(out), n)}
	}
	*dst = out
	return nil
}

// eventData returns one event's body. With dataType "string" the host sends each body as a JSON
// string; an event that is itself JSON may also arrive as the JSON value (when the host parsed
// it), and then its text is the body.
func eventData(raw json.RawMessage, binary bool) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		if len(raw) == 0 {
			return nil, errors.New("empty event")
		}
		return append([]byte(nil), raw...), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	if binary {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("dataType binary, but the body is not base64: %w", err)
		}
		return b, nil
	}
	return []byte(s), nil
}

func sysString(m map[string]any, names ...string) string {
	for _, n := range names {
		if v, ok := m[n]; ok && v != nil {
			return attrString(v)
		}
	}
	return ""
}

// attrString renders a property value: strings as they are, everything else as JSON text.
func attrString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// parseHostTime reads the host's times: .NET's round-trip format, with or without a zone (a
// missing zone is UTC, as the member names say).
func parseHostTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not RFC 3339", s)
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func keys(m map[string]json.RawMessage) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, strconv.Quote(k))
	}
	if len(ks) == 0 {
		return "nothing"
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
