//go:build unix

package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/adapters/aws/internal/testfn/fn"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/examples/bench"
	"github.com/eddyhq/eddy/internal/standin"
)

// rieVersion is the Runtime Interface Emulator the tests run (it has no semver tags).
const rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"

var buildOnce sync.Map // output path → *onceResult

type onceResult struct {
	once sync.Once
	path string
	err  error
}

// ensureRIE installs the emulator into tools/bin (gitignored) once and returns its path.
func ensureRIE(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(standin.Root(t), "tools", "bin")
	bin := filepath.Join(dir, "aws-lambda-rie")
	v, _ := buildOnce.LoadOrStore(bin, &onceResult{})
	r := v.(*onceResult)
	r.once.Do(func() {
		r.path = bin
		if _, err := os.Stat(bin); err == nil {
			return
		}
		cmd := exec.Command("go", "install", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@"+rieVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("install the Lambda RIE: %v\n%s", err, out)
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return bin
}

// bootDir holds the bootstrap the package's tests share; TestMain removes it.
var bootDir string

// TestMain removes the shared bootstrap after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if bootDir != "" {
		os.RemoveAll(bootDir)
	}
	os.Exit(code)
}

// buildBootstrap builds the test function as Lambda runs it (linux, lambda.norpc, no cgo), once for
// all the package's tests and benchmarks, and returns its path.
func buildBootstrap(t testing.TB) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore("bootstrap", &onceResult{})
	r := v.(*onceResult)
	r.once.Do(func() {
		dir, err := os.MkdirTemp("", "eddy-aws-bootstrap-")
		if err != nil {
			r.err = err
			return
		}
		bootDir = dir
		r.path = filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", r.path, "./internal/testfn")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if b, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("build bootstrap: %v\n%s", err, b)
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

// emulator is one running RIE with the bootstrap: one Lambda execution environment.
type emulator struct {
	t        testing.TB
	rie      string
	boot     string
	env      []string
	cmd      *exec.Cmd
	done     chan struct{}
	url      string
	log      *bytes.Buffer
	mu       sync.Mutex
	restarts int
}

func (e *emulator) start() {
	e.t.Helper()
	port, apiPort := standin.FreePort(e.t), standin.FreePort(e.t)
	e.cmd = exec.Command(e.rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort), e.boot)
	e.cmd.Dir = filepath.Dir(e.boot)
	e.cmd.Env = append(os.Environ(), e.env...)
	e.cmd.Env = append(e.cmd.Env, "AWS_LAMBDA_FUNCTION_TIMEOUT=60", "AWS_LAMBDA_FUNCTION_NAME=eddy-test")
	e.log = &bytes.Buffer{}
	e.cmd.Stdout, e.cmd.Stderr = lockedWriter{&e.mu, e.log}, lockedWriter{&e.mu, e.log}
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.done = make(chan struct{})
	go func(c *exec.Cmd, d chan struct{}) { _ = c.Wait(); close(d) }(e.cmd, e.done)
	e.url = fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("RIE not listening after 30s:\n%s", e.output())
		}
	}
}

// kill ends the environment, emulator and function together, as when Lambda drops an instance.
func (e *emulator) kill() {
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	<-e.done
}

func (e *emulator) restart() {
	e.kill()
	e.restarts++
	e.start()
}

func (e *emulator) output() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// invoke posts a payload; ok is false when the function failed (the RIE answers 200 with an
// errorMessage body then) or the environment died.
func (e *emulator) invoke(payload []byte) (body []byte, ok bool) {
	resp, err := http.Post(e.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		return []byte(err.Error()), false
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return body, false
	}
	var fe struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	if json.Unmarshal(body, &fe) == nil && fe.ErrorMessage != nil {
		return body, false
	}
	return body, true
}

