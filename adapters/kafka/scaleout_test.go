//go:build unix

package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/filestate"
	"github.com/eddyhq/eddy/internal/standin"
)

// waitFor bounds the wait for the state to catch up.
var waitFor = 120 * time.Second

// poisonEvery makes every n-th record of the scale-out stream undecodable.
const poisonEvery = 701

// produceStream writes events [from, to) like produce, every poisonEvery-th one not JSON.
func produceStream(t testing.TB, addrs []string, topic string, from, to int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		k, v := reading(i)
		if i%poisonEvery == poisonEvery-1 {
			v = fmt.Appendf(nil, "not json %d", i)
		}
		recs = append(recs, &kgo.Record{Key: []byte(k), Value: v, Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("test")}}})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// proc is one worker process.
type proc struct {
	cmd *exec.Cmd
	out lockedBuffer
}

// lockedBuffer is a worker's stderr and stdout, read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// spawn starts a worker process of the group on the shared file state.
func spawn(t testing.TB, addrs []string, stateDir, group string) *proc {
	return spawnPoll(t, addrs, "file://"+stateDir, group, 200)
}

// spawnPoll is spawn with a state URL and max_poll_records=poll.
func spawnPoll(t testing.TB, addrs []string, stateURL, group string, poll int) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(exe, "-test.run=^$")}
	p.cmd.Env = append(os.Environ(), envWorker+"=1",
		kafka.EnvFunction+"=kafka-test",
		kafka.EnvSourceURL+"=kafka://"+addrs[0]+"/in?group="+group+"&max_poll_records="+strconv.Itoa(poll)+"&session_timeout=6s&rebalance_timeout=10s",
		kafka.EnvStateURL+"="+stateURL,
		kafka.EnvOutputURL+"=kafka://"+addrs[0]+"/out",
		kafka.EnvDeadLetterURL+"=kafka://"+addrs[0]+"/dlq",
		kafka.EnvTickEvery+"=30m")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// stop ends a worker with SIGTERM (graceful) and checks it exited cleanly.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("worker %d: %v\n%s", p.cmd.Process.Pid, err, p.out.String())
	}
}

// applied reads each partition's applied offset from the shared state.
func applied(t testing.TB, store *state.Store, r *runner.Runner, parts []string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, p := range parts {
		e, err := store.Get(context.Background(), r.Key(p))
		if err != nil {
			t.Fatal(err)
		}
		out[p] = -1
		if e.Found {
			var env runner.Envelope
			if err := env.Unmarshal(e.Value); err != nil {
				t.Fatal(err)
			}
			out[p], _ = strconv.ParseInt(env.Offset, 10, 64)
		}
	}
	return out
}

