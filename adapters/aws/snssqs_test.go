//go:build unix

package aws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"gocloud.dev/pubsub/awssnssqs"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/standin"
)

// The SNS/SQS stand-in is fauxqs, pinned in tools/standins. goaws v0.4.5, the Go emulator, cannot
// stand in for gocloud's awssnssqs driver: it has no SNS PublishBatch and speaks only SQS's query
// protocol, while aws-sdk-go-v2's SQS client speaks the JSON protocol.

// fauxqs starts the stand-in on a free port with the given init config and returns its endpoint.
func fauxqs(t testing.TB, init string) string {
	t.Helper()
	cli := standin.FauxqsCLI(t)
	cfg := filepath.Join(t.TempDir(), "init.json")
	if err := os.WriteFile(cfg, []byte(init), 0o644); err != nil {
		t.Fatal(err)
	}
	port := standin.FreePort(t)
	cmd := exec.Command("node", cli)
	cmd.Env = append(os.Environ(), fmt.Sprintf("FAUXQS_PORT=%d", port), "FAUXQS_INIT="+cfg, "FAUXQS_LOGGER=false", "FAUXQS_HOST=localhost")
	var mu sync.Mutex
	log := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, log}, lockedWriter{&mu, log}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		select {
		case <-done:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("fauxqs exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("fauxqs not listening after 30s")
		}
	}
}

// queueURL is the stand-in's URL of a queue (it names queues sqs.REGION.HOST:PORT/ACCOUNT/NAME).
func queueURL(endpoint, name string) string {
	return "http://sqs.us-east-1.localhost:" + endpoint[strings.LastIndexByte(endpoint, ':')+1:] + "/000000000000/" + name
}

func sqsClient(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: awssdk.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
}

type received struct {
	body string
	md   map[string]string
}

// drain receives n messages from a queue through gocloud's SQS subscription (raw: the body is the
// message; otherwise it unwraps SNS's JSON envelope, as a subscriber of an SNS topic does).
func drain(t *testing.T, c *sqs.Client, qURL string, raw bool, n int) []received {
	t.Helper()
	ctx := context.Background()
	sub := awssnssqs.OpenSubscription(ctx, c, qURL, &awssnssqs.SubscriptionOptions{Raw: raw})
	defer sub.Shutdown(ctx)
	var got []received
	for len(got) < n {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := sub.Receive(rctx)
		cancel()
		if err != nil {
			t.Fatalf("queue %s: received %d of %d messages: %v", qURL, len(got), n, err)
		}
		m.Ack()
		got = append(got, received{body: string(m.Body), md: m.Metadata})
	}
	// Nothing more: each output was sent once.
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if m, err := sub.Receive(rctx); err == nil {
		t.Fatalf("queue %s: an extra message %q", qURL, m.Body)
	}
	return got
}

func testOutputs() ([]core.Output, []*core.Failure) {
	var outs []core.Output
	t0 := time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC)
	// More than one SNS/SQS batch (10 messages), with the characters JSON and XML escape.
	for i := range 23 {
		w := core.Span{Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i+1) * time.Second)}
		key := fmt.Sprintf("sensor-%04d", i%5)
		state := []string{"firing", "resolved"}[i%2]
		outs = append(outs, &core.Decision{ID: core.DecisionID("hot-sensors", "hot", key, w, state, 0), Function: "hot-sensors",
			Rule: "hot", Key: key, State: core.State(state), Severity: "warning", Time: w.End, Window: w,
			Values: []core.NamedValue{{Name: "avg", Num: 55.5 + float64(i)}, {Name: "note", IsList: true, Items: []core.Item{{Value: `<&"é">`, Count: 2}}}}})
	}
	outs = append(outs, &core.WindowResult{Function: "hot-sensors", Key: "sensor-0001", Start: t0, End: t0.Add(time.Second),
		Values: []core.NamedValue{{Name: "count", Num: 3}}})
	fs := []*core.Failure{{Record: core.Record{ID: "4959", Offset: "4959", Data: []byte("not json")}, Reason: "invalid JSON at byte 0"}}
	return outs, fs
}

