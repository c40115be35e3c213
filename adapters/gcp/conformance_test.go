package gcp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"gocloud.dev/blob/gcsblob"
	"google.golang.org/api/option"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/blobstate"
)

// The conformance suite on the Pub/Sub push function: each record a messagePublished CloudEvent
// (binary or structured mode, ordering key = the scenario's partition) posted to the real functions framework
// serving gcp.Register's function, a 5xx answer redelivering the message as Pub/Sub does, the
// state on GCS (fake-gcs-server), outputs and dead letters published through the gcppubsub:// sink to Pub/Sub
// (pstest). The scenarios run one after the other: the framework picks its target from the
// FUNCTION_TARGET environment variable.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, newPushHarness)
}

var conformanceSeq atomic.Int64

type pushHarness struct {
	t *testing.T
	s adaptertest.Setup
	*adaptertest.WireTap
	ps     *psEnv
	gcs    *fakestorage.Server
	bucket string
	out    *sink.Sink
	dead   *sink.Sink

	mu  sync.Mutex
	fn  *gcp.Function
	url string
}

func newPushHarness(t *testing.T, s adaptertest.Setup) adaptertest.Harness {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatalf("start fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	h := &pushHarness{t: t, s: s, WireTap: adaptertest.NewWireTap(), ps: newPubSub(t), gcs: srv, bucket: "eddy-state"}
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: h.bucket})
	h.out = h.ps.sink(t, "outputs", true)
	h.dead = h.ps.sink(t, "dead", false)
	h.start()
	return h
}

