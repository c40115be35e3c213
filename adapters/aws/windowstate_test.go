package aws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/adapters/aws/internal/testfn/fn"
	"github.com/eddyhq/eddy/core"
)

const sampleShard = "shardId-000000000006"

// sampleSeq is the n-th sequence number after the sample event's records.
func sampleSeq(n int) string {
	v, _ := new(big.Int).SetString("49590338271490256608559692538361571095921575989136588900", 10)
	return v.Add(v, big.NewInt(int64(n))).String()
}

// windowEvent is a tumbling-window invocation of the sample's shard and window with the given
// records (JSON data; "poison" is not JSON) numbered from seq.
func windowEvent(t testing.TB, state map[string]string, seq int, final, early bool, data ...string) events.KinesisTimeWindowEvent {
	t.Helper()
	var ev events.KinesisTimeWindowEvent
	if err := json.Unmarshal(readFile(t, "testdata/aws-kinesis-time-window-event.json"), &ev); err != nil {
		t.Fatal(err)
	}
	tmpl := ev.Records[0]
	ev.Records = []events.KinesisEventRecord{}
	for i, d := range data {
		r := tmpl
		r.Kinesis.SequenceNumber = sampleSeq(seq + i)
		r.EventID = sampleShard + ":" + r.Kinesis.SequenceNumber
		r.Kinesis.Data = []byte(d)
		r.Kinesis.ApproximateArrivalTimestamp.Time = ev.Window.Start.Add(10 * time.Second)
		ev.Records = append(ev.Records, r)
	}
	ev.State = state
	ev.IsFinalInvokeForWindow, ev.IsWindowTerminatedEarly = final, early
	return ev
}

func reading(key string, ts time.Time, v float64) string {
	return fmt.Sprintf(`{"key":%q,"ts":%d,"value":%g}`, key, ts.UnixMilli(), v)
}

// decisions returns the decisions among the captured outputs, from index from on.
func decisions(t testing.TB, c *capture, from int) []map[string]any {
	t.Helper()
	var ds []map[string]any
	for _, o := range c.outs[from:] {
		var m map[string]any
		if err := json.Unmarshal([]byte(o), &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == "decision" {
			ds = append(ds, m)
		}
	}
	return ds
}

// oneIDOneContent fails when an id was emitted with two different payloads.
func oneIDOneContent(t testing.TB, outs []string) {
	t.Helper()
	byID := map[string]string{}
	for _, o := range outs {
		var m struct{ Type, ID string }
		if err := json.Unmarshal([]byte(o), &m); err != nil {
			t.Fatal(err)
		}
		if m.Type != "decision" {
			continue
		}
		if prev, ok := byID[m.ID]; ok && prev != o {
			t.Fatalf("decision id %s emitted for two contents:\n%s\n%s", m.ID, prev, o)
		}
		byID[m.ID] = o
	}
}

// Lambda ends the sample's window early (isWindowTerminatedEarly, as when the state outgrows 1 MB)
// and continues it with empty state. The cut emits the function's windows so far, its decisions
// named after the cut; the rest of the window emits the same function window again, from the
// records after the cut, under the rule's own id: one id never stands for two contents, and a
// retried cut repeats itself exactly.
func TestWindowTerminatedEarly(t *testing.T) {
	ctx := context.Background()
	h, c := newHandler(t, true)
	w0 := time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC) // the sample's first function window
	// The sample: sensor-0001 at 81.5 in [16:00:00, 16:00:01), sensor-0002, sensor-0001 in the next.
	var sample events.KinesisTimeWindowEvent
	if err := json.Unmarshal(readFile(t, "testdata/aws-kinesis-time-window-event.json"), &sample); err != nil {
		t.Fatal(err)
	}
	resp, err := h.HandleTimeWindow(ctx, sample)
	if err != nil || len(resp.State) != 1 || len(c.outs) != 0 {
		t.Fatalf("sample: %+v %v, outputs %v", resp, err, c.outs)
	}
	// Two more hot readings of sensor-0001 in its first window, and a poison record; then Lambda
	// cuts the window on this invocation.
	cut := windowEvent(t, resp.State, 1, false, true,
		reading("sensor-0001", w0.Add(400*time.Millisecond), 70), reading("sensor-0001", w0.Add(500*time.Millisecond), 60), "poison")
	cutResp, err := h.HandleTimeWindow(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(cutResp.State) != 0 || cutResp.State == nil || len(cutResp.BatchItemFailures) != 0 {
		t.Fatalf("cut response %+v: want an empty (non-nil) state and no failures to retry from (the poison record is dead-lettered)", cutResp)
	}
	if len(c.failures) != 1 || c.failures[0].Record.Offset != sampleSeq(3) {
		t.Fatalf("dead letters %+v, want the poison record %s", c.failures, sampleSeq(3))
	}
	firstCut := len(c.outs)
	cutDecisions := decisions(t, c, 0)
	normal := core.DecisionID(fn.Name, "hot", "sensor-0001", core.Span{Start: w0, End: w0.Add(time.Second)}, "firing", 0)
	wantCut := aws.SegmentDecisionID(normal, "cut@"+sampleSeq(3))
	if len(cutDecisions) != 1 || cutDecisions[0]["id"] != wantCut || cutDecisions[0]["state"] != "firing" {
		t.Fatalf("cut decisions %v, want sensor-0001 firing under id %s", cutDecisions, wantCut)
	}
	if v := cutDecisions[0]["values"].(map[string]any); v["count"] != 3.0 || v["avg"] != (81.5+70+60)/3 {
		t.Fatalf("cut decision values %v: want the three readings before the cut", v)
	}
	// Lambda retries a failed cut with the same state and records: the same outputs, same ids.
	if _, err := h.HandleTimeWindow(ctx, cut); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.outs[firstCut:], "\n"), strings.Join(c.outs[:firstCut], "\n"); got != want {
		t.Fatalf("the retried cut emitted\n%s\nwant the same as the first time\n%s", got, want)
	}

	// The rest of the window, from empty state: three hotter readings of the same function window.
	rest := windowEvent(t, cutResp.State, 10, false, false,
		reading("sensor-0001", w0.Add(600*time.Millisecond), 95), reading("sensor-0001", w0.Add(700*time.Millisecond), 96),
		reading("sensor-0001", w0.Add(800*time.Millisecond), 97))
	restResp, err := h.HandleTimeWindow(ctx, rest)
	if err != nil {
		t.Fatal(err)
	}
	beforeFinal := len(c.outs)
	if _, err := h.HandleTimeWindow(ctx, windowEvent(t, restResp.State, 20, true, false)); err != nil {
		t.Fatal(err)
	}
	finalDecisions := decisions(t, c, beforeFinal)
	if len(finalDecisions) != 1 || finalDecisions[0]["id"] != normal {
		t.Fatalf("final decisions %v, want sensor-0001 firing under the rule's id %s", finalDecisions, normal)
	}
	if v := finalDecisions[0]["values"].(map[string]any); v["count"] != 3.0 || v["avg"] != 96.0 {
		t.Fatalf("final decision values %v: want the three readings after the cut", v)
	}
	oneIDOneContent(t, c.outs)
}