// wantMessages is what a subscriber must read back: each output's JSON with its metadata.
func wantMessages(outs []core.Output, fs []*core.Failure) map[string]map[string]string {
	want := map[string]map[string]string{}
	for _, o := range outs {
		md := map[string]string{"type": o.Type()}
		switch o := o.(type) {
		case *core.Decision:
			md["id"], md["key"] = o.ID, o.Key
		case *core.WindowResult:
			md["key"] = o.Key
		}
		want[string(o.AppendJSON(nil))] = md
	}
	for _, f := range fs {
		want[string(aws.AppendFailureJSON(nil, f))] = map[string]string{"type": "failure", "record": f.Record.ID, "reason": f.Reason}
	}
	return want
}

func checkReceived(t *testing.T, where string, got []received, want map[string]map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", where, len(got), len(want))
	}
	seen := map[string]bool{}
	for _, m := range got {
		md, ok := want[m.body]
		if !ok {
			t.Fatalf("%s: unexpected message body %s", where, m.body)
		}
		if seen[m.body] {
			t.Fatalf("%s: message %s received twice", where, m.body)
		}
		seen[m.body] = true
		for k, v := range md {
			if m.md[k] != v {
				t.Fatalf("%s: message %s: metadata %q = %q, want %q (all: %v)", where, m.body, k, m.md[k], v, m.md)
			}
		}
		if !json.Valid([]byte(m.body)) {
			t.Fatalf("%s: body is not JSON: %s", where, m.body)
		}
	}
}

// TopicOutput through gocloud's SNS driver to an SNS topic on a stand-in, opened from its URL as a
// deployed function does, fanned out to two SQS queues: one with raw message delivery, one with
// SNS's JSON envelope. Both subscribers read back exactly the outputs and dead letters, with
// their metadata; and the same outputs sent straight to an SQS queue.
func TestTopicOutputSNSSQS(t *testing.T) {
	ep := fauxqs(t, `{"queues":[{"name":"decisions-raw"},{"name":"decisions-env"},{"name":"direct"}],
		"topics":[{"name":"decisions"}],
		"subscriptions":[{"topic":"decisions","queue":"decisions-raw","attributes":{"RawMessageDelivery":"true"}},
			{"topic":"decisions","queue":"decisions-env"}]}`)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	ctx := context.Background()
	outs, fs := testOutputs()
	want := wantMessages(outs, fs)

	o, err := aws.OpenOutput(ctx, "awssns:///arn:aws:sns:us-east-1:000000000000:decisions?region=us-east-1&endpoint="+ep)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Emit(ctx, outs); err != nil {
		t.Fatal(err)
	}
	if err := o.EmitFailures(ctx, fs); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	c := sqsClient(ep)
	checkReceived(t, "SNS → SQS (raw delivery)", drain(t, c, queueURL(ep, "decisions-raw"), true, len(want)), want)
	checkReceived(t, "SNS → SQS (SNS envelope)", drain(t, c, queueURL(ep, "decisions-env"), false, len(want)), want)

	// Straight to SQS. The awssqs:// URL always makes an https queue URL; the stand-in's queues are
	// http, so the topic comes from the constructor here.
	direct := aws.NewTopicOutput(awssnssqs.OpenSQSTopic(ctx, c, queueURL(ep, "direct"), nil))
	if err := direct.Emit(ctx, outs); err != nil {
		t.Fatal(err)
	}
	if err := direct.EmitFailures(ctx, fs); err != nil {
		t.Fatal(err)
	}
	if err := direct.Close(); err != nil {
		t.Fatal(err)
	}
	checkReceived(t, "SQS", drain(t, c, queueURL(ep, "direct"), true, len(want)), want)
}

// A topic that does not exist is an error of the emit, so the runner does not commit and Lambda
// retries the batch.
func TestTopicOutputMissingTopic(t *testing.T) {
	ep := fauxqs(t, `{"topics":[{"name":"other"}]}`)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	ctx := context.Background()
	o, err := aws.OpenOutput(ctx, "awssns:///arn:aws:sns:us-east-1:000000000000:missing?region=us-east-1&endpoint="+ep)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	outs, _ := testOutputs()
	err = o.Emit(ctx, outs[:3])
	if err == nil || !slices.ContainsFunc([]string{"NotFound", "does not exist"}, func(s string) bool { return strings.Contains(err.Error(), s) }) {
		t.Fatalf("emit to a missing topic: %v", err)
	}
}