// start deploys a new revision: a function registered and served afresh, whose Function (store
// client, runner) is opened on its first event, as on a cold Cloud Run instance.
func (h *pushHarness) start() {
	name := fmt.Sprintf("Conformance%d", conformanceSeq.Add(1))
	gcp.Register(name, func(ctx context.Context) (*gcp.Function, error) {
		client, err := storage.NewClient(ctx, option.WithEndpoint(h.gcs.URL()+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
		if err != nil {
			return nil, err
		}
		h.t.Cleanup(func() { client.Close() })
		b, err := gcsblob.OpenBucket(ctx, nil, h.bucket, &gcsblob.Options{Client: client})
		if err != nil {
			return nil, err
		}
		d, err := blobstate.New(b)
		if err != nil {
			return nil, err
		}
		r, err := runner.New(runner.Config{Function: h.s.Function.Name, Store: state.NewStore(d, nil), New: h.s.Function.NewProcessor,
			Sink: h.s.Faults.Wrap(h.Sink(h.out)), DeadLetter: h.DeadLetter(h.dead)})
		if err != nil {
			return nil, err
		}
		f, err := gcp.New(gcp.Config{Runner: r, DeadLetter: h.DeadLetter(h.dead), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		h.fn = f
		h.mu.Unlock()
		return f, nil
	})
	url := serve(h.t, name)
	h.mu.Lock()
	h.url, h.fn = url, nil
	h.mu.Unlock()
}

func (h *pushHarness) Restart(context.Context) error {
	h.start()
	return nil
}

func (h *pushHarness) Locate(partition string, r adaptertest.Record) (string, core.Pos) {
	return r.ID, core.Pos{Partition: partition}
}

// push posts one message as Eventarc does, a messagePublished CloudEvent in binary mode (odd
// Seq) or structured mode (even Seq), and returns the status.
func (h *pushHarness) push(ctx context.Context, partition string, r adaptertest.Record) (int, error) {
	data, err := json.Marshal(map[string]any{
		"message": map[string]any{
			"data": base64.StdEncoding.EncodeToString(r.Data), "attributes": map[string]string{"device": r.Key},
			"messageId": r.ID, "publishTime": r.Time.UTC().Format(time.RFC3339Nano), "orderingKey": partition,
		},
		"subscription": "projects/" + project + "/subscriptions/eventarc-conformance",
	})
	if err != nil {
		return 0, err
	}
	source := "//pubsub.googleapis.com/projects/" + project + "/topics/telemetry"
	at := r.Time.UTC().Format(time.RFC3339Nano)
	body, contentType := data, "application/json"
	if r.Seq%2 == 0 {
		body, err = json.Marshal(map[string]any{"specversion": "1.0", "type": gcp.MessagePublished, "id": r.ID, "time": at,
			"source": source, "datacontenttype": "application/json", "data": json.RawMessage(data)})
		if err != nil {
			return 0, err
		}
		contentType = "application/cloudevents+json"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url+"/", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	if r.Seq%2 != 0 {
		req.Header.Set("ce-specversion", "1.0")
		req.Header.Set("ce-type", gcp.MessagePublished)
		req.Header.Set("ce-source", source)
		req.Header.Set("ce-id", r.ID)
		req.Header.Set("ce-time", at)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Deliver pushes the messages one invocation each, in order, as Pub/Sub does for one ordering
// key; a message answered with an error is pushed again before the next one.
func (h *pushHarness) Deliver(ctx context.Context, partition string, recs []adaptertest.Record, _ time.Time) (adaptertest.Delivery, error) {
	var d adaptertest.Delivery
	for _, r := range recs {
		for attempt := 1; ; attempt++ {
			d.Invocations++
			code, err := h.push(ctx, partition, r)
			if err != nil {
				return d, err
			}
			if code == http.StatusOK {
				break
			}
			if code < 500 || attempt == 10 {
				return d, fmt.Errorf("message %s: status %d after %d attempts", r.ID, code, attempt)
			}
			d.Failed++
		}
	}
	return d, nil
}

// Tick runs the function's scheduled tick on the serving instance.
func (h *pushHarness) Tick(ctx context.Context, now time.Time) error {
	h.mu.Lock()
	f := h.fn
	h.mu.Unlock()
	if f == nil {
		// The scenarios tick only after a delivery has opened the serving revision's Function.
		return fmt.Errorf("tick before any message reached the function")
	}
	_, err := f.Tick(ctx, now)
	return err
}

// published returns what the function published to topic, from the Pub/Sub server's log.
func (h *pushHarness) published(topic string) []*pstest.Message {
	var out []*pstest.Message
	for _, m := range h.ps.srv.Messages() {
		if m.Topic == "projects/"+project+"/topics/"+topic {
			out = append(out, m)
		}
	}
	return out
}

func (h *pushHarness) Outputs(context.Context) ([][]byte, error) {
	var outs [][]byte
	for _, m := range h.published("outputs") {
		data, err := adaptertest.OutputJSON(m.Data)
		if err != nil {
			return nil, err
		}
		var o struct{ Type, Key, ID string }
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, fmt.Errorf("output %s: %w", m.Data, err)
		}
		if m.Attributes[gcp.AttrType] != o.Type || m.Attributes[gcp.AttrKey] != o.Key || m.Attributes[gcp.AttrID] != o.ID {
			return nil, fmt.Errorf("output %s has attributes %v", m.Data, m.Attributes)
		}
		outs = append(outs, data)
	}
	return outs, nil
}

func (h *pushHarness) DeadLetters(context.Context) ([]adaptertest.DeadLetter, error) {
	var dls []adaptertest.DeadLetter
	for _, m := range h.published("dead") {
		d, err := adaptertest.DeadLetterOf(m.Data)
		if err != nil {
			return nil, err
		}
		if m.Attributes[gcp.AttrType] != "deadletter" || m.Attributes[gcp.AttrMessageID] != d.ID {
			return nil, fmt.Errorf("dead letter %s has attributes %v", m.Data, m.Attributes)
		}
		dls = append(dls, d)
	}
	return dls, nil
}

// TransportKey implements adaptertest.TransportKeyer: messages are published with the partition
// as their ordering key, which is the record's key.
func (h *pushHarness) TransportKey(partition string, _ adaptertest.Record) string { return partition }
