//go:build unix

package aws_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/adapters/adaptertest"
	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/logsink"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/internal/standin"
)

// The conformance suite on the Lambda handler: Kinesis events in Lambda's JSON through
// Handler.Invoke, Lambda's retry semantics applied to the responses, the state in DynamoDB
// (dynalite), outputs and dead letters on the "log:" output, read back from its JSON lines.
func TestConformance(t *testing.T) {
	ep := standin.Dynalite(t)
	// docstate's dynamodb:// URLs take credentials from the environment, as in Lambda.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	var tables atomic.Int64
	adaptertest.Run(t, func(t *testing.T, s adaptertest.Setup) adaptertest.Harness {
		table := fmt.Sprintf("conformance-%d", tables.Add(1))
		createTable(t, ep, table)
		h := &lambdaHarness{s: s, WireTap: adaptertest.NewWireTap(), stateURL: "dynamodb://" + table + "?partition_key=id&region=us-east-1&endpoint=" + url.QueryEscape(ep)}
		if err := h.start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.store.Close() })
		return h
	}, adaptertest.Parallel())
}

// lockedBuffer is the function's stdout: CloudWatch Logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

type lambdaHarness struct {
	s adaptertest.Setup
	*adaptertest.WireTap
	stateURL string
	logs     lockedBuffer // the output's log lines
	dead     lockedBuffer // the dead-letter output's
	now      atomic.Int64
	store    *state.Store
	h        *aws.Handler
}

// start makes a cold execution environment: a new store client, runner and handler.
func (h *lambdaHarness) start(ctx context.Context) error {
	store, err := state.Open(ctx, h.stateURL)
	if err != nil {
		return err
	}
	// The log: sink Start opens by default, writing to buffers instead of stdout.
	out, dead := sink.New(logsink.New(&h.logs), nil), sink.New(logsink.New(&h.dead), nil)
	r, err := runner.New(runner.Config{Function: h.s.Function.Name, Store: store, New: h.s.Function.NewProcessor,
		Sink: h.s.Faults.Wrap(h.Sink(out)), DeadLetter: h.DeadLetter(dead)})
	if err != nil {
		store.Close()
		return err
	}
	hd, err := aws.NewHandler(r, &aws.Options{Now: func() time.Time { return time.Unix(0, h.now.Load()).UTC() },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		store.Close()
		return err
	}
	h.store, h.h = store, hd
	return nil
}

func (h *lambdaHarness) Restart(ctx context.Context) error {
	if err := h.store.Close(); err != nil {
		return err
	}
	return h.start(ctx)
}

func (h *lambdaHarness) shard(partition string) string {
	return fmt.Sprintf("shardId-%012d", slices.Index(h.s.Partitions, partition))
}

// sequence is a record's Kinesis sequence number: 56 digits like Kinesis's, ordered as Seq.
func sequence(seq int64) string {
	return "49590338271490256608559692538361571095921575989" + fmt.Sprintf("%09d", seq)
}

func (h *lambdaHarness) Locate(partition string, r adaptertest.Record) (string, core.Pos) {
	s := sequence(r.Seq)
	return s, core.Pos{Partition: h.shard(partition), Offset: s}
}

// Deliver invokes the handler with the batch as Lambda's poller would, and applies Lambda's
// semantics to the answer: a function error delivers the same batch again; batchItemFailures
// restart the shard from the lowest reported sequence number.
func (h *lambdaHarness) Deliver(ctx context.Context, partition string, recs []adaptertest.Record, now time.Time) (adaptertest.Delivery, error) {
	h.now.Store(now.UnixNano())
	var d adaptertest.Delivery
	shard := h.shard(partition)
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/conformance"
	pending := recs
	for len(pending) > 0 {
		if d.Invocations == 20 {
			return d, errors.New("Lambda still retrying after 20 invocations")
		}
		var ev events.KinesisEvent
		for _, r := range pending {
			var e events.KinesisEventRecord
			e.EventSource, e.EventVersion, e.EventName = "aws:kinesis", "1.0", "aws:kinesis:record"
			e.AwsRegion, e.EventSourceArn = "us-east-1", arn
			e.InvokeIdentityArn = "arn:aws:iam::000000000000:role/eddy"
			seq := sequence(r.Seq)
			e.EventID = shard + ":" + seq
			e.Kinesis.KinesisSchemaVersion = "1.0"
			e.Kinesis.PartitionKey = r.Key
			e.Kinesis.SequenceNumber = seq
			e.Kinesis.Data = r.Data
			e.Kinesis.ApproximateArrivalTimestamp.Time = r.Time
			ev.Records = append(ev.Records, e)
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			return d, err
		}
		d.Invocations++
		out, err := h.h.Invoke(ctx, payload)
		if err != nil {
			if !errors.Is(err, adaptertest.ErrInjected) {
				return d, err
			}
			d.Failed++
			continue
		}
		var resp events.KinesisEventResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			return d, fmt.Errorf("response %s: %w", out, err)
		}
		from, err := aws.Checkpoint(resp)
		if err != nil {
			return d, err
		}
		if from == "" {
			break
		}
		for _, f := range resp.BatchItemFailures {
			d.Reported = append(d.Reported, f.ItemIdentifier)
		}
		i := slices.IndexFunc(pending, func(r adaptertest.Record) bool { return sequence(r.Seq) == from })
		if i < 0 {
			return d, fmt.Errorf("batchItemFailures name %s, which is not in the batch", from)
		}
		pending = pending[i:]
	}
	return d, nil
}

// Tick invokes the handler with an EventBridge scheduled event, as a rule every minute does.
func (h *lambdaHarness) Tick(ctx context.Context, now time.Time) error {
	h.now.Store(now.UnixNano())
	payload := fmt.Appendf(nil, `{"version":"0","id":"tick","detail-type":"Scheduled Event","source":"aws.events","account":"000000000000","time":%q,"region":"us-east-1","resources":["arn:aws:events:us-east-1:000000000000:rule/eddy-tick"],"detail":{}}`,
		now.UTC().Format(time.RFC3339))
	_, err := h.h.Invoke(ctx, payload)
	return err
}

// bodies returns the message bodies of a log: sink's lines.
func bodies(buf *lockedBuffer) ([][]byte, error) {
	var bs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Body == nil {
			return nil, fmt.Errorf("log line %s: no JSON body (%v)", sc.Bytes(), err)
		}
		bs = append(bs, l.Body)
	}
	return bs, sc.Err()
}

func (h *lambdaHarness) Outputs(context.Context) ([][]byte, error) {
	bs, err := bodies(&h.logs)
	if err != nil {
		return nil, err
	}
	outs := make([][]byte, 0, len(bs))
	for _, b := range bs {
		o, err := adaptertest.OutputJSON(b)
		if err != nil {
			return nil, err
		}
		outs = append(outs, o)
	}
	return outs, nil
}

func (h *lambdaHarness) DeadLetters(context.Context) ([]adaptertest.DeadLetter, error) {
	bs, err := bodies(&h.dead)
	if err != nil {
		return nil, err
	}
	dls := make([]adaptertest.DeadLetter, 0, len(bs))
	for _, b := range bs {
		dl, err := adaptertest.DeadLetterOf(b)
		if err != nil {
			return nil, err
		}
		dls = append(dls, dl)
	}
	return dls, nil
}

// ReportsFailures implements adaptertest.Reporter: every poison record must be in
// batchItemFailures.
func (h *lambdaHarness) ReportsFailures() bool { return true }