// waitState waits until the shared state has applied every record of want (last offsets).
func waitState(t testing.TB, store *state.Store, r *runner.Runner, want map[string]int64, procs ...*proc) {
	t.Helper()
	parts := make([]string, 0, len(want))
	for p := range want {
		parts = append(parts, p)
	}
	deadline := time.Now().Add(waitFor)
	for {
		got := applied(t, store, r, parts)
		done := true
		for p, off := range want {
			if got[p] < off {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			for _, pr := range procs {
				if os.Getenv("EDDY_KAFKA_TEST_DUMP") != "" {
					pr.cmd.Process.Signal(syscall.SIGQUIT)
					time.Sleep(time.Second)
				}
				t.Logf("worker %d:\n%s", pr.cmd.Process.Pid, pr.out.String())
			}
			t.Fatalf("state not caught up within 120 s: %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wire is what a topic holds, by eddy_id.
type wire struct {
	byID  map[string]string
	total int
	recs  []*kgo.Record
}

// readTopic reads n records of topic (at least; until a quiet second) and checks that records of
// one eddy_id are equal.
func readTopic(t testing.TB, addrs []string, topic string) wire {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w := wire{byID: map[string]string{}}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			w.total++
			w.recs = append(w.recs, r)
			var id string
			for _, h := range r.Headers {
				if h.Key == sink.MetaID {
					id = string(h.Value)
				}
			}
			if id == "" {
				t.Fatalf("%s record at %d/%d has no %s header", topic, r.Partition, r.Offset, sink.MetaID)
			}
			if prev, ok := w.byID[id]; ok && prev != string(r.Value) {
				t.Fatalf("id %s arrived with two contents:\n%s\n%s", id, prev, r.Value)
			}
			w.byID[id] = string(r.Value)
		})
		if n == 0 {
			return w
		}
	}
}

// The scale-out proof: a topic of 12 partitions consumed by 3 worker processes of one group on
// one shared state directory; one is killed with SIGKILL mid-stream and a fourth joins. The
// outputs, deduplicated by id, equal a single run of each partition's records (nothing lost,
// every decision once, no id with two contents), and the dead-letter topic holds each poison
// record once, naming its topic-partition and offset.
func TestScaleOutProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	const n = 12000
	c := cluster(t, 12, "in", "out", "dlq")
	addrs := c.ListenAddrs()
	dir := t.TempDir()
	store, err := filestate.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	comp := compile(t)
	r, err := runner.New(runner.Config{Function: "kafka-test", Store: store, New: newProc(comp)})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }
	produceStream(t, addrs, "in", 0, n/3)
	procs := []*proc{spawn(t, addrs, dir, "scale"), spawn(t, addrs, dir, "scale"), spawn(t, addrs, dir, "scale")}
	// Mid-stream: every worker owns partitions, every partition has state, more records coming.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("the 3 workers did not all get partitions within 60 s")
		}
		got := applied(t, store, r, partitionsOf("in", 12))
		k := 0
		for _, off := range got {
			if off >= 0 {
				k++
			}
		}
		joined := 0
		for _, p := range procs {
			if strings.Contains(p.out.String(), "partitions assigned") {
				joined++
			}
		}
		if k == 12 && joined == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	phase("3 workers own partitions, all 12 have state")
	produceStream(t, addrs, "in", n/3, 2*n/3)
	if err := procs[0].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	procs[0].cmd.Wait()
	procs = append(procs[1:], spawn(t, addrs, dir, "scale"))
	produceStream(t, addrs, "in", 2*n/3, n)

	byPart := readAll(t, addrs, "in", n)
	last := map[string]int64{}
	for p, recs := range byPart {
		last[p], _ = strconv.ParseInt(recs[len(recs)-1].Offset, 10, 64)
	}
	phase("killed one, started one, produced all")
	waitState(t, store, r, last, procs...)
	phase("state caught up")
	for _, p := range procs {
		p.stop(t)
	}
	phase("stopped")

	want, wantDL := referenceAll(t, comp, byPart)
	out := readTopic(t, addrs, "out")
	got := make([]string, 0, len(out.byID))
	for id, b := range out.byID {
		got = append(got, id+" "+b)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("outputs (deduplicated by id) differ from the single run: %d vs %d: %s", len(got), len(want), diff(want, got))
	}
	t.Logf("%d outputs, %d records on the output topic (%d re-emitted after the kill)", len(want), out.total, out.total-len(want))

	dl := readTopic(t, addrs, "dlq")
	if len(dl.byID) != len(wantDL) {
		t.Fatalf("%d dead letters, want %d", len(dl.byID), len(wantDL))
	}
	for _, rec := range dl.recs {
		h := map[string]string{}
		for _, x := range rec.Headers {
			h[x.Key] = string(x.Value)
		}
		key := h[sink.MetaPartition] + "@" + h[sink.MetaOffset]
		if !wantDL[key] || h[sink.MetaReason] == "" {
			t.Fatalf("dead letter %v names no poison record (want one of %v)", h, wantDL)
		}
		if !bytes.Contains(rec.Value, []byte(`"partition":"`+h[sink.MetaPartition]+`"`)) || !bytes.Contains(rec.Value, []byte("not json")) {
			t.Fatalf("dead letter body %s lacks its partition or the record's bytes", rec.Value)
		}
	}
}

func partitionsOf(topic string, n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = kafka.Partition(topic, int32(i))
	}
	return out
}

