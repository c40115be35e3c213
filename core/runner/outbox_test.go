package runner

import (
	"math"
	"reflect"
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