// poller is a local event source mapping that behaves like Lambda's for Kinesis: per shard,
// GetRecords into a KinesisEvent, invoke, and on a partial failure restart from the lowest failed
// sequence number; on a function error retry the same batch.
type poller struct {
	t         testing.TB
	kc        *kinesis.Client
	stream    string
	arn       string
	batchSize int32
	fn        *emulator
	// killAfter kills the environment while the n-th invocation runs (0: never).
	killAfter int
	invokes   int
	failures  []string // sequence numbers reported in batchItemFailures
	errors    int
}

func (p *poller) drainShard(ctx context.Context, shard string) {
	p.t.Helper()
	it, err := p.kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &p.stream, ShardId: &shard, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		p.t.Fatal(err)
	}
	iter := it.ShardIterator
	for attempts := 0; iter != nil; {
		out, err := p.kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: &p.batchSize})
		if err != nil {
			p.t.Fatal(err)
		}
		if len(out.Records) == 0 {
			if out.MillisBehindLatest != nil && *out.MillisBehindLatest == 0 {
				return
			}
			iter = out.NextShardIterator
			continue
		}
		ev := kinesisEvent(shard, p.arn, out.Records)
		payload, _ := json.Marshal(ev)
		p.invokes++
		var body []byte
		var ok bool
		if p.killAfter > 0 && p.invokes == p.killAfter {
			// Kill the environment mid-invocation.
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
		if !ok {
			p.errors++
			attempts++
			if attempts > 5 {
				p.t.Fatalf("batch of shard %s failed %d times; last answer %s\nfunction log:\n%s", shard, attempts, body, p.fn.output())
			}
			// The environment may have died with the function: Lambda would start a fresh one.
			p.fn.restart()
			iter = p.iterAt(ctx, shard, *out.Records[0].SequenceNumber)
			continue
		}
		attempts = 0
		var resp events.KinesisEventResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			p.t.Fatalf("response %s: %v", body, err)
		}
		low, err := aws.Checkpoint(resp)
		if err != nil {
			p.t.Fatal(err)
		}
		if low == "" {
			iter = out.NextShardIterator
			continue
		}
		for _, f := range resp.BatchItemFailures {
			p.failures = append(p.failures, f.ItemIdentifier)
		}
		iter = p.iterAt(ctx, shard, low)
	}
}

func (p *poller) iterAt(ctx context.Context, shard, seq string) *string {
	it, err := p.kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &p.stream, ShardId: &shard,
		ShardIteratorType: ktypes.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: &seq})
	if err != nil {
		p.t.Fatal(err)
	}
	return it.ShardIterator
}

func kinesisEvent(shard, arn string, recs []ktypes.Record) events.KinesisEvent {
	var ev events.KinesisEvent
	for _, r := range recs {
		var e events.KinesisEventRecord
		e.EventSource, e.EventVersion, e.EventName = "aws:kinesis", "1.0", "aws:kinesis:record"
		e.AwsRegion, e.EventSourceArn = "us-east-1", arn
		e.EventID = shard + ":" + *r.SequenceNumber
		e.Kinesis.KinesisSchemaVersion = "1.0"
		e.Kinesis.PartitionKey = *r.PartitionKey
		e.Kinesis.SequenceNumber = *r.SequenceNumber
		e.Kinesis.Data = r.Data
		if r.ApproximateArrivalTimestamp != nil {
			e.Kinesis.ApproximateArrivalTimestamp.Time = *r.ApproximateArrivalTimestamp
		}
		ev.Records = append(ev.Records, e)
	}
	return ev
}

func kinesisClient(ep string) *kinesis.Client {
	return kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: awssdk.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
}

func createStream(t testing.TB, kc *kinesis.Client, name string, shards int32) {
	t.Helper()
	ctx := context.Background()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &name, ShardCount: &shards}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not active: %v", name, err)
		}
	}
}

func shards(t testing.TB, kc *kinesis.Client, stream string) []string {
	t.Helper()
	out, err := kc.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range out.Shards {
		ids = append(ids, *s.ShardId)
	}
	return ids
}