// referenceAll is reference plus the dead letters' "partition@offset".
func referenceAll(t testing.TB, c *spec.Compiled, byPart map[string][]core.Record) ([]string, map[string]bool) {
	t.Helper()
	col := &collector{}
	for p, recs := range byPart {
		proc, err := c.NewPipeline()
		if err != nil {
			t.Fatal(err)
		}
		res, err := proc.Process(context.Background(), core.Batch{Partition: p, Records: recs, Now: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if err := col.Emit(context.Background(), res.Outputs); err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Failures {
			f.Function, f.Partition = "kafka-test", p
		}
		col.EmitFailures(context.Background(), res.Failures)
	}
	dls := map[string]bool{}
	for _, f := range col.fails {
		dls[f.Partition+"@"+f.Record.Offset] = true
	}
	return col.sorted(), dls
}

// A zombie: a worker frozen (SIGSTOP) in the middle of a burst outlives its session; the group
// gives its partitions to a new worker, which applies everything; then the zombie wakes (SIGCONT)
// and finishes what it was doing. Its state commits lose to the new owner's (conditional writes),
// so nothing is applied twice: the outputs, deduplicated by id, equal a single run, and no id
// carries two contents.
func TestZombieFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	const n = 6000
	c := cluster(t, 12, "in", "out", "dlq")
	addrs := c.ListenAddrs()
	stateURL := dynamoTable(t, "zombie")
	store, err := state.Open(context.Background(), stateURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	comp := compile(t)
	r, err := runner.New(runner.Config{Function: "kafka-test", Store: store, New: newProc(comp)})
	if err != nil {
		t.Fatal(err)
	}
	zombie := spawnPoll(t, addrs, stateURL, "zombie", 200)
	produceStream(t, addrs, "in", 0, 200)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first worker applied nothing within 60 s")
		}
		k := 0
		for _, off := range applied(t, store, r, partitionsOf("in", 12)) {
			if off >= 0 {
				k++
			}
		}
		if k > 0 {
			break
		}
	}
	produceStream(t, addrs, "in", 200, n)
	if err := zombie.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozenAt := applied(t, store, r, partitionsOf("in", 12))
	heir := spawnPoll(t, addrs, stateURL, "zombie", 200)
	byPart := readAll(t, addrs, "in", n)
	last := map[string]int64{}
	for p, recs := range byPart {
		last[p], _ = strconv.ParseInt(recs[len(recs)-1].Offset, 10, 64)
	}
	waitState(t, store, r, last, zombie, heir)
	caughtUp := false
	for p, off := range frozenAt {
		caughtUp = caughtUp || off < last[p]
	}
	if !caughtUp {
		t.Fatal("the frozen worker had applied everything already: no zombie")
	}
	if err := zombie.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Give the zombie time to finish its batch and find out it lost the group.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(zombie.out.String(), "partitions lost") || strings.Contains(zombie.out.String(), "revoked") {
			break
		}
	}
	zombie.stop(t)
	heir.stop(t)
	want, _ := referenceAll(t, comp, byPart)
	out := readTopic(t, addrs, "out")
	got := make([]string, 0, len(out.byID))
	for id, b := range out.byID {
		got = append(got, id+" "+b)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("outputs (deduplicated by id) differ from the single run: %d vs %d: %s", len(got), len(want), diff(want, got))
	}
	t.Logf("%d outputs, %d records on the output topic; the zombie's log:\n%s", len(want), out.total, lastLines(zombie.out.String(), 6))
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// dynamoTable starts dynalite (once per test), creates a table and returns its state URL; the
// AWS credentials and region the worker processes need are set in the environment they inherit.
func dynamoTable(t *testing.T, name string) string {
	t.Helper()
	ep := standin.Dynalite(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: awssdk.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	ctx := context.Background()
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &name,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: awssdk.String("id"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: awssdk.String("id"), KeyType: dtypes.KeyTypeHash}},
		BillingMode:          dtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err == nil && out.Table.TableStatus == dtypes.TableStatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("table %s not active: %v", name, err)
		}
	}
	return "dynamodb://" + name + "?partition_key=id&region=us-east-1&endpoint=" + url.QueryEscape(ep)
}
