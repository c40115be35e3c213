//go:build unix

package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/adapters/aws/internal/testfn/fn"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/examples/bench"
	"github.com/eddyhq/eddy/internal/standin"
)

// windowPoller is a local event source mapping with a tumbling window, behaving like Lambda's
// (clouds.md §1.3) per shard:
//
//   - each record belongs to the window its arrival time falls in, windows aligned on the epoch
//     (TumblingWindowInSeconds); a batch never mixes windows;
//   - the state the function returns goes into the next invocation of the same window; a response
//     without state counts as a failed invocation;
//   - when the records of a later window come (or the stream ends), the window gets a final
//     invocation with no records and isFinalInvokeForWindow, retried until it succeeds; the
//     state is dropped after it;
//   - when the returned state is larger than stateLimit (Lambda: 1 MB per shard), the window is
//     ended early: the same batch is invoked again, from the state that went into it, with
//     isWindowTerminatedEarly, and the window goes on with empty state;
//   - a function error retries the same batch with the same state; a partial failure
//     (batchItemFailures) retries from the lowest failed sequence number with the returned state.
//
// clouds.md names only the state size as a cause of an early end, so that is the only one here.
type windowPoller struct {
	t          testing.TB
	kc         *kinesis.Client
	stream     string
	arn        string
	batchSize  int
	size       time.Duration
	stateLimit int
	fn         *emulator
	// killAfter kills the environment while the n-th invocation runs (0: never).
	killAfter int

	invokes, errors, finals, cuts, partial, maxState int
	// segments are the runs of records between empty states, for the reference.
	segments []segment
}

// segment is the records one state saw, from empty state to a final invocation or a cut.
type segment struct {
	shard string
	recs  []ktypes.Record
	// cut is the last sequence number applied when the window was ended early ("" for a final).
	cut string
}

func (p *windowPoller) windowOf(r ktypes.Record) time.Time {
	ns := r.ApproximateArrivalTimestamp.UnixNano()
	return time.Unix(0, ns-ns%int64(p.size)).UTC()
}

// readShard reads a shard's records with GetRecords, batchSize at a time, as the mapping polls.
func (p *windowPoller) readShard(ctx context.Context, shard string) []ktypes.Record {
	it, err := p.kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &p.stream, ShardId: &shard, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		p.t.Fatal(err)
	}
	limit := int32(p.batchSize)
	var recs []ktypes.Record
	for iter := it.ShardIterator; iter != nil; {
		out, err := p.kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: &limit})
		if err != nil {
			p.t.Fatal(err)
		}
		recs = append(recs, out.Records...)
		if len(out.Records) == 0 && out.MillisBehindLatest != nil && *out.MillisBehindLatest == 0 {
			break
		}
		iter = out.NextShardIterator
	}
	return recs
}

