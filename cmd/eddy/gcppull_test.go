package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The pull-mode service a scaffold deploys (cmd/gcppull, the bundle's pull/: gcpfunction.RunPull)
// works against Pub/Sub as deploy/gcp/main.tf sets it up: it pulls the ordered events
// subscription (pstest), publishes the function's decisions to the outputs topic, acknowledges
// every event, answers Cloud Run's health checks on PORT, and stops cleanly on SIGTERM. Its
// decisions are the ones eddy dev makes of the same sample events.
func TestGCPPullService(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "press-monitor")
	if r := eddyIn(t, ".", nil, "new", "press-monitor", "--cloud", "gcp", "--dir", dir, "--eddy-path", repo); r.code != 0 {
		t.Fatalf("eddy new: exit %d: %s", r.code, r.stderr)
	}
	bin := filepath.Join(t.TempDir(), "gcppull")
	runIn(t, dir, []string{"GOFLAGS=-mod=mod"}, "go", "build", "-o", bin, "./cmd/gcppull")

	// The pull subscription as main.tf declares it.
	var pull map[string]string
	for _, s := range tfResources(t, filepath.Join(dir, "deploy", "gcp", "main.tf"))["google_pubsub_subscription"] {
		if _, push := s["push_config"]; !push {
			pull = s
		}
	}
	if pull == nil || pull["enable_message_ordering"] != "true" || pull["count"] != "local.pull" {
		t.Fatalf("main.tf's pull subscription: %v", pull)
	}
	// The service's subscription URL, in the form the test gives it.
	if tf, _ := os.ReadFile(filepath.Join(dir, "deploy", "gcp", "main.tf")); !bytes.Contains(tf, []byte(`"gcppubsubv2://${var.project}/${google_pubsub_subscription.pull[0].name}"`)) {
		t.Errorf("main.tf does not give the pull service its subscription as gcppubsubv2://PROJECT/SUBSCRIPTION")
	}

	srv := pstest.NewServer()
	defer srv.Close()
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const project = "my-project"
	pubc, subc := pubsubpb.NewPublisherClient(conn), pubsubpb.NewSubscriberClient(conn)
	topic := func(name string) string { return "projects/" + project + "/topics/" + name }
	sub := func(name string) string { return "projects/" + project + "/subscriptions/" + name }
	for _, name := range []string{"press-monitor-events", "press-monitor-outputs", "press-monitor-deadletter"} {
		if _, err := pubc.CreateTopic(ctx, &pubsubpb.Topic{Name: topic(name)}); err != nil {
			t.Fatal(err)
		}
	}
	for name, top := range map[string]string{"press-monitor-events": "press-monitor-events", "outputs": "press-monitor-outputs"} {
		if _, err := subc.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub(name), Topic: topic(top), EnableMessageOrdering: true, AckDeadlineSeconds: 60}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "testdata", "events.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*pubsubpb.PubsubMessage
	for _, l := range lines(string(raw)) {
		var ev struct{ Machine string }
		json.Unmarshal([]byte(l), &ev)
		msgs = append(msgs, &pubsubpb.PubsubMessage{Data: []byte(l), OrderingKey: ev.Machine})
	}
	if _, err := pubc.Publish(ctx, &pubsubpb.PublishRequest{Topic: topic("press-monitor-events"), Messages: msgs}); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PUBSUB_EMULATOR_HOST="+srv.Addr, "PORT="+port,
		"EDDY_SUBSCRIPTION_URL=gcppubsubv2://"+project+"/press-monitor-events",
		"EDDY_STATE_URL=mem://", "EDDY_OUTPUT_URL=gcppubsubv2://"+project+"/press-monitor-outputs",
		"EDDY_DEADLETTER_URL=gcppubsubv2://"+project+"/press-monitor-deadletter")
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()

	// Every event acknowledged.
	for acked := 0; acked < len(msgs); {
		select {
		case err := <-exited:
			t.Fatalf("the service exited (%v) with %d of %d events acknowledged\n%s", err, acked, len(msgs), logs.String())
		default:
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d events acknowledged\n%s", acked, len(msgs), logs.String())
		}
		time.Sleep(100 * time.Millisecond)
		acked = 0
		for _, m := range srv.Messages() {
			if m.Acks > 0 && strings.HasSuffix(m.Topic, "press-monitor-events") {
				acked++
			}
		}
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "pulling") {
		t.Errorf("health check: %d %q", resp.StatusCode, body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the service did not stop cleanly on SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the service did not stop on SIGTERM\n%s", logs.String())
	}

	// Its decisions, as published to the outputs topic.
	var out strings.Builder
	for {
		pr, err := subc.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub("outputs"), MaxMessages: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(pr.ReceivedMessages) == 0 {
			break
		}
		var ids []string
		for _, rm := range pr.ReceivedMessages {
			out.Write(rm.Message.Data)
			out.WriteByte('\n')
			ids = append(ids, rm.AckId)
		}
		subc.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub("outputs"), AckIds: ids})
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d struct {
			Type, Key, State string
			Window           struct{ Start string }
		}
		if json.Unmarshal(sc.Bytes(), &d) == nil && d.Type == "decision" {
			got = append(got, d.Key+" "+d.State+" "+d.Window.Start)
		}
	}
	slices.Sort(got)
	got = slices.Compact(got)
	if !slices.Equal(got, wantScaffoldDecisions) {
		t.Errorf("pull-mode decisions %q, want eddy dev's %q\n%s", got, wantScaffoldDecisions, logs.String())
	}
}

// lockedBuffer is a bytes.Buffer a process writes to while the test reads it.
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
