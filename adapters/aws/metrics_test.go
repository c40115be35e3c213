//go:build unix

package aws_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/adapters/aws"
)

func TestMetricsFromEnv(t *testing.T) {
	t.Setenv(aws.EnvMetrics, "off")
	if obs, err := aws.MetricsFromEnv(&bytes.Buffer{}); err != nil || obs != nil {
		t.Errorf("off: %v %v", obs, err)
	}
	t.Setenv(aws.EnvMetrics, "statsd")
	if _, err := aws.MetricsFromEnv(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "EDDY_METRICS") {
		t.Errorf("statsd: err %v, want one naming EDDY_METRICS", err)
	}
	t.Setenv(aws.EnvMetrics, "")
	t.Setenv(aws.EnvMetricsNamespace, "bad namespace")
	if _, err := aws.MetricsFromEnv(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), aws.EnvMetricsNamespace) {
		t.Errorf("bad namespace: err %v", err)
	}
}

// The real bootstrap under the Lambda RIE writes one CloudWatch EMF line per invocation on stdout,
// next to its outputs, with the batch's counts: 5 records, one of them poison (a dead letter).
func TestLambdaWritesEMF(t *testing.T) {
	rie := ensureRIE(t)
	boot := buildBootstrap(t)
	dir := t.TempDir()
	em := &emulator{t: t, rie: rie, boot: boot, env: []string{
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=us-east-1",
		"EDDY_FUNCTION=hot-sensors", "EDDY_STATE_URL=file://" + filepath.Join(dir, "state"),
		"EDDY_METRICS_NAMESPACE=eddy-test",
	}}
	em.start()
	t.Cleanup(em.kill)
	arrival := time.Now().Add(-1500 * time.Millisecond).Truncate(time.Millisecond)
	var recs []ktypes.Record
	for i := range 5 {
		data := fmt.Appendf(nil, `{"key":"sensor-1","ts":%d,"value":%d}`, arrival.UnixMilli()+int64(i), 40+i)
		if i == 2 {
			data = []byte("not json")
		}
		recs = append(recs, ktypes.Record{SequenceNumber: awssdk.String(fmt.Sprintf("4959%020d", i+1)), PartitionKey: awssdk.String("sensor-1"),
			Data: data, ApproximateArrivalTimestamp: awssdk.Time(arrival)})
	}
	ev := kinesisEvent("shardId-000000000007", "arn:aws:kinesis:us-east-1:000000000000:stream/in", recs)
	payload, _ := json.Marshal(ev)
	body, ok := em.invoke(payload)
	if !ok {
		t.Fatalf("invoke: %s\n%s", body, em.output())
	}
	// The bootstrap's stdout reaches the test through the emulator's pipe, which may deliver the
	// line after the invocation's answer on a busy machine: wait for it a while.
	var docs []map[string]any
	out := em.output()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(out, `{"_aws":`) && time.Now().Before(deadline); out = em.output() {
		time.Sleep(50 * time.Millisecond)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		// The RIE may prefix nothing; a Lambda log line is the function's line as written.
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(`{"_aws":`)) {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(line, &doc); err != nil {
			t.Fatalf("EMF line is not JSON: %v: %s", err, line)
		}
		docs = append(docs, doc)
	}
	if len(docs) != 1 {
		t.Fatalf("%d EMF lines, want 1 for the one invocation:\n%s", len(docs), em.output())
	}
	d := docs[0]
	dir0 := d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if dir0["Namespace"] != "eddy-test" {
		t.Errorf("namespace %v", dir0["Namespace"])
	}
	if d["Function"] != "hot-sensors" || d["Partition"] != "shardId-000000000007" {
		t.Errorf("function %v partition %v", d["Function"], d["Partition"])
	}
	for name, want := range map[string]float64{"Records": 5, "Events": 4, "DeadLetters": 1, "BatchErrors": 0, "StoreRoundTrips": 2} {
		if d[name] != want {
			t.Errorf("%s = %v, want %v", name, d[name], want)
		}
	}
	// The iterator age is the invocation's time minus the records' arrival: at least the 1.5 s
	// they were backdated, and less than the test's own bound.
	if age, _ := d["IteratorAge"].(float64); age < 1500 || age > 120000 {
		t.Errorf("iterator age %v ms, want between 1500 and 120000", d["IteratorAge"])
	}
	if _, ok := d["WatermarkLag"].(float64); !ok {
		t.Errorf("no watermark lag: %v", d)
	}
}
