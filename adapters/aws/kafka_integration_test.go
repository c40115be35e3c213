//go:build unix

package aws_test

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/aws"
	"github.com/eddyhq/eddy/adapters/aws/internal/testfn/fn"
)

// rieLines returns the function's output and dead-letter log lines from the emulator's log: the
// aws log output's slog lines ("output", "failure") or the log: sink's lines (metadata and body),
// dead letters as a map with at least "partition" and "offset".
func rieLines(t *testing.T, log string) (outs []string, dead []map[string]any) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var l struct {
			Output   json.RawMessage   `json:"output"`
			Failure  map[string]any    `json:"failure"`
			Metadata map[string]string `json:"metadata"`
			Body     json.RawMessage   `json:"body"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch {
		case l.Output != nil:
			outs = append(outs, string(l.Output))
		case l.Failure != nil:
			dead = append(dead, l.Failure)
		case l.Metadata["eddy_type"] == "deadletter":
			dead = append(dead, map[string]any{"partition": l.Metadata["eddy_partition"], "offset": l.Metadata["eddy_offset"]})
		case l.Metadata["eddy_type"] != "" && l.Body != nil:
			outs = append(outs, string(l.Body))
		}
	}
	return outs, dead
}

// The bootstrap under the Lambda Runtime Interface Emulator serves Lambda Kafka events in their
// real format: the vendor samples (MSK and self-managed, whose values are not the function's JSON,
// so they are dead-lettered naming topic-partition and offset; the legacy self-managed shape of the
// same record is a redelivery and applies nothing), then telemetry on two partitions, delivered
// twice and once more after the environment is killed: the decisions come once.
func TestLambdaKafkaRIE(t *testing.T) {
	rie := ensureRIE(t)
	boot := buildBootstrap(t)
	em := &emulator{t: t, rie: rie, boot: boot, env: []string{"EDDY_FUNCTION=" + fn.Name, "EDDY_STATE_URL=file://" + t.TempDir(), "EDDY_OUTPUT_URL=log:"}}
	em.start()
	t.Cleanup(em.kill)
	invoke := func(payload []byte) aws.KafkaResponse {
		t.Helper()
		body, ok := em.invoke(payload)
		if !ok {
			t.Fatalf("invocation failed: %s\n%s", body, em.output())
		}
		var resp aws.KafkaResponse
		if err := json.Unmarshal(body, &resp); err != nil || resp.BatchItemFailures == nil {
			t.Fatalf("response %s: %v", body, err)
		}
		return resp
	}
	for _, c := range []struct {
		file   string
		failed int
	}{
		{"testdata/aws-msk-kafka-event.json", 1},
		{"testdata/aws-selfmanaged-kafka-event.json", 1},
		{"testdata/aws-selfmanaged-kafka-event-legacy.json", 0},
	} {
		if resp := invoke(readFile(t, c.file)); resp.Records != 1 || resp.Failed != c.failed {
			t.Errorf("%s: response %+v, want 1 record, %d failed", c.file, resp, c.failed)
		}
	}
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	payload := kafkaPayload(t, "aws:kafka", map[int][]string{0: sensorEvents("s1", 20, t0, 70), 1: sensorEvents("s2", 20, t0, 40)}, 0)
	if resp := invoke(payload); resp.Partitions != 2 || resp.Records != 40 || resp.Failed != 0 {
		t.Fatalf("response %+v", resp)
	}
	outs, dead := rieLines(t, em.output())
	if len(dead) != 2 || dead[0]["partition"] != "AWSKafkaTopic-0" || dead[0]["offset"] != "0" || dead[1]["partition"] != "mytopic-0" || dead[1]["offset"] != "15" {
		t.Fatalf("dead letters %v", dead)
	}
	hot := 0
	for _, o := range outs {
		if strings.Contains(o, `"type":"decision"`) && strings.Contains(o, `"key":"s1"`) {
			hot++
		}
	}
	if hot == 0 || len(outs) == 0 {
		t.Fatalf("no decision for s1 among %d outputs", len(outs))
	}
	invoke(payload)
	again, dead2 := rieLines(t, em.output())
	if len(again) != len(outs) || len(dead2) != len(dead) {
		t.Fatalf("the redelivered event emitted %d outputs and %d dead letters more", len(again)-len(outs), len(dead2)-len(dead))
	}
	// A new execution environment (its log starts empty) gets the batch again.
	em.restart()
	invoke(payload)
	if outs3, dead3 := rieLines(t, em.output()); len(outs3) != 0 || len(dead3) != 0 {
		t.Fatalf("after a restart the redelivered event emitted %d outputs and %d dead letters", len(outs3), len(dead3))
	}
}
