package runner

import (
	"encoding/hex"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// TestOutboxRoundTrip: what the outbox re-emits after a crash is what the commit computed, field by
// field, so sinks give it the same ids and bytes.
func TestOutboxRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	vals := []core.NamedValue{{Name: "n", Num: 3}, {Name: "min", Num: math.NaN()}, {Name: "top", IsList: true, Items: []core.Item{{Value: "a", Count: 2}}}, {Name: "status", Raw: []byte(`"failed"`)}}
	outs := []core.Output{
		&core.WindowResult{Function: "f", Key: "k", Start: t0, End: t0.Add(time.Minute), Revision: 2, Final: true, Values: vals},
		&core.Decision{ID: "d1", Function: "f", Rule: "r", Key: "k", State: "firing", Severity: "page", Time: t0, Window: core.Span{Start: t0, End: t0.Add(time.Minute)}, Values: vals},
		&core.Late{Function: "f", Key: "k", Time: t0, Watermark: t0.Add(time.Hour), ID: "e1", Pos: core.Pos{Partition: "p", Offset: "7"}, Data: []byte(`{"a":1}`), Reason: "late"},
		&RawOutput{Kind: "custom", JSON: []byte(`{"x":1}`)},
		&core.WindowResult{Function: "f", Key: "k", Start: t0, End: t0.Add(time.Minute), Revision: 0, Early: true, Values: vals},
	}
	fs := []*core.Failure{{Record: core.Record{ID: "r1", Offset: "9", Key: "tk", Data: []byte{0xff, 'x'}, Time: t0, Attrs: map[string]string{"a": "b"}}, Field: "ts", Reason: "bad", Function: "f", Partition: "p"}}
	gotOuts, gotFs, err := readOutbox(appendOutbox(nil, outs, fs))
	if err != nil {
		t.Fatal(err)
	}
	for i := range outs {
		if a, b := string(outs[i].AppendJSON(nil)), string(gotOuts[i].AppendJSON(nil)); a != b || reflect.TypeOf(outs[i]) != reflect.TypeOf(gotOuts[i]) {
			t.Errorf("output %d: %T %s came back as %T %s", i, outs[i], a, gotOuts[i], b)
		}
	}
	if w := gotOuts[0].(*core.WindowResult); w.Revision != 2 || !w.Final || w.Early {
		t.Errorf("window result %+v", w)
	}
	// An early result re-emitted from the outbox still says "final":false.
	if w := gotOuts[4].(*core.WindowResult); !w.Early || w.Final {
		t.Errorf("early window result %+v", w)
	}
	if len(gotFs) != 1 || !reflect.DeepEqual(*gotFs[0], *fs[0]) {
		t.Errorf("failure %+v came back as %+v", fs[0], gotFs[0])
	}
	if _, _, err := readOutbox([]byte{5, 1}); err == nil {
		t.Error("a truncated outbox decoded")
	}
}

