//go:build unix

package aws_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/internal/standin"
)

// sensorViews is the function the view tests deploy: per sensor, 1 s windows of count and
// average, kept in a latest and a history view.
const sensorViews = `name: sensors
input: {key: key, time: ts, time_format: unix_ms}
window: {tumbling: 1s}
aggregates:
  - {name: n, count: true}
  - {name: avg, avg: value}
views:
  - {name: latest, kind: latest}
  - {name: chart, kind: history, windows: 10}
`

// The real bootstrap under the Lambda RIE, configured only through EDDY_* variables with
// EDDY_VIEW_STORE naming a DynamoDB table on dynalite, gets the sample Kinesis event (three
// sensor readings and a poison record) twice, as Lambda redelivers: the sensors' closed windows
// are in the table's views, read back through the view store, once.
func TestLambdaWritesViews(t *testing.T) {
	dep := standin.Dynalite(t)
	rie := ensureRIE(t)
	boot := buildBootstrap(t)
	createTable(t, dep, "eddy-views")
	specFile := filepath.Join(t.TempDir(), "eddy.yaml")
	if err := os.WriteFile(specFile, []byte(sensorViews), 0o644); err != nil {
		t.Fatal(err)
	}
	storeURL := "dynamodb://eddy-views?partition_key=id&region=us-east-1&endpoint=" + url.QueryEscape(dep)
	em := &emulator{t: t, rie: rie, boot: boot, env: []string{
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=us-east-1",
		"EDDY_TEST_SPEC=" + specFile, "EDDY_STATE_URL=mem://", "EDDY_VIEW_STORE=" + storeURL,
	}}
	em.start()
	t.Cleanup(em.kill)
	sample, err := os.ReadFile("testdata/aws-kinesis-event.json")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		body, ok := em.invoke(sample)
		if !ok || !strings.Contains(string(body), "batchItemFailures") {
			t.Fatalf("invoke: %s\nfunction log:\n%s", body, em.output())
		}
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	ctx := context.Background()
	store, err := view.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cats, err := store.Catalogs(ctx)
	if err != nil || len(cats) != 1 || cats[0].Function != "sensors" || len(cats[0].Views) != 2 {
		t.Fatalf("catalogs %+v, %v: want the function's", cats, err)
	}
	// sensor-0001's reading at 1.2 s closed the window [0, 1 s) of the shard; sensor-0003's
	// record is poison.
	want := map[string]string{"sensor-0001": `{"n":1,"avg":81.5}`, "sensor-0002": `{"n":1,"avg":12}`}
	rows, err := store.Scan(ctx, "sensors", "latest")
	if err != nil || len(rows) != len(want) {
		t.Fatalf("latest view: %d rows (%v), want %d\nfunction log:\n%s", len(rows), err, len(want), em.output())
	}
	for _, r := range rows {
		var l view.LatestRow
		if err := json.Unmarshal(r.Data, &l); err != nil || string(l.Values) != want[r.Key] || l.End.UnixMilli() != 1764086401000 {
			t.Errorf("latest of %s: %s, want the window ending at 1764086401000 with %s", r.Key, r.Data, want[r.Key])
		}
	}
	row, ok, err := store.Get(ctx, "sensors", "chart", "sensor-0001")
	var h view.HistoryRow
	if err != nil || !ok || json.Unmarshal(row.Data, &h) != nil || len(h.Windows) != 1 {
		t.Errorf("chart of sensor-0001: %s (found %v, %v), want one window despite the redelivery", row.Data, ok, err)
	}
}
