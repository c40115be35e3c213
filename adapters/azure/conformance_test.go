//go:build unix

package azure_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/blobstate"
	_ "github.com/eddyhq/eddy/core/state/blobstate/azurestate"
)

// The conformance suite on the custom handler: the Functions host's Event Hubs invocations
// (cardinality many, dataType string) posted to Handler.ServeHTTP, the host's retry policy
// applied to its answers, the state in Azure Blob (Azurite), outputs in the reply's output
// binding, dead letters in a blob container.
func TestConformance(t *testing.T) {
	conn, _ := azurite(t)
	var n atomic.Int64
	adaptertest.Run(t, func(t *testing.T, s adaptertest.Setup) adaptertest.Harness {
		i := n.Add(1)
		h := &hostHarness{t: t, s: s, WireTap: adaptertest.NewWireTap(), conn: conn, state: fmt.Sprintf("state-%d", i), dlq: fmt.Sprintf("dlq-%d", i)}
		for _, name := range []string{h.state, h.dlq} {
			cc, err := container.NewClientFromConnectionString(conn, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cc.Create(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
		}
		h.dlqBucket = openContainer(t, conn, h.dlq)
		h.start()
		return h
	}, adaptertest.Parallel())
}

// maxRetryCount is the retry policy azure.FunctionJSON writes: the host makes 1+5 attempts.
const maxRetryCount = 5

type hostHarness struct {
	t *testing.T
	s adaptertest.Setup
	*adaptertest.WireTap
	conn       string
	state, dlq string
	dlqBucket  *blob.Bucket
	now        atomic.Int64
	h          *azure.Handler

	mu   sync.Mutex
	outs [][]byte // what the host wrote to the output binding
}

// start makes a cold handler process: new container clients, store, runner and handler.
func (h *hostHarness) start() {
	d, err := blobstate.New(openContainer(h.t, h.conn, h.state))
	if err != nil {
		h.t.Fatal(err)
	}
	dlq := h.DeadLetter(&azure.BlobDeadLetter{Bucket: openContainer(h.t, h.conn, h.dlq), Prefix: h.s.Function.Name + "/"})
	r, err := runner.New(runner.Config{Function: h.s.Function.Name, Store: state.NewStore(d, nil), New: h.s.Function.NewProcessor,
		// The outputs travel in the reply; the sink only fails when the suite says so.
		Sink: h.s.Faults.Wrap(h.Sink(nil)), DeadLetter: dlq})
	if err != nil {
		h.t.Fatal(err)
	}
	h.h, err = azure.NewHandler(azure.HandlerConfig{Runner: r, OutputBinding: "outputs", DeadLetterBinding: "deadletter",
		DeadLetter: dlq, TickFunction: "Tick", Now: func() time.Time { return time.Unix(0, h.now.Load()).UTC() },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostHarness) Restart(context.Context) error {
	h.start()
	return nil
}

func (h *hostHarness) partitionID(partition string) string {
	return strconv.Itoa(slices.Index(h.s.Partitions, partition))
}

func (h *hostHarness) Locate(partition string, r adaptertest.Record) (string, core.Pos) {
	seq := strconv.FormatInt(r.Seq, 10)
	return seq, core.Pos{Partition: h.partitionID(partition), Offset: seq}
}

// post sends one request as the host does and decodes the reply.
func (h *hostHarness) post(ctx context.Context, function string, body []byte) (int, reply, error) {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/"+function, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", fmt.Sprintf("inv-%d", time.Now().UnixNano()))
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, req)
	var rep reply
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		return w.Code, rep, fmt.Errorf("reply %q: %w", w.Body.Bytes(), err)
	}
	return w.Code, rep, nil
}

// Deliver posts the batch as the host's Event Hubs trigger does, and on a failed invocation
// posts it again with the next RetryContext, as the function's retry policy makes the host do.
func (h *hostHarness) Deliver(ctx context.Context, partition string, recs []adaptertest.Record, now time.Time) (adaptertest.Delivery, error) {
	h.now.Store(now.UnixNano())
	var d adaptertest.Delivery
	crecs := make([]core.Record, len(recs))
	for i, r := range recs {
		id, pos := h.Locate(partition, r)
		crecs[i] = core.Record{ID: id, Offset: pos.Offset, Key: r.Key, Time: r.Time, Data: r.Data}
	}
	for attempt := 0; ; attempt++ {
		body := hostBody(h.t, h.partitionID(partition), crecs, &azure.RetryContext{RetryCount: attempt, MaxRetryCount: maxRetryCount})
		d.Invocations++
		status, rep, err := h.post(ctx, "conformance", body)
		if err != nil {
			return d, err
		}
		if status == http.StatusOK {
			h.mu.Lock()
			for _, o := range rep.Outputs["outputs"] {
				h.outs = append(h.outs, []byte(o))
			}
			h.mu.Unlock()
			return d, nil
		}
		d.Failed++
		if attempt == maxRetryCount {
			return d, fmt.Errorf("the host gave up after %d attempts: %d %v", attempt+1, status, rep.Logs)
		}
	}
}

// Tick posts a timer trigger's invocation to the tick function.
func (h *hostHarness) Tick(ctx context.Context, now time.Time) error {
	h.now.Store(now.UnixNano())
	body := fmt.Appendf(nil, `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"Tick","UtcNow":%q}}}`,
		now.UTC().Format(time.RFC3339Nano))
	status, rep, err := h.post(ctx, "Tick", body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("tick: %d %v", status, rep.Logs)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range rep.Outputs["outputs"] {
		h.outs = append(h.outs, []byte(o))
	}
	return nil
}

func (h *hostHarness) Outputs(context.Context) ([][]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.outs), nil
}

// DeadLetters reads every dead-letter object of the container.
func (h *hostHarness) DeadLetters(ctx context.Context) ([]adaptertest.DeadLetter, error) {
	var dls []adaptertest.DeadLetter
	it := h.dlqBucket.List(&blob.ListOptions{Prefix: h.s.Function.Name + "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return dls, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := h.dlqBucket.ReadAll(ctx, obj.Key)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var f struct{ ID, Field, Reason, Data string }
			if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
				return nil, fmt.Errorf("dead letter %s: %s: %w", obj.Key, sc.Bytes(), err)
			}
			dls = append(dls, adaptertest.DeadLetter{ID: f.ID, Field: f.Field, Reason: f.Reason, Data: []byte(f.Data)})
		}
	}
}
