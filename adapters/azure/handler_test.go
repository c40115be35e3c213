//go:build unix

package azure_test

import (
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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/memstate"
	"github.com/eddyhq/eddy/examples/bench"
	"github.com/eddyhq/eddy/internal/standin"
)

// hostBody builds a request the way the Functions host does for an eventHubTrigger with
// cardinality many and dataType string: every array a JSON string holding JSON text.
func hostBody(t testing.TB, partition string, recs []core.Record, retry *azure.RetryContext) []byte {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	evs, seqs, offs, keys, times, props, sys := []string{}, []int64{}, []string{}, []*string{}, []string{}, []map[string]any{}, []map[string]any{}
	for _, r := range recs {
		seq, _ := strconv.ParseInt(r.Offset, 10, 64)
		evs = append(evs, string(r.Data))
		seqs = append(seqs, seq)
		offs = append(offs, strconv.FormatInt(seq*100, 10))
		var k *string
		if r.Key != "" {
			k = &r.Key
		}
		keys = append(keys, k)
		ts := r.Time.UTC().Format("2006-01-02T15:04:05.999")
		times = append(times, ts)
		props = append(props, map[string]any{})
		sys = append(sys, map[string]any{"x-opt-sequence-number": seq, "SequenceNumber": seq, "Offset": offs[len(offs)-1], "PartitionKey": k, "EnqueuedTimeUtc": ts})
	}
	meta := map[string]any{
		"PartitionContext":      map[string]string{"FullyQualifiedNamespace": "ns.servicebus.windows.net", "EventHubName": "telemetry", "ConsumerGroup": "$Default", "PartitionId": partition},
		"SequenceNumberArray":   enc(seqs),
		"OffsetArray":           enc(offs),
		"PartitionKeyArray":     enc(keys),
		"EnqueuedTimeUtcArray":  enc(times),
		"PropertiesArray":       enc(props),
		"SystemPropertiesArray": enc(sys),
		"sys":                   map[string]string{"MethodName": "EhW1", "UtcNow": time.Now().UTC().Format(time.RFC3339Nano)},
	}
	if retry != nil {
		meta["RetryContext"] = retry
	}
	return []byte(enc(map[string]any{"Data": map[string]any{"events": enc(evs)}, "Metadata": meta}))
}

// w1Records makes n W1 events for partition 0 with sequence numbers from first, with two poison
// records among them: one that is not JSON and one without its time.
func w1Records(n int, first int64) []core.Record {
	evs := bench.Generate(7, n, 20)
	for i := range evs {
		// 300 ms of event time per event (instead of 1 ms) so that minutes pass and windows
		// close, keeping the generator's out-of-orderness.
		evs[i].TS += int64(i) * 299
	}
	recs := bench.Records(evs)
	base := time.Unix(1_764_000_000, 0).UTC()
	for i := range recs {
		seq := strconv.FormatInt(first+int64(i), 10)
		recs[i].ID, recs[i].Offset = seq, seq
		recs[i].Time = base.Add(time.Duration(i) * time.Millisecond)
	}
	recs[123].Data = []byte("not json at all")
	recs[456].Data = []byte(`{"key":"sensor-0001","value":5}`)
	return recs
}