func (p *windowPoller) event(shard string, recs []ktypes.Record, win time.Time, state map[string]string, final, early bool) []byte {
	ev := events.KinesisTimeWindowEvent{KinesisEvent: kinesisEvent(shard, p.arn, recs)}
	if ev.Records == nil {
		ev.Records = []events.KinesisEventRecord{}
	}
	ev.Window.Start.Time, ev.Window.End.Time = win, win.Add(p.size)
	ev.State, ev.ShardID, ev.EventSourceARN = state, shard, p.arn
	ev.IsFinalInvokeForWindow, ev.IsWindowTerminatedEarly = final, early
	b, err := json.Marshal(ev)
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

// invoke runs one invocation until it succeeds (a new environment after each failure, as Lambda
// would after a crash) and returns the response.
func (p *windowPoller) invoke(payload []byte) events.KinesisTimeWindowEventResponse {
	p.t.Helper()
	for attempts := 1; ; attempts++ {
		p.invokes++
		var body []byte
		var ok bool
		if p.killAfter > 0 && p.invokes == p.killAfter {
			killed := make(chan struct{})
			go func() { time.Sleep(5 * time.Millisecond); p.fn.kill(); close(killed) }()
			body, _ = p.fn.invoke(payload)
			<-killed
			p.fn.start()
			p.fn.restarts++
			ok = false
		} else {
			body, ok = p.fn.invoke(payload)
		}
		var resp events.KinesisTimeWindowEventResponse
		if ok && json.Unmarshal(body, &resp) == nil && resp.State != nil {
			return resp
		}
		// A failed invocation, or one without state (Lambda counts that as failed).
		p.errors++
		if attempts >= 5 {
			p.t.Fatalf("invocation failed %d times; last answer %s\nfunction log:\n%s", attempts, body, p.fn.output())
		}
		p.fn.restart()
	}
}

func stateSize(m map[string]string) int {
	b, _ := json.Marshal(m)
	return len(b)
}

func (p *windowPoller) drainShard(ctx context.Context, shard string) {
	p.t.Helper()
	recs := p.readShard(ctx, shard)
	seg := segment{shard: shard}
	var win time.Time
	state := map[string]string{}
	final := func() {
		p.invoke(p.event(shard, nil, win, state, true, false))
		p.finals++
		p.segments = append(p.segments, seg)
		seg, state = segment{shard: shard}, map[string]string{}
	}
	for i := 0; i < len(recs); {
		if w := p.windowOf(recs[i]); !w.Equal(win) {
			if !win.IsZero() {
				final()
			}
			win = w
		}
		j := i + 1
		for j < len(recs) && j-i < p.batchSize && p.windowOf(recs[j]).Equal(win) {
			j++
		}
		batch := recs[i:j]
		resp := p.invoke(p.event(shard, batch, win, state, false, false))
		p.maxState = max(p.maxState, stateSize(resp.State))
		if stateSize(resp.State) > p.stateLimit {
			// Lambda cannot keep this state: the window ends early on this batch.
			cresp := p.invoke(p.event(shard, batch, win, state, false, true))
			if len(cresp.BatchItemFailures) != 0 || len(cresp.State) != 0 {
				p.t.Fatalf("the invocation ending the window early answered %+v: want empty state, no failures", cresp)
			}
			p.cuts++
			seg.recs = append(seg.recs, batch...)
			seg.cut = *batch[len(batch)-1].SequenceNumber
			p.segments = append(p.segments, seg)
			seg, state = segment{shard: shard}, map[string]string{}
			i = j
			continue
		}
		state = resp.State
		low, err := aws.Checkpoint(events.KinesisEventResponse{BatchItemFailures: resp.BatchItemFailures})
		if err != nil {
			p.t.Fatal(err)
		}
		next := j
		if low != "" {
			p.partial++
			next = slices.IndexFunc(batch, func(r ktypes.Record) bool { return *r.SequenceNumber == low })
			if next < 0 {
				p.t.Fatalf("batchItemFailures names %s, not in the batch", low)
			}
			// The retry starts at the failed record with the returned state, which holds the
			// runner's checkpoint past it.
			next += i
		}
		seg.recs = append(seg.recs, recs[i:next]...)
		i = next
	}
	if !win.IsZero() {
		final()
	}
}

// reference computes what the function must emit: per segment, a fresh processor (Lambda's empty
// state) over the segment's records, flushed at its end; the decisions of a segment cut early
// named after the cut.
func (p *windowPoller) reference(t *testing.T) (outs []string, dead map[string]bool, cutDecisions int) {
	t.Helper()
	ctx := context.Background()
	newProc, err := fn.NewArrival()
	if err != nil {
		t.Fatal(err)
	}
	dead = map[string]bool{}
	for _, s := range p.segments {
		// Records of a partial retry appear once per segment: keep each sequence number once.
		var recs []ktypes.Record
		seen := map[string]bool{}
		for _, r := range s.recs {
			if !seen[*r.SequenceNumber] {
				seen[*r.SequenceNumber] = true
				recs = append(recs, r)
			}
		}
		ev := kinesisEvent(s.shard, p.arn, recs)
		b, err := aws.Batch(&ev, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		proc, err := newProc(s.shard)
		if err != nil {
			t.Fatal(err)
		}
		if err := proc.Restore(nil); err != nil {
			t.Fatal(err)
		}
		res, err := proc.Process(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Failures {
			dead[f.Record.ID] = true
		}
		all := res.Outputs
		if _, err := proc.(aws.Flusher).Flush(ctx, func(o core.Output) { all = append(all, core.CloneOutput(o)) }); err != nil {
			t.Fatal(err)
		}
		for _, o := range all {
			if d, ok := o.(*core.Decision); ok && s.cut != "" {
				c := *d
				c.ID = aws.SegmentDecisionID(d.ID, "cut@"+s.cut)
				o = &c
				cutDecisions++
			}
			outs = append(outs, string(o.AppendJSON(nil)))
		}
	}
	return outs, dead, cutDecisions
}

// TestLambdaWindowStateEndToEnd runs the real bootstrap with its state in Lambda's tumbling window
// (EDDY_WINDOW_STATE=lambda, no store) under the RIE, fed by a poller that behaves like Lambda's
// tumbling-window mapping, with windows ended early by a state limit, poison records, a crash
// between emit and commit and a killed environment. The outputs read back from kinesalite equal
// the reference exactly, and no decision id stands for two contents.
func TestLambdaWindowStateEndToEnd(t *testing.T) {
	ctx := context.Background()
	kep := standin.Kinesalite(t)
	rie := ensureRIE(t)
	boot := buildBootstrap(t)
	dir := t.TempDir()
	kc := kinesisClient(kep)
	createStream(t, kc, "in", 2)
	createStream(t, kc, "out", 1)
	createStream(t, kc, "dead", 1)

	// Records arrive in bursts over about 3 s, so they fall into several 1 s Lambda windows.
	evs := bench.Generate(11, 1800, 40)
	var poison []string
	for burst := 0; burst < 9; burst++ {
		var entries []ktypes.PutRecordsRequestEntry
		if burst%2 == 1 || burst == 8 {
			// First in the burst, where the window's state is small: reported, not cut away.
			entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: awssdk.String("sensor-0001"), Data: []byte("not json " + strconv.Itoa(burst))})
		}
		for _, e := range evs[burst*200 : (burst+1)*200] {
			entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: awssdk.String(e.Key), Data: e.AppendJSON(nil)})
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: awssdk.String("in"), Records: entries})
		if err != nil || *out.FailedRecordCount != 0 {
			t.Fatalf("put: %v", err)
		}
		for i, r := range out.Records {
			if bytes.HasPrefix(entries[i].Data, []byte("not json")) {
				poison = append(poison, *r.SequenceNumber)
			}
		}
		time.Sleep(350 * time.Millisecond)
	}

	endpoint := url.QueryEscape(kep)
	em := &emulator{t: t, rie: rie, boot: boot, env: []string{
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=us-east-1",
		"EDDY_FUNCTION=" + fn.Name, "EDDY_WINDOW_STATE=lambda", "EDDY_TEST_TIME=arrival",
		"EDDY_OUTPUT_URL=kinesis://out?region=us-east-1&endpoint=" + endpoint,
		"EDDY_DEADLETTER_URL=kinesis://dead?region=us-east-1&endpoint=" + endpoint,
		"EDDY_TEST_CRASH_AFTER_EMITS=3", "EDDY_TEST_CRASH_MARKER=" + filepath.Join(dir, "crashed"),
	}}
	em.start()
	t.Cleanup(em.kill)
	p := &windowPoller{t: t, kc: kc, stream: "in", arn: "arn:aws:kinesis:us-east-1:000000000000:stream/in",
		batchSize: 40, size: time.Second, stateLimit: 2000, fn: em, killAfter: 9}
	t0 := time.Now()
	for _, sh := range shards(t, kc, "in") {
		p.drainShard(ctx, sh)
	}
	t.Logf("shards drained in %v: %d invocations (%d failed), %d final, %d ended early, %d partial failures; largest state %d bytes",
		time.Since(t0), p.invokes, p.errors, p.finals, p.cuts, p.partial, p.maxState)
	if _, err := os.Stat(filepath.Join(dir, "crashed")); err != nil {
		t.Fatalf("the function never crashed between emit and commit: %v", err)
	}
	if p.finals < 4 || p.cuts < 2 || p.errors < 2 || p.partial < 1 {
		t.Fatalf("%d final invocations, %d early ends, %d failed invocations, %d partial failures: the run did not exercise the mapping", p.finals, p.cuts, p.errors, p.partial)
	}

	want, wantDead, cutDecisions := p.reference(t)
	var got []string
	for _, recs := range readAll(t, kc, "out") {
		for _, r := range recs {
			got = append(got, wireOutput(t, r.Data))
		}
	}
	oneIDOneContent(t, got)
	oneIDOneContent(t, want)
	total := len(got)
	got = slices.Compact(slices.Sorted(slices.Values(got)))
	// Two parts of a window may emit equal window results (no id; equal content is one output).
	exp := slices.Compact(slices.Sorted(slices.Values(want)))
	if !slices.Equal(got, exp) {
		missing, extra := diff(exp, got)
		t.Fatalf("outputs differ from the reference: %d missing, %d extra (of %d)\nmissing: %.3v\nextra: %.3v", len(missing), len(extra), len(exp), missing, extra)
	}
	decisions := 0
	for _, o := range exp {
		if strings.HasPrefix(o, `{"type":"decision"`) {
			decisions++
		}
	}
	if decisions < 5 || cutDecisions < 1 {
		t.Fatalf("%d decisions, %d of them from windows cut early: the function is too quiet to test anything", decisions, cutDecisions)
	}
	t.Logf("%d outputs (%d decisions, %d from windows cut early), %d duplicates, %d segments", len(exp), decisions, cutDecisions, total-len(got), len(p.segments))

	dead := map[string]bool{}
	for _, recs := range readAll(t, kc, "dead") {
		for _, r := range recs {
			var f struct{ Type, Record string }
			if err := json.Unmarshal(r.Data, &f); err != nil || f.Type != "deadletter" {
				t.Fatalf("dead letter %s: not the dead-letter envelope (%v)", r.Data, err)
			}
			dead[f.Record] = true
		}
	}
	if len(dead) != len(poison) || len(wantDead) != len(poison) {
		t.Fatalf("dead letters %v (reference %v), want the poison records %v", dead, wantDead, poison)
	}
	for _, s := range poison {
		if !dead[s] || !wantDead[s] {
			t.Fatalf("poison record %s not dead-lettered: %v", s, dead)
		}
	}
}
