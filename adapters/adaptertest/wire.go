package adaptertest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/sink/memsink"
)

// Wire is implemented by harnesses that capture the messages their adapter's outputs and dead
// letters make under the wire contract of package core/sink (through a mem:// sink, or a WireTap
// in front of the adapter's sinks). The suite then compares the WHOLE messages with those the
// contract makes of the reference's outputs and dead letters: ids, keys, every metadata entry and
// the bodies (dead-letter envelopes included, but for their "attributes", which are the
// transport's own), so that drift in ids, metadata or envelopes between adapters fails.
type Wire interface {
	// WireMessages returns every message sent to the output and to the dead-letter sink so far,
	// duplicates included.
	WireMessages(ctx context.Context) (outputs, deadLetters []*driver.Message, err error)
}

// TransportKeyer is implemented by harnesses whose transport gives records another key than the
// scenario's Record.Key (a Pub/Sub ordering key set to the partition, say): the key a dead letter
// carries.
type TransportKeyer interface {
	TransportKey(partition string, r Record) string
}

// WireTap captures what an adapter's runner emits as wire messages, on its way to the adapter's
// own sinks. Embed it in a harness to implement Wire.
type WireTap struct {
	outs, dead *memsink.Topic
	o, d       *sink.Sink
}

// NewWireTap returns an empty tap.
func NewWireTap() *WireTap {
	w := &WireTap{outs: &memsink.Topic{}, dead: &memsink.Topic{}}
	w.o, w.d = sink.New(w.outs, nil), sink.New(w.dead, nil)
	return w
}

// Sink returns a sink that records outputs and passes them to next (nil: none).
func (w *WireTap) Sink(next runner.Sink) runner.Sink { return &tapSink{w: w, next: next} }

// DeadLetter returns a failure sink that records dead letters and passes them to next (nil: none).
func (w *WireTap) DeadLetter(next runner.FailureSink) runner.FailureSink {
	return &tapDead{w: w, next: next}
}

// WireMessages implements Wire.
func (w *WireTap) WireMessages(context.Context) (outputs, deadLetters []*driver.Message, err error) {
	return w.outs.Messages(), w.dead.Messages(), nil
}

type tapSink struct {
	w    *WireTap
	next runner.Sink
}

func (s *tapSink) Emit(ctx context.Context, outs []core.Output) error {
	if s.next != nil {
		if err := s.next.Emit(ctx, outs); err != nil {
			return err
		}
	}
	return s.w.o.Emit(ctx, outs)
}

type tapDead struct {
	w    *WireTap
	next runner.FailureSink
}

func (s *tapDead) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	if s.next != nil {
		if err := s.next.EmitFailures(ctx, fs); err != nil {
			return err
		}
	}
	return s.w.d.EmitFailures(ctx, fs)
}

// wireLine renders a message whole, for comparison: id, key, metadata (sorted) and body; a
// dead-letter envelope without its transport attributes.
func wireLine(m *driver.Message, dead bool) string {
	body := string(m.Body)
	if dead {
		var env map[string]json.RawMessage
		if json.Unmarshal(m.Body, &env) == nil {
			delete(env, "attributes")
			b, _ := json.Marshal(env)
			body = string(b)
		}
	}
	return fmt.Sprintf("id=%s key=%q metadata=%v body=%s", m.ID, m.Key, m.Metadata, body)
}

func wireLines(ms []*driver.Message, dead, compact bool) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = wireLine(m, dead)
	}
	if compact {
		out = slices.Compact(slices.Sorted(slices.Values(out)))
	}
	return out
}

// compareWire checks a Wire harness's messages against the reference's.
func compareWire(t tester, ctx context.Context, w Wire, ref *reference, crashed bool, when string) {
	t.Helper()
	outs, dead, err := w.WireMessages(ctx)
	if err != nil {
		t.Fatalf("%s: read the wire messages: %v", when, err)
	}
	sameLines(t, when+": output messages", wireLines(outs, false, crashed), wireLines(ref.wire, false, false))
	// A dead letter may be written again by a batch retried after a crash: equal copies.
	sameLines(t, when+": dead-letter messages", wireLines(dead, true, crashed), wireLines(ref.wireDead, true, false))
}

// OutputJSON returns the output JSON a wire message's body carries (eddy's output contract,
// core.Output.AppendJSON): the body without its leading "eddy_id" member, which must equal the
// output's own "id". Harnesses whose Outputs read a transport use it.
func OutputJSON(body []byte) ([]byte, error) {
	var m struct {
		EddyID *string `json:"eddy_id"`
		ID     string  `json:"id"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("output %s: %w", body, err)
	}
	if m.EddyID == nil {
		return body, nil // a body without the wire id (an older sink)
	}
	if *m.EddyID != m.ID {
		return nil, fmt.Errorf("output %s: eddy_id %q is not its id %q", body, *m.EddyID, m.ID)
	}
	head := `{"eddy_id":` + strconv.Quote(*m.EddyID) + `,`
	if !strings.HasPrefix(string(body), head) {
		return nil, fmt.Errorf("output %s: eddy_id is not its first member", body)
	}
	return append([]byte{'{'}, body[len(head):]...), nil
}

// DeadLetterOf reads a dead-letter envelope (sink.DeadLetter's body) back into a DeadLetter.
func DeadLetterOf(body []byte) (DeadLetter, error) {
	var env struct {
		Type, Record, Field, Reason string
		Data                        []byte `json:"data_base64"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Type != sink.TypeDeadLetter {
		return DeadLetter{}, fmt.Errorf("dead letter %s: not the dead-letter envelope (%v)", body, err)
	}
	return DeadLetter{ID: env.Record, Field: env.Field, Reason: env.Reason, Data: env.Data}, nil
}
