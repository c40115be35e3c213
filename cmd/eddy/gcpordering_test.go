package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/eddyhq/eddy/adapters/gcp"
)

// pushSubscription is the push subscription deploy/gcp/main.tf declares, as pstest takes it.
func pushSubscription(t *testing.T, dir, project, endpoint string) *pubsubpb.Subscription {
	t.Helper()
	res := tfResources(t, filepath.Join(dir, "deploy", "gcp", "main.tf"))
	subs := res["google_pubsub_subscription"]
	var push map[string]string
	for _, s := range subs {
		if _, ok := s["push_config"]; ok {
			push = s
		}
	}
	if push == nil {
		t.Fatalf("deploy/gcp/main.tf has no push subscription (has %d subscriptions)", len(subs))
	}
	if fn := res["google_cloudfunctions2_function"]; len(fn) == 0 || fn[0]["event_trigger"] != "" {
		t.Errorf("the function has an Eventarc trigger (whose subscription cannot order): %v", fn)
	}
	if !strings.Contains(push["push_config.oidc_token.service_account_email"], "google_service_account.push.email") ||
		!strings.Contains(push["push_config.push_endpoint"], "google_cloudfunctions2_function.function[0].service_config[0].uri") {
		t.Errorf("the push subscription does not call the function with the push account's OIDC token: %v", push)
	}
	ack, err := strconv.Atoi(push["ack_deadline_seconds"])
	if err != nil {
		t.Fatalf("ack_deadline_seconds %q: %v", push["ack_deadline_seconds"], err)
	}
	minBackoff, _ := time.ParseDuration(strings.Trim(push["retry_policy.minimum_backoff"], `"`))
	return &pubsubpb.Subscription{
		Name:                  "projects/" + project + "/subscriptions/events",
		Topic:                 "projects/" + project + "/topics/events",
		EnableMessageOrdering: push["enable_message_ordering"] == "true",
		AckDeadlineSeconds:    int32(ack),
		RetryPolicy:           &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(minBackoff)},
		PushConfig: &pubsubpb.PushConfig{PushEndpoint: endpoint, AuthenticationMethod: &pubsubpb.PushConfig_OidcToken_{
			OidcToken: &pubsubpb.PushConfig_OidcToken{ServiceAccountEmail: "push@" + project + ".iam.gserviceaccount.com"}}},
	}
}

// pushOrder publishes perKey messages on each of keys ordering keys to pstest, then delivers the
// subscription as Pub/Sub push does (pstest stores push configs but does not push): every message
// it hands out becomes its own concurrent HTTP request in the push wire format, acknowledged when
// the endpoint answers 200. The endpoint decodes each with the adapter's parser and takes longer
// for earlier messages, so that only the subscription's ordering keeps them in order. It returns
// the sequence numbers per key in the order the endpoint finished them.
func pushOrder(t *testing.T, sub *pubsubpb.Subscription, keys, perKey int) map[string][]int {
	t.Helper()
	srv := pstest.NewServer()
	defer srv.Close()
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pubc, subc := pubsubpb.NewPublisherClient(conn), pubsubpb.NewSubscriberClient(conn)
	if _, err := pubc.CreateTopic(ctx, &pubsubpb.Topic{Name: sub.Topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := subc.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	for i := range perKey {
		var msgs []*pubsubpb.PubsubMessage
		for k := range keys {
			msgs = append(msgs, &pubsubpb.PubsubMessage{Data: []byte(strconv.Itoa(i)), OrderingKey: fmt.Sprintf("sensor-%d", k)})
		}
		if _, err := pubc.Publish(ctx, &pubsubpb.PublishRequest{Topic: sub.Topic, Messages: msgs}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu   sync.Mutex
		got  = map[string][]int{}
		done int
	)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		m, err := gcp.ParsePush(body.Bytes())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		seq, _ := strconv.Atoi(string(m.Data))
		time.Sleep(time.Duration(perKey-seq) * 2 * time.Millisecond)
		mu.Lock()
		got[m.OrderingKey] = append(got[m.OrderingKey], seq)
		mu.Unlock()
	}))
	defer endpoint.Close()
	var wg sync.WaitGroup
	for {
		mu.Lock()
		n := done
		mu.Unlock()
		if n == keys*perKey || ctx.Err() != nil {
			break
		}
		resp, err := subc.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub.Name, MaxMessages: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, rm := range resp.ReceivedMessages {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pm := rm.Message
				body, _ := json.Marshal(map[string]any{"subscription": sub.Name, "message": map[string]any{
					"data": base64.StdEncoding.EncodeToString(pm.Data), "messageId": pm.MessageId,
					"publishTime": pm.PublishTime.AsTime().Format(time.RFC3339Nano), "orderingKey": pm.OrderingKey}})
				resp, err := http.Post(endpoint.URL, "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("push: status %d", resp.StatusCode)
					return
				}
				if _, err := subc.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub.Name, AckIds: []string{rm.AckId}}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				done++
				mu.Unlock()
			}()
		}
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	if done != keys*perKey {
		t.Fatalf("%d of %d messages delivered", done, keys*perKey)
	}
	return got
}

// The push subscription deploy/gcp declares delivers each ordering key's messages in publish order
// (pstest, configured from the generated main.tf); the same subscription without message ordering,
// as Eventarc's is, does not.
func TestGCPPushSubscriptionOrders(t *testing.T) {
	dir := newStacks(t, "press-monitor")
	const keys, perKey = 4, 20
	sub := pushSubscription(t, dir, "my-project", "https://fn.example/")
	if !sub.EnableMessageOrdering {
		t.Fatalf("the push subscription does not enable message ordering")
	}
	want := make([]int, perKey)
	for i := range want {
		want[i] = i
	}
	for key, seqs := range pushOrder(t, sub, keys, perKey) {
		if !slices.Equal(seqs, want) {
			t.Errorf("%s: delivered in order %v, want %v", key, seqs, want)
		}
	}
	sub.EnableMessageOrdering = false
	disordered := 0
	for _, seqs := range pushOrder(t, sub, keys, perKey) {
		if !slices.IsSorted(seqs) {
			disordered++
		}
	}
	if disordered == 0 {
		t.Errorf("without message ordering every key still came in order: the check proves nothing")
	}
}