// A cut invocation without records names the cut after the last sequence number applied before it.
func TestWindowTerminatedEarlyNoRecords(t *testing.T) {
	ctx := context.Background()
	h, c := newHandler(t, true)
	w0 := time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC)
	resp, err := h.HandleTimeWindow(ctx, windowEvent(t, map[string]string{}, 1, false, false,
		reading("k", w0, 60), reading("k", w0.Add(time.Millisecond), 61), reading("k", w0.Add(2*time.Millisecond), 62)))
	if err != nil {
		t.Fatal(err)
	}
	cut := windowEvent(t, resp.State, 0, false, true)
	cut.Records = nil // a cut may come without records
	if _, err := h.HandleTimeWindow(ctx, cut); err != nil {
		t.Fatal(err)
	}
	ds := decisions(t, c, 0)
	normal := core.DecisionID(fn.Name, "hot", "k", core.Span{Start: w0, End: w0.Add(time.Second)}, "firing", 0)
	if len(ds) != 1 || ds[0]["id"] != aws.SegmentDecisionID(normal, "cut@"+sampleSeq(3)) {
		t.Fatalf("decisions %v, want one named after the cut at %s", ds, sampleSeq(3))
	}
}

// A function window that began before Lambda's window (event time behind arrival time) was
// flushed with the previous Lambda window; reopened from empty state, its decisions are named
// after the Lambda window that reopened it.
func TestWindowReopenedByLaterLambdaWindow(t *testing.T) {
	ctx := context.Background()
	h, c := newHandler(t, true)
	w0 := time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC)
	first := windowEvent(t, map[string]string{}, 1, false, false,
		reading("k", w0.Add(100*time.Millisecond), 60), reading("k", w0.Add(200*time.Millisecond), 61), reading("k", w0.Add(300*time.Millisecond), 62))
	resp, err := h.HandleTimeWindow(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.HandleTimeWindow(ctx, windowEvent(t, resp.State, 5, true, false)); err != nil {
		t.Fatal(err)
	}
	// The next Lambda window: readings that arrived late for the function window [w0, w0+1s).
	next := windowEvent(t, map[string]string{}, 6, false, false,
		reading("k", w0.Add(400*time.Millisecond), 70), reading("k", w0.Add(500*time.Millisecond), 71), reading("k", w0.Add(600*time.Millisecond), 72))
	next.Window.Start.Time, next.Window.End.Time = next.Window.End.Time, next.Window.End.Add(time.Minute)
	for i := range next.Records {
		next.Records[i].Kinesis.ApproximateArrivalTimestamp.Time = next.Window.Start.Add(time.Second)
	}
	resp, err = h.HandleTimeWindow(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	final := windowEvent(t, resp.State, 20, true, false)
	final.Window = next.Window
	if _, err := h.HandleTimeWindow(ctx, final); err != nil {
		t.Fatal(err)
	}
	ds := decisions(t, c, 0)
	normal := core.DecisionID(fn.Name, "hot", "k", core.Span{Start: w0, End: w0.Add(time.Second)}, "firing", 0)
	reopened := aws.SegmentDecisionID(normal, "reopened@"+next.Window.Start.UTC().Format(time.RFC3339Nano))
	if len(ds) != 2 || ds[0]["id"] != normal || ds[1]["id"] != reopened {
		t.Fatalf("decisions %v, want firing under %s (first Lambda window) and under %s (reopened)", ds, normal, reopened)
	}
	oneIDOneContent(t, c.outs)
}

func ExampleSegmentDecisionID() {
	w := core.Span{Start: time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC), End: time.Date(2025, 11, 25, 16, 1, 0, 0, time.UTC)}
	id := core.DecisionID("hot-sensors", "hot", "sensor-0001", w, "firing", 0)
	// The decision emitted when Lambda ended the window early after sequence number 4959...
	cut := aws.SegmentDecisionID(id, "cut@49590338271490256608559692538361571095921575989136588900")
	fmt.Println(len(cut), cut != id)
	// Output: 32 true
}

