package pipeline_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/internal/aggregate"
	"github.com/eddyhq/eddy/internal/pattern"
	"github.com/eddyhq/eddy/internal/pipeline"
	"github.com/eddyhq/eddy/internal/window"
)

// build makes a function with windows, a threshold, an anomaly detector and a pattern.
func build(t testing.TB, tm window.Time) *pipeline.Pipeline {
	t.Helper()
	b, err := pipeline.New(pipeline.Config{
		Function: "f",
		Window:   window.Spec{Kind: window.Sliding, Size: 10 * time.Second, Slide: 5 * time.Second},
		Time:     tm,
		Aggregates: []aggregate.Spec{
			{Name: "n", Op: aggregate.Count}, {Name: "avg", Op: aggregate.Avg, Field: "value"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "n"}, {Name: "avg"}},
		Thresholds: []rule.Threshold{{Name: "high", Condition: "avg > 60.0", Clear: "avg < 40.0", ForWindows: 2}},
		Anomalies:  []rule.Anomaly{{Name: "jump", Aggregate: "avg", Method: rule.EWMA, Alpha: 0.3, Threshold: 3, Warmup: 4}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Decide(rules.NewEngine())
	pat, err := pattern.Compile(pattern.Config{
		Name: "hot-then-cold", Function: "f",
		Steps:  []pattern.Step{{Name: "hot", Where: "value > 90.0", Times: 2}, {Name: "cold", Where: "value < 10.0"}},
		Within: 20 * time.Second,
	}, b.Fields())
	if err != nil {
		t.Fatal(err)
	}
	b.Match(pat.NewMatcher())
	p, err := b.Build(func(paths []string) (pipeline.Decoder, error) {
		return codec.New(codec.Config{Paths: paths, Key: "key", Time: "ts", TimeFormat: "unix_ms"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func records(r *rand.Rand, n int) []core.Record {
	var recs []core.Record
	ts := int64(1_700_000_000_000)
	for i := 0; i < n; i++ {
		ts += r.Int64N(700)
		t := ts - r.Int64N(1500)
		if r.IntN(30) == 0 {
			t -= 20000 // late
		}
		data := fmt.Sprintf(`{"key":"k%d","ts":%d,"value":%d}`, r.IntN(3), t, r.IntN(101))
		if r.IntN(40) == 0 {
			data = `{"key":"k1","ts":` // undecodable
		}
		id := strconv.Itoa(i + 1)
		recs = append(recs, core.Record{ID: id, Offset: id, Data: []byte(data)})
	}
	return recs
}

// runAll processes recs in batches cut at the given sizes, snapshotting into a new pipeline between
// batches, and returns every output line.
func runAll(t *testing.T, recs []core.Record, cuts []int) (lines []string, stats core.Stats) {
	t.Helper()
	ctx := context.Background()
	tm := window.Time{OutOfOrder: 2 * time.Second, AllowedLateness: 3 * time.Second}
	p := build(t, tm)
	emit := func(o core.Output) { lines = append(lines, string(o.AppendJSON(nil))) }
	start := 0
	for _, end := range append(cuts, len(recs)) {
		if end <= start {
			continue
		}
		res, err := p.Run(ctx, core.Batch{Partition: "p", Records: recs[start:end], Now: time.Unix(int64(end), 0)}, emit)
		if err != nil {
			t.Fatal(err)
		}
		stats.Add(res.Stats)
		snap, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		p = build(t, tm)
		if err := p.Restore(snap); err != nil {
			t.Fatal(err)
		}
		start = end
	}
	res, err := p.Flush(ctx, emit)
	if err != nil {
		t.Fatal(err)
	}
	stats.Add(res.Stats)
	return lines, stats
}

// TestSplitsAndSnapshotsAreByteIdentical: one batch, or many with the state snapshotted and restored
// into a fresh pipeline in between, give the same output bytes in the same order — windows,
// decisions (rules, anomalies, patterns) and late events alike.
func TestSplitsAndSnapshotsAreByteIdentical(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		recs := records(r, 1500)
		whole, stats := runAll(t, recs, nil)
		var cuts []int
		for i := 0; i < 1+r.IntN(8); i++ {
			cuts = append(cuts, r.IntN(len(recs)))
		}
		slicesSort(cuts)
		split, _ := runAll(t, recs, cuts)
		if strings.Join(whole, "\n") != strings.Join(split, "\n") {
			t.Fatalf("seed %d: %d lines whole, %d split at %v", seed, len(whole), len(split), cuts)
		}
		if stats.Decisions == 0 || stats.Late == 0 || stats.Failed == 0 || stats.Windows == 0 {
			t.Fatalf("seed %d: the stream should exercise decisions, late events and failures: %+v", seed, stats)
		}
	}
}

func slicesSort(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestFailuresNameRecordFieldAndReason(t *testing.T) {
	p := build(t, window.Time{OutOfOrder: time.Second})
	recs := []core.Record{
		{ID: "a", Offset: "1", Data: []byte(`{"key":"k","ts":1700000000000,"value":5}`)},
		{ID: "b", Offset: "2", Data: []byte(`{"key":"k","ts":1700000000001,"value":"hot"}`)},
		{ID: "c", Offset: "3", Data: []byte(`{"key":"k","value":5}`)},
		{ID: "d", Offset: "4", Data: []byte(`not json`)},
		{ID: "e", Offset: "5", Data: []byte(`{"key":"k","ts":1700000000002,"value":7}`)},
	}
	res, err := p.Run(context.Background(), core.Batch{Partition: "p", Records: recs}, func(core.Output) {})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Events != 2 || res.Stats.Failed != 3 || res.Checkpoint != "5" {
		t.Fatalf("stats %+v checkpoint %q", res.Stats, res.Checkpoint)
	}
	want := []string{
		`record "b" field "value": string "hot" is not a number`,
		`record "c" field "ts": missing`,
		`record "d"`,
	}
	for i, f := range res.Failures {
		if !strings.HasPrefix(f.Error(), want[i]) {
			t.Errorf("failure %d: %q, want prefix %q", i, f.Error(), want[i])
		}
	}
}

func TestLateEventGoesToLateOutput(t *testing.T) {
	p := build(t, window.Time{OutOfOrder: time.Second})
	var late []*core.Late
	emit := func(o core.Output) {
		if l, ok := o.(*core.Late); ok {
			late = append(late, l)
		}
	}
	recs := []core.Record{
		{ID: "1", Offset: "1", Data: []byte(`{"key":"k","ts":1700000000000,"value":5}`)},
		{ID: "2", Offset: "2", Data: []byte(`{"key":"k","ts":1700000060000,"value":5}`)},
		{ID: "3", Offset: "3", Data: []byte(`{"key":"k","ts":1700000001000,"value":5}`)},
	}
	res, err := p.Run(context.Background(), core.Batch{Partition: "p", Records: recs}, emit)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Late != 1 || len(late) != 1 || late[0].ID != "3" || !strings.Contains(late[0].Reason, "allowed lateness") {
		t.Fatalf("late %+v stats %+v", late, res.Stats)
	}
	if got := string(late[0].AppendJSON(nil)); !strings.Contains(got, `"event":{"key":"k","ts":1700000001000,"value":5}`) {
		t.Errorf("late output does not carry the event: %s", got)
	}
}

func TestIdleTickClosesWindows(t *testing.T) {
	p := build(t, window.Time{OutOfOrder: time.Second, IdleTimeout: time.Minute})
	ctx := context.Background()
	arrival := time.Unix(1_700_000_100, 0)
	recs := []core.Record{{ID: "1", Offset: "1", Data: []byte(`{"key":"k","ts":1700000000000,"value":5}`)}}
	var windows int
	emit := func(o core.Output) {
		if o.Type() == "window" {
			windows++
		}
	}
	if _, err := p.Run(ctx, core.Batch{Partition: "p", Records: recs, Now: arrival}, emit); err != nil {
		t.Fatal(err)
	}
	if _, err := p.TickFunc(ctx, arrival.Add(30*time.Second), emit); err != nil || windows != 0 {
		t.Fatalf("a tick before the idle timeout closed %d windows (err %v)", windows, err)
	}
	if _, err := p.TickFunc(ctx, arrival.Add(2*time.Minute), emit); err != nil || windows != 2 {
		t.Fatalf("a tick after the idle timeout closed %d windows, want the 2 sliding windows of the event (err %v)", windows, err)
	}
}

func ExamplePipeline() {
	b, _ := pipeline.New(pipeline.Config{
		Function:   "temps",
		Window:     window.Spec{Kind: window.Tumbling, Size: time.Minute},
		Time:       window.Time{OutOfOrder: 5 * time.Second},
		Aggregates: []aggregate.Spec{{Op: aggregate.Count}, {Name: "avg_temp", Op: aggregate.Avg, Field: "temp"}},
	})
	p, _ := b.Build(func(paths []string) (pipeline.Decoder, error) {
		return codec.New(codec.Config{Paths: paths, Key: "room", Time: "at"})
	})
	recs := []core.Record{
		{ID: "1", Offset: "1", Data: []byte(`{"room":"lab","at":"2026-11-25T08:00:10Z","temp":21.5}`)},
		{ID: "2", Offset: "2", Data: []byte(`{"room":"lab","at":"2026-11-25T08:00:40Z","temp":22.5}`)},
		{ID: "3", Offset: "3", Data: []byte(`{"room":"lab","at":"2026-11-25T08:01:30Z","temp":25}`)},
	}
	print := func(o core.Output) { fmt.Println(string(o.AppendJSON(nil))) }
	p.Run(context.Background(), core.Batch{Partition: "0", Records: recs}, print)
	p.Flush(context.Background(), print)
	// Output:
	// {"type":"window","id":"eb56a2c95de558177bda9f2d27619cbb","function":"temps","key":"lab","start":"2026-11-25T08:00:00.000Z","end":"2026-11-25T08:01:00.000Z","revision":0,"values":{"count":2,"avg_temp":22}}
	// {"type":"window","id":"7353761f4f511993af6f0af05f573338","function":"temps","key":"lab","start":"2026-11-25T08:01:00.000Z","end":"2026-11-25T08:02:00.000Z","revision":0,"values":{"count":1,"avg_temp":25}}
}

// TestTickExpiresIdleRuleState: a key whose alarm fired and then went quiet is resolved and dropped
// by a tick once the watermark is past the rules' idle TTL.
func TestTickExpiresIdleRuleState(t *testing.T) {
	b, err := pipeline.New(pipeline.Config{
		Function:   "f",
		Window:     window.Spec{Kind: window.Tumbling, Size: 10 * time.Second},
		Time:       window.Time{OutOfOrder: time.Second, IdleTimeout: time.Minute},
		Aggregates: []aggregate.Spec{{Name: "avg", Op: aggregate.Avg, Field: "value"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := rule.Compile(rule.Config{
		Aggregates: []rule.Aggregate{{Name: "avg"}},
		Thresholds: []rule.Threshold{{Name: "high", Condition: "avg > 50.0"}},
		IdleTTL:    5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Decide(rules.NewEngine())
	p, err := b.Build(func(paths []string) (pipeline.Decoder, error) {
		return codec.New(codec.Config{Paths: paths, Key: "key", Time: "ts", TimeFormat: "unix_ms"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	emit := func(o core.Output) {
		if d, ok := o.(*core.Decision); ok {
			states = append(states, string(d.State))
		}
	}
	ctx := context.Background()
	arrival := time.Unix(1_700_000_030, 0)
	recs := []core.Record{
		{ID: "1", Offset: "1", Data: []byte(`{"key":"k","ts":1700000000000,"value":90}`)},
		{ID: "2", Offset: "2", Data: []byte(`{"key":"k","ts":1700000020000,"value":90}`)},
	}
	if _, err := p.Run(ctx, core.Batch{Partition: "p", Records: recs, Now: arrival}, emit); err != nil {
		t.Fatal(err)
	}
	if _, err := p.TickFunc(ctx, arrival.Add(2*time.Minute), emit); err != nil {
		t.Fatal(err)
	}
	if strings.Join(states, ",") != "firing" {
		t.Fatalf("before the TTL: %v", states)
	}
	if _, err := p.TickFunc(ctx, arrival.Add(10*time.Minute), emit); err != nil {
		t.Fatal(err)
	}
	if strings.Join(states, ",") != "firing,resolved" {
		t.Fatalf("after the TTL: %v, want firing then resolved", states)
	}
}

// TestRunDecodedEqualsRun: records decoded ahead by another goroutine's decoder (NewDecoder, reused
// event storage across batches as a reader goroutine would) give Run's outputs, failures and counts
// exactly, for windows, decisions, patterns, late events and undecodable records alike.
func TestRunDecodedEqualsRun(t *testing.T) {
	recs := records(rand.New(rand.NewPCG(7, 7)), 3000)
	ctx := context.Background()
	tm := window.Time{OutOfOrder: 2 * time.Second, AllowedLateness: 3 * time.Second}
	run := func(ahead bool) (lines []string, fails []string, stats core.Stats) {
		p := build(t, tm)
		emit := func(o core.Output) { lines = append(lines, string(o.AppendJSON(nil))) }
		var dec pipeline.Decoder
		var buf []pipeline.Decoded
		if ahead {
			var err error
			if dec, err = p.NewDecoder(); err != nil {
				t.Fatal(err)
			}
			buf = make([]pipeline.Decoded, 128)
		}
		for start := 0; start < len(recs); start += 97 {
			b := core.Batch{Partition: "p", Records: recs[start:min(start+97, len(recs))], Now: time.Unix(int64(start), 0)}
			var res core.Result
			var err error
			if ahead {
				done := make(chan struct{})
				go func() { // decode on another goroutine, as replay's reader does
					defer close(done)
					for i := range b.Records {
						buf[i].Err = dec.Decode(b.Partition, &b.Records[i], b.Now, &buf[i].Event)
					}
				}()
				<-done
				res, err = p.RunDecoded(ctx, b, buf[:len(b.Records)], emit)
			} else {
				res, err = p.Run(ctx, b, emit)
			}
			if err != nil {
				t.Fatal(err)
			}
			stats.Add(res.Stats)
			for _, f := range res.Failures {
				fails = append(fails, f.Error())
			}
		}
		res, err := p.Flush(ctx, emit)
		if err != nil {
			t.Fatal(err)
		}
		stats.Add(res.Stats)
		return lines, fails, stats
	}
	wantLines, wantFails, wantStats := run(false)
	gotLines, gotFails, gotStats := run(true)
	if strings.Join(gotLines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("outputs differ: %d lines decoded ahead, %d with Run", len(gotLines), len(wantLines))
	}
	if strings.Join(gotFails, "\n") != strings.Join(wantFails, "\n") || gotStats != wantStats {
		t.Errorf("failures %q stats %+v, want %q %+v", gotFails, gotStats, wantFails, wantStats)
	}
	if wantStats.Failed == 0 || wantStats.Late == 0 || wantStats.Decisions == 0 {
		t.Fatalf("the stream should exercise failures, late events and decisions: %+v", wantStats)
	}
	p := build(t, tm)
	if _, err := p.RunDecoded(ctx, core.Batch{Records: recs[:2]}, make([]pipeline.Decoded, 1), func(core.Output) {}); err == nil {
		t.Error("RunDecoded took 1 decoded record for a batch of 2")
	}
}