// readAll reads every record of a stream, per shard in order.
func readAll(t testing.TB, kc *kinesis.Client, stream string) map[string][]ktypes.Record {
	t.Helper()
	ctx := context.Background()
	all := map[string][]ktypes.Record{}
	for _, sh := range shards(t, kc, stream) {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: &sh, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			all[sh] = append(all[sh], out.Records...)
			if len(out.Records) == 0 && out.MillisBehindLatest != nil && *out.MillisBehindLatest == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return all
}

func createTable(t testing.TB, ep, name string) {
	t.Helper()
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: awssdk.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	ctx := context.Background()
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &name,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: awssdk.String("id"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: awssdk.String("id"), KeyType: dtypes.KeyTypeHash}},
		BillingMode:          dtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err == nil && out.Table.TableStatus == dtypes.TableStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("table %s not active: %v", name, err)
		}
	}
}

// TestLambdaEndToEnd runs the real bootstrap under the Lambda RIE, fed by a Lambda-like poller from
// kinesalite, with its state in dynalite and its decisions written to a kinesalite stream, and
// checks the decisions read back equal those of an in-process reference run, exactly, although
// the function crashes once between emit and commit and its environment is killed once
// mid-invocation. Poison records are reported, retried past, and dead-lettered once each.
func TestLambdaEndToEnd(t *testing.T) {
	ctx := context.Background()
	kep, dep := standin.Kinesalite(t), standin.Dynalite(t)
	rie := ensureRIE(t)
	dir := t.TempDir()
	t0 := time.Now()
	boot := buildBootstrap(t)
	t.Logf("bootstrap built in %v", time.Since(t0))
	kc := kinesisClient(kep)
	createStream(t, kc, "in", 2)
	createStream(t, kc, "out", 1)
	createStream(t, kc, "dead", 1)
	createTable(t, dep, "eddy-state")

	// The input: generated sensor events, three poison records, and two KPL aggregates.
	evs := bench.Generate(7, 4000, 12)
	for i := range evs {
		// 20 ms apart, so the 1 s windows close often; a little disorder within the 2 s bound.
		evs[i].TS = bench.Start + int64(i)*20 - int64(i%7)*100
	}
	var entries []ktypes.PutRecordsRequestEntry
	var poison []string
	for i, e := range evs {
		entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: awssdk.String(e.Key), Data: e.AppendJSON(nil)})
		if i == 700 || i == 2100 || i == 3300 {
			entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: awssdk.String(e.Key), Data: []byte("not json " + strconv.Itoa(i))})
		}
		if i == 1500 || i == 2500 {
			var subs []aws.SubRecord
			for j := range 5 {
				s := bench.Event{Key: e.Key, TS: e.TS + int64(j), Value: 99}
				subs = append(subs, aws.SubRecord{PartitionKey: e.Key, Data: s.AppendJSON(nil)})
			}
			entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: awssdk.String(e.Key), Data: aws.Aggregate(subs)})
		}
	}
	for len(entries) > 0 {
		n := min(len(entries), 500)
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: awssdk.String("in"), Records: entries[:n]})
		if err != nil || *out.FailedRecordCount != 0 {
			t.Fatalf("put: %v", err)
		}
		for i, r := range out.Records {
			if bytes.HasPrefix(entries[i].Data, []byte("not json")) {
				poison = append(poison, *r.SequenceNumber)
			}
		}
		entries = entries[n:]
	}

	endpoint := url.QueryEscape(kep)
	fnEnv := []string{
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=us-east-1",
		"EDDY_FUNCTION=" + fn.Name,
		"EDDY_STATE_URL=dynamodb://eddy-state?partition_key=id&region=us-east-1&endpoint=" + url.QueryEscape(dep),
		"EDDY_OUTPUT_URL=kinesis://out?region=us-east-1&endpoint=" + endpoint,
		"EDDY_DEADLETTER_URL=kinesis://dead?region=us-east-1&endpoint=" + endpoint,
		"EDDY_TEST_CRASH_AFTER_EMITS=2", "EDDY_TEST_CRASH_MARKER=" + filepath.Join(dir, "crashed"),
	}
	em := &emulator{t: t, rie: rie, boot: boot, env: fnEnv}
	em.start()
	t.Cleanup(em.kill)
	p := &poller{t: t, kc: kc, stream: "in", arn: "arn:aws:kinesis:us-east-1:000000000000:stream/in", batchSize: 250, fn: em, killAfter: 12}
	t0 = time.Now()
	for _, sh := range shards(t, kc, "in") {
		p.drainShard(ctx, sh)
	}
	t.Logf("shards drained in %v", time.Since(t0))
	// A scheduled tick closes the windows of the now quiet shards.
	tickAt := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	body, ok := em.invoke([]byte(`{"version":"0","id":"t","detail-type":"Scheduled Event","source":"aws.events","time":"` + tickAt.Format(time.RFC3339) + `","detail":{}}`))
	if !ok {
		t.Fatalf("tick: %s\n%s", body, em.output())
	}
	if _, err := os.Stat(filepath.Join(dir, "crashed")); err != nil {
		t.Fatalf("the function never crashed between emit and commit: %v", err)
	}
	if em.restarts < 2 || p.errors < 2 {
		t.Fatalf("restarts %d, failed invocations %d: want the crash and the kill", em.restarts, p.errors)
	}

	// The reference: the same function in process, each shard's records as one batch.
	in := readAll(t, kc, "in")
	newProc, err := fn.New()
	if err != nil {
		t.Fatal(err)
	}
	want := &capture{}
	r, err := runner.New(runner.Config{Function: fn.Name, Store: memstate.New(nil), New: newProc, Sink: want, DeadLetter: want})
	if err != nil {
		t.Fatal(err)
	}
	for sh, recs := range in {
		ev := kinesisEvent(sh, p.arn, recs)
		b, err := aws.Batch(&ev, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.TickAll(ctx, tickAt); err != nil {
		t.Fatal(err)
	}
	var decisions int
	for _, o := range want.outs {
		if strings.Contains(o, `"type":"decision"`) {
			decisions++
		}
	}
	if decisions < 5 || len(want.outs) < 100 {
		t.Fatalf("the reference made %d outputs, %d decisions: the test function is too quiet to test anything", len(want.outs), decisions)
	}

	// Outputs read back: the same set (a crash may repeat an output, never change or lose one).
	var got []string
	for _, recs := range readAll(t, kc, "out") {
		for _, r := range recs {
			got = append(got, string(r.Data))
		}
	}
	dups := len(got)
	got = slices.Compact(slices.Sorted(slices.Values(got)))
	dups -= len(got)
	exp := slices.Sorted(slices.Values(want.outs))
	if !slices.Equal(got, exp) {
		missing, extra := diff(exp, got)
		t.Fatalf("outputs differ from the reference: %d missing, %d extra (of %d)\nmissing: %.3v\nextra: %.3v", len(missing), len(extra), len(exp), missing, extra)
	}
	t.Logf("%d outputs (%d decisions), %d duplicates after the crash, %d invocations, %d failed", len(exp), decisions, dups, p.invokes, p.errors)

	// Poison records: reported to Lambda, dead-lettered with the reason.
	slices.SortFunc(poison, func(a, b string) int { return strings.Compare(a, b) })
	reported := slices.Compact(slices.Sorted(slices.Values(p.failures)))
	if !slices.Equal(reported, slices.Sorted(slices.Values(poison))) {
		t.Fatalf("batchItemFailures reported %v, want the poison records %v", reported, poison)
	}
	dead := map[string]string{}
	for _, recs := range readAll(t, kc, "dead") {
		for _, r := range recs {
			var f struct{ ID, Reason string }
			if err := json.Unmarshal(r.Data, &f); err != nil {
				t.Fatalf("dead letter %s: %v", r.Data, err)
			}
			dead[f.ID] = f.Reason
		}
	}
	if len(dead) != len(poison) {
		t.Fatalf("dead letters %v, want %v", dead, poison)
	}
	for _, s := range poison {
		if dead[s] == "" {
			t.Fatalf("poison record %s: no dead letter with a reason (%v)", s, dead)
		}
	}
}

func diff(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			extra = append(extra, g)
		}
	}
	return
}