// TestOutboxSharedFields: outputs that share a function, a span or value names with the previous
// output of their kind come back with their own values (not the first output's), and a decision
// keeps its table versions, a non-hex id and an empty severity; the zero time and the Unix epoch
// stay apart (their ids differ).
func TestOutboxSharedFields(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	epoch := time.Unix(0, 0).UTC()
	w := func(fn, key string, start time.Time, rev int, vals ...core.NamedValue) *core.WindowResult {
		return &core.WindowResult{Function: fn, Key: key, Start: start, End: start.Add(time.Second), Revision: rev, Values: vals}
	}
	n := func(name string, v float64) core.NamedValue { return core.NamedValue{Name: name, Num: v} }
	outs := []core.Output{
		w("f", "a", t0, 0, n("count", 3), n("avg", 81.5), n("max", math.Copysign(0, -1))),
		w("f", "b", t0, 1, n("count", 1<<53), n("avg", -7), n("max", math.Inf(1))),
		&core.Decision{ID: "0123456789abcdef0123456789abcdef", Function: "f", Rule: "hot", Key: "a", State: "firing", Severity: "warning", Time: t0.Add(time.Second),
			Window: core.Span{Start: t0, End: t0.Add(time.Second)}, Values: []core.NamedValue{n("avg", 81.5)}, Ref: []core.TableVersion{{Table: "limits", Version: "sha256:9b8d"}}},
		w("f", "c", t0.Add(time.Second), 0, n("count", 2), n("avg", 1e300), n("max", 0.1)),
		w("g", "c", t0.Add(time.Second), 0, n("sum", 2)),
		w("g", "d", epoch, 0),
		&core.WindowResult{Function: "g", Key: "e"},
		&core.Decision{ID: "not-hex", Function: "f", Rule: "hot", Key: "b", State: "resolved", Time: t0.Add(2 * time.Second),
			Window: core.Span{Start: t0, End: t0.Add(time.Second)}, Values: []core.NamedValue{n("avg", 40)}},
		&core.Decision{ID: "0123456789ABCDEF0123456789ABCDEF", Function: "f", Rule: "cold", Key: "b", State: "resolved", Time: epoch},
	}
	got, _, err := readOutbox(appendOutbox(nil, outs, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(outs) {
		t.Fatalf("%d outputs came back as %d", len(outs), len(got))
	}
	for i := range outs {
		a, b := string(outs[i].AppendJSON(nil)), string(got[i].AppendJSON(nil))
		if a != b || core.OutputID(outs[i]) != core.OutputID(got[i]) {
			t.Errorf("output %d: %s came back as %s", i, a, b)
		}
	}
	if v := got[0].(*core.WindowResult).Values[2].Num; v != 0 || !math.Signbit(v) {
		t.Errorf("negative zero came back as %v", v)
	}
	if d := got[2].(*core.Decision); len(d.Ref) != 1 || d.Ref[0].Version != "sha256:9b8d" {
		t.Errorf("decision's table versions: %+v", d.Ref)
	}
	if !got[5].(*core.WindowResult).Start.Equal(epoch) || !got[6].(*core.WindowResult).Start.IsZero() {
		t.Errorf("epoch and zero time: %v %v", got[5].(*core.WindowResult).Start, got[6].(*core.WindowResult).Start)
	}
}

// TestOutboxSize: a batch's window results of one window and one set of aggregates cost their key,
// revision and numbers, not their function, span and value names again.
func TestOutboxSize(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	const n = 1000
	outs := make([]core.Output, n)
	for i := range outs {
		outs[i] = &core.WindowResult{Function: "hot-sensors", Key: "sensor-" + strconv.Itoa(1000+i), Start: t0, End: t0.Add(time.Second),
			Values: []core.NamedValue{{Name: "count", Num: 3}, {Name: "avg", Num: 81.5 + float64(i)/7}, {Name: "max", Num: 84.25}}}
	}
	b := appendOutbox(nil, outs, nil)
	legacy := legacyAppendOutbox(nil, outs, nil)
	t.Logf("%d window results: %d bytes (format 2: %d)", n, len(b), len(legacy))
	if per := len(b) / n; per > 35 {
		t.Errorf("%d bytes per window result, want at most 35 (key 12, revision 1, values 20, kind and flags 2)", per)
	}
}

// TestLegacyOutbox: an envelope of format version 2 whose outbox a crash left unemitted is read by
// this release, which re-emits the same outputs (same JSON, same ids).
func TestLegacyOutbox(t *testing.T) {
	// Written by the release that wrote format version 2: a window result, a decision, a failure.
	const golden = "02023432a09494caca3300ac0102010166016b8080ecb8a6bbfbee3180e0a6bde5befbee31020002016e000000000000084000000003617667000000000000044000000002203031323334353637383961626364656630313233343536373839616263646566016603686f74016b06666972696e67047061676580e0a6bde5befbee318080ecb8a6bbfbee3180e0a6bde5befbee31010361766700000000000004400000000102723101390001780274730362616400000000613d350a"
	b, _ := hex.DecodeString(golden)
	var env Envelope
	if err := env.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	outs, fs, err := readOutbox(env.Outbox)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"type":"window","id":"` + core.OutputID(outs[0]) + `","function":"f","key":"k","start":"2026-12-07T12:00:00.000Z","end":"2026-12-07T12:01:00.000Z","revision":1,"values":{"n":3,"avg":2.5}}`,
		`{"type":"decision","id":"0123456789abcdef0123456789abcdef","function":"f","rule":"hot","key":"k","state":"firing","severity":"page","time":"2026-12-07T12:01:00.000Z","window":{"start":"2026-12-07T12:00:00.000Z","end":"2026-12-07T12:01:00.000Z"},"values":{"avg":2.5}}`,
	}
	if len(outs) != 2 || string(outs[0].AppendJSON(nil)) != want[0] || string(outs[1].AppendJSON(nil)) != want[1] {
		t.Fatalf("outputs %v", outs)
	}
	if core.OutputID(outs[0]) != core.DecisionID("f", "window", "k", core.Span{Start: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 7, 12, 1, 0, 0, time.UTC)}, "window", 1) {
		t.Errorf("window id %s", core.OutputID(outs[0]))
	}
	if len(fs) != 1 || fs[0].Record.ID != "r1" || fs[0].Field != "ts" || fs[0].Reason != "bad" || string(fs[0].Record.Data) != "x" {
		t.Fatalf("failures %+v", fs)
	}
	if string(env.Snapshot) != "a=5\n" || env.Offset != "42" {
		t.Fatalf("envelope %+v", env)
	}
	// Re-encoded, it is a version 3 envelope with the same outputs.
	var again Envelope
	if err := again.Unmarshal(env.Marshal()); err != nil {
		t.Fatal(err)
	}
	outs2, _, err := readOutbox(again.Outbox)
	if err != nil || len(outs2) != 2 || string(outs2[1].AppendJSON(nil)) != want[1] {
		t.Fatalf("re-encoded: %v %v", err, outs2)
	}
}

// FuzzOutbox: any bytes decode to outputs or an error, never a panic, and what decodes re-encodes
// to outputs with the same JSON.
func FuzzOutbox(f *testing.F) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	vals := []core.NamedValue{{Name: "n", Num: 3}, {Name: "top", IsList: true, Items: []core.Item{{Value: "a", Count: 2}}}, {Name: "s", Raw: []byte(`"x"`)}}
	f.Add(appendOutbox(nil, []core.Output{
		&core.WindowResult{Function: "f", Key: "k", Start: t0, End: t0.Add(time.Minute), Values: vals},
		&core.WindowResult{Function: "f", Key: "j", Start: t0, End: t0.Add(time.Minute), Values: vals},
		&core.Decision{ID: "0123456789abcdef0123456789abcdef", Function: "f", Rule: "r", Key: "k", Values: vals, Ref: []core.TableVersion{{Table: "t", Version: "1"}}},
		&core.Decision{ID: "x", Function: "f", Rule: "r", Key: "k", Values: vals},
		&core.Late{Function: "f", Key: "k", Data: []byte(`{}`)},
		&RawOutput{Kind: "c", JSON: []byte(`{}`)},
	}, []*core.Failure{{Record: core.Record{ID: "r", Attrs: map[string]string{"a": "b"}}}}))
	f.Add([]byte{1, kindWindow, wSameNames})
	f.Add([]byte{1, kindDecision, dSameSpan})
	f.Fuzz(func(t *testing.T, b []byte) {
		outs, fs, err := readOutbox(b)
		if err != nil {
			return
		}
		again, fs2, err := readOutbox(appendOutbox(nil, outs, fs))
		if err != nil || len(again) != len(outs) || len(fs2) != len(fs) {
			t.Fatalf("re-encoded outbox: %v, %d outputs for %d", err, len(again), len(outs))
		}
		for i := range outs {
			if a, b := string(outs[i].AppendJSON(nil)), string(again[i].AppendJSON(nil)); a != b {
				t.Fatalf("output %d: %s re-encoded as %s", i, a, b)
			}
		}
	})
}