// FuzzWindowState feeds Lambda window state the function did not write (or that was damaged) to
// a window-state handler: it must answer with an error or a response, never panic, and return
// other tools' keys as they came (nothing else but its own).
func FuzzWindowState(f *testing.F) {
	f.Add("eddy:hot-sensors/shardId-000000000006", "AQAAAA==", false, false)
	f.Add("eddy:hot-sensors/shardId-000000000006", "not base64", true, false)
	f.Add("eddy:hot-sensors/shardId-000000000006", "AXsiIjox", false, true)
	f.Add("other-tool", "1", false, false)
	h, _ := newHandler(f, true)
	f.Fuzz(func(t *testing.T, key, value string, final, early bool) {
		ev := windowEvent(t, map[string]string{key: value}, 1, final, early, reading("k", time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC), 1))
		resp, err := h.HandleTimeWindow(context.Background(), ev)
		if err != nil {
			return
		}
		if resp.State == nil {
			t.Fatal("a response without state (Lambda counts it as failed)")
		}
		for k, v := range resp.State {
			if !strings.HasPrefix(k, "eddy:") && (k != key || v != value) {
				t.Fatalf("state key %q = %q in the answer, not one it was given", k, v)
			}
		}
		if !strings.HasPrefix(key, "eddy:") && !final && !early && resp.State[key] != value {
			t.Fatalf("state key %q dropped from the answer %v", key, resp.State)
		}
	})
}

// Keys of Lambda's window state that eddy did not write (another tool's) come back in every
// response as they came: Lambda keeps only what the response returns, and they used to be dropped.
func TestWindowStateKeepsOtherKeys(t *testing.T) {
	h, _ := newHandler(t, true)
	start := time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC)
	state := map[string]string{"tracer:span": "abc", "count": "7"}
	for seq, final := range []bool{false, false} {
		ev := windowEvent(t, state, seq*10, final, false, reading("sensor-0001", start.Add(time.Duration(seq)*time.Second), 50))
		resp, err := h.HandleTimeWindow(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if resp.State["tracer:span"] != "abc" || resp.State["count"] != "7" {
			t.Fatalf("invocation %d: state %v lost the keys eddy did not write", seq, resp.State)
		}
		eddyKeys := 0
		for k := range resp.State {
			if strings.HasPrefix(k, "eddy:") {
				eddyKeys++
			}
		}
		if eddyKeys == 0 {
			t.Fatalf("invocation %d: state %v has none of eddy's keys", seq, resp.State)
		}
		state = resp.State
	}
}
