//go:build unix

package snssqssink_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gocloud.dev/pubsub/awssnssqs"

	"github.com/eddyhq/eddy/adapters/aws/snssqssink"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
	"github.com/eddyhq/eddy/internal/standin"
)

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// fauxqs starts the SNS/SQS stand-in on a free port and returns its endpoint.
func fauxqs(t testing.TB) string {
	t.Helper()
	cli := standin.FauxqsCLI(t)
	cfg := filepath.Join(t.TempDir(), "init.json")
	if err := os.WriteFile(cfg, []byte(`{}`), 0o644); err != nil {
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

var creds = credentials.NewStaticCredentialsProvider("AKID", "secret", "")

func clients(ep string) (*sqs.Client, *sns.Client) {
	return sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), Credentials: creds}),
		sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), Credentials: creds})
}

var names atomic.Int64

// newQueue makes a queue and receives from it, as a consumer does, until the test ends.
func newQueue(t *testing.T, qc *sqs.Client, fifo bool) (string, *sinktest.Collector) {
	ctx := context.Background()
	name := fmt.Sprintf("q%d", names.Add(1))
	var attrs map[string]string
	if fifo {
		name += ".fifo"
		attrs = map[string]string{"FifoQueue": "true"}
	}
	out, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	qURL := aws.ToString(out.QueueUrl)
	sub := awssnssqs.OpenSubscription(ctx, qc, qURL, &awssnssqs.SubscriptionOptions{Raw: true, WaitTime: 100 * time.Millisecond})
	c := &sinktest.Collector{}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := sub.Receive(rctx)
			if err != nil {
				return
			}
			m.Ack()
			c.Add(sinktest.Received{Body: m.Body, Metadata: m.Metadata})
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = sub.Shutdown(context.Background())
	})
	return qURL, c
}

func TestConformanceSQSFIFO(t *testing.T) {
	ep := fauxqs(t)
	qc, _ := clients(ep)
	sinktest.Run(t, sinktest.Harness{
		Wait:     90 * time.Second,
		Features: sinktest.Features{Metadata: true},
		Open: func(ctx context.Context, t *testing.T) *sinktest.Destination {
			qURL, c := newQueue(t, qc, true)
			return &sinktest.Destination{Sink: snssqssink.New(awssnssqs.OpenSQSTopic(ctx, qc, qURL, nil), true), Read: c.Read}
		},
	})
}

// snsHarness: SNS fanned out to a queue with raw message delivery, as a subscriber of the topic
// gets it. Standard topics and queues do not keep order; FIFO ones do.
func snsHarness(t *testing.T, fifo bool) sinktest.Harness {
	ep := fauxqs(t)
	qc, nc := clients(ep)
	return sinktest.Harness{
		// fauxqs fans a 256 KB message out from the topic to the queue slowly when the machine is
		// busy (the whole suite runs beside it in CI): give arrivals time.
		Wait:     90 * time.Second,
		Features: sinktest.Features{Metadata: true, Unordered: !fifo},
		Open: func(ctx context.Context, t *testing.T) *sinktest.Destination {
			name := fmt.Sprintf("t%d", names.Add(1))
			var attrs map[string]string
			if fifo {
				name += ".fifo"
				attrs = map[string]string{"FifoTopic": "true"}
			}
			top, err := nc.CreateTopic(ctx, &sns.CreateTopicInput{Name: &name, Attributes: attrs})
			if err != nil {
				t.Fatal(err)
			}
			qURL, c := newQueue(t, qc, fifo)
			qa, err := qc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &qURL, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := nc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: top.TopicArn, Protocol: aws.String("sqs"),
				Endpoint: aws.String(qa.Attributes["QueueArn"]), Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
				t.Fatal(err)
			}
			return &sinktest.Destination{Sink: snssqssink.New(awssnssqs.OpenSNSTopic(ctx, nc, aws.ToString(top.TopicArn), nil), fifo), Read: c.Read}
		},
	}
}

func TestConformanceSNS(t *testing.T) { sinktest.Run(t, snsHarness(t, false)) }

func TestConformanceSNSFIFO(t *testing.T) { sinktest.Run(t, snsHarness(t, true)) }

// Opened by URL as a deployed function does, with the stand-in's plain http endpoint.
func TestOpenURL(t *testing.T) {
	ep := fauxqs(t)
	qc, _ := clients(ep)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	ctx := context.Background()
	qURL, c := newQueue(t, qc, false)
	s, err := sink.Open(ctx, "awssqs://"+strings.TrimPrefix(qURL, "http://")+"?region=us-east-1&endpoint="+ep)
	if err != nil {
		t.Fatal(err)
	}
	d := &core.Decision{ID: "d-1", Function: "f", Rule: "hot", Key: "m-7", State: "firing"}
	if err := s.Emit(ctx, []core.Output{d}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := c.Read(ctx, 1)
	if err != nil || got[0].Metadata[sink.MetaID] != "d-1" || got[0].Metadata[sink.MetaKey] != "m-7" {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, u := range []string{"awssns:///not-an-arn?region=us-east-1", "awssqs://?region=us-east-1", "awssqs://h/q?color=red"} {
		if _, err := sink.Open(ctx, u); err == nil {
			t.Errorf("%s opened", u)
		}
	}
}