// expectedW1 runs the records through W1 in process, batch by batch, and returns the outputs.
func expectedW1(t testing.TB, recs []core.Record, size int) (outs []string, failed []string) {
	t.Helper()
	r, err := runner.New(runner.Config{Function: "w1", Store: memstate.New(nil),
		New: func(string) (runner.Processor, error) { return bench.Build(bench.W1) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(recs); i += size {
		res, err := r.Run(context.Background(), core.Batch{Partition: "0", Records: recs[i:min(i+size, len(recs))], Now: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Outputs {
			outs = append(outs, string(o.AppendJSON(nil)))
		}
		for _, f := range res.Failures {
			failed = append(failed, f.Record.Offset)
		}
	}
	return outs, failed
}

// startHandler builds internal/w1handler and starts it as the Functions host would: from the app
// root holding host.json and one folder per function, with the port in the environment.
func startHandler(t testing.TB, env ...string) string {
	t.Helper()
	app := t.TempDir()
	bin := filepath.Join(app, "handler")
	build := exec.Command("go", "build", "-o", bin, "./internal/w1handler")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the handler: %v\n%s", err, out)
	}
	host, err := azure.HostJSON("handler", 100)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := azure.FunctionJSON(azure.FunctionSpec{EventHub: "telemetry", Connection: "EventHubConnection", Outputs: "decisions"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(app, "EhW1"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"host.json": host, "EhW1/function.json": fn} {
		if err := os.WriteFile(filepath.Join(app, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := standin.FreePort(t)
	cmd := exec.Command(bin)
	cmd.Dir = app
	cmd.Env = append(os.Environ(), append(env,
		"FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port), "FUNCTIONS_CUSTOMHANDLER_WORKER_ID=test-worker", "FUNCTIONS_APP_ROOT_PATH="+app)...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: &logs}, &lockedWriter{w: &logs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(60 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("the handler exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the handler did not listen within 60 s (the host's limit): %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr
}

type reply struct {
	Outputs     map[string][]string
	Logs        []string
	ReturnValue any
}

func post(t testing.TB, url string, body []byte) (int, reply) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", fmt.Sprintf("inv-%d", time.Now().UnixNano()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rep reply
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("reply %q: %v", b, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	return resp.StatusCode, rep
}

// azurite starts Azurite with the given containers and returns the connection string and the
// environment gocloud.dev's azblob:// URLs need to reach it.
func azurite(t testing.TB, containers ...string) (conn string, env []string) {
	t.Helper()
	ep := standin.Azurite(t)
	conn = standin.AzuriteConnString(ep)
	for _, name := range containers {
		cc, err := container.NewClientFromConnectionString(conn, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cc.Create(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	host := strings.TrimPrefix(strings.TrimSuffix(ep, "/"+standin.AzuriteAccount), "http://")
	return conn, []string{"AZURE_STORAGE_ACCOUNT=" + standin.AzuriteAccount, "AZURE_STORAGE_KEY=" + standin.AzuriteKey,
		"AZURE_STORAGE_DOMAIN=" + host, "AZURE_STORAGE_PROTOCOL=http", "AZURE_STORAGE_CONNECTION_STRING="}
}

func openContainer(t testing.TB, conn, name string) *blob.Bucket {
	t.Helper()
	cc, err := container.NewClientFromConnectionString(conn, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := azureblob.OpenBucket(context.Background(), cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestCustomHandlerBinary starts the real handler binary as the host would, with its state and
// dead-letter container on Azurite, and posts the sample and 1,000 W1 events in host-shaped
// batches of 100 (two poison events among them), a redelivered batch and an undecodable body.
func TestCustomHandlerBinary(t *testing.T) {
	conn, env := azurite(t, "state", "dlq")
	url := startHandler(t, append(env, "EDDY_STATE_URL=azblob://state", "EDDY_DEADLETTER_URL=azblob://dlq?prefix=w1/")...)

	// The sample as captured: three events of partition 2, no window closes yet.
	status, rep := post(t, url+"/EhW1", sample(t))
	if status != 200 || len(rep.Outputs["outputs"]) != 0 || len(rep.Outputs["deadletter"]) != 0 || !strings.Contains(rep.Logs[0], "partition 2: 3 records, 0 skipped") {
		t.Fatalf("sample: %d %+v", status, rep)
	}

	recs := w1Records(1000, 100)
	wantOuts, wantFailed := expectedW1(t, recs, 100)
	if len(wantOuts) == 0 || !slices.Equal(wantFailed, []string{"223", "556"}) {
		t.Fatalf("reference: %d outputs, failed %v", len(wantOuts), wantFailed)
	}
	var gotOuts, gotFailed []string
	for i := 0; i < len(recs); i += 100 {
		status, rep := post(t, url+"/EhW1", hostBody(t, "0", recs[i:i+100], nil))
		if status != 200 {
			t.Fatalf("batch %d: %d %+v", i/100, status, rep)
		}
		gotOuts = append(gotOuts, rep.Outputs["outputs"]...)
		for _, f := range rep.Outputs["deadletter"] {
			var d struct{ Offset, Reason string }
			if err := json.Unmarshal([]byte(f), &d); err != nil {
				t.Fatal(err)
			}
			gotFailed = append(gotFailed, d.Offset)
		}
	}
	if strings.Join(gotOuts, "\n") != strings.Join(wantOuts, "\n") {
		t.Fatalf("outputs differ from the in-process run:\ngot %d\n%s\nwant %d\n%s", len(gotOuts), strings.Join(gotOuts, "\n"), len(wantOuts), strings.Join(wantOuts, "\n"))
	}
	if !slices.Equal(gotFailed, wantFailed) {
		t.Fatalf("dead-lettered %v, want %v", gotFailed, wantFailed)
	}

	// A redelivered batch (the host replays after a restart) is skipped: no output twice.
	status, rep = post(t, url+"/EhW1", hostBody(t, "0", recs[300:400], nil))
	if status != 200 || len(rep.Outputs["outputs"]) != 0 || !strings.Contains(rep.Logs[0], "100 records, 100 skipped") {
		t.Fatalf("redelivery: %d %+v", status, rep)
	}

	// An undecodable body is kept in the dead-letter container and acknowledged (a retry would not
	// decode it either, and would write another copy).
	status, rep = post(t, url+"/EhW1", []byte(`{"Data":{"events":"[\"x\"]"},"Metadata":{"PartitionContext":{"PartitionId":"0"}}}`))
	if status != 200 || len(rep.Outputs["deadletter"]) != 1 {
		t.Fatalf("undecodable: %d %+v", status, rep)
	}

	// The dead-letter container holds the poison records and the undecodable body.
	dlq := openContainer(t, conn, "dlq")
	var all bytes.Buffer
	it := dlq.List(&blob.ListOptions{Prefix: "w1/"})
	for {
		obj, err := it.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := dlq.ReadAll(context.Background(), obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	for _, want := range []string{`"offset":"223"`, `not json at all`, `"offset":"556"`, `SequenceNumberArray[0]: no sequence number`} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("dead-letter container lacks %s:\n%s", want, all.String())
		}
	}
	if t.Failed() {
		return
	}
	// The state is in the state container, one object per partition.
	st := openContainer(t, conn, "state")
	for _, key := range []string{"w1/0", "w1/2"} {
		if ok, err := st.Exists(context.Background(), key); err != nil || !ok {
			found := []string{}
			it := st.List(nil)
			for {
				o, err := it.Next(context.Background())
				if err != nil {
					break
				}
				found = append(found, o.Key)
			}
			t.Fatalf("state object %s missing (%v); have %v", key, err, found)
		}
	}
}
