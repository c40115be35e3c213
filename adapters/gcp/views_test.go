package gcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core/view"
)

// The function registered as Start registers it (Opener: the EDDY_* variables, read on the first
// event) writes its views to EDDY_VIEW_STORE: the sample CloudEvent through the real framework,
// delivered twice, then a later reading of the same sensor that closes its window; the view store
// holds the window once.
func TestPushWritesViews(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EDDY_STATE_URL", "mem://")
	t.Setenv("EDDY_OUTPUT_URL", fmt.Sprint("mem://gcp-views-out-", time.Now().UnixNano()))
	t.Setenv("EDDY_VIEW_STORE", "file://"+dir)
	fn, err := env.ParseSpec("eddy.yaml", []byte(`name: sensors
input: {key: key, time: ts, time_format: unix_ms}
window: {tumbling: 1s}
aggregates: [{name: n, count: true}, {name: avg, avg: value}]
views:
  - {name: latest, kind: latest}
  - {name: chart, kind: history, windows: 10}
`))
	if err != nil {
		t.Fatal(err)
	}
	gcp.Register("PushViews", gcp.Opener(func() (env.Function, error) { return fn, nil }))
	url := serve(t, "PushViews")
	h, body := readHTTPSample(t, "testdata/gcp-pubsub-cloudevent.http")
	for range 2 {
		req, _ := http.NewRequest("POST", url, strings.NewReader(string(body)))
		req.Header = h.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sample: status %d", resp.StatusCode)
		}
	}
	closer := sensorEvent{Key: "sensor-0001", TS: 1764086401200, Value: 84.25, ID: "closer"}
	if code := deliver(t, url, closer, binaryMode); code != http.StatusOK {
		t.Fatalf("closer: status %d", code)
	}

	ctx := context.Background()
	store, err := view.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	row, ok, err := store.Get(ctx, "sensors", "latest", "sensor-0001")
	var l view.LatestRow
	if err != nil || !ok || json.Unmarshal(row.Data, &l) != nil || string(l.Values) != `{"n":1,"avg":81.5}` || l.End.UnixMilli() != 1764086401000 {
		t.Fatalf("latest of sensor-0001: %s (found %v, %v), want the sample's window, n=1", row.Data, ok, err)
	}
	row, ok, err = store.Get(ctx, "sensors", "chart", "sensor-0001")
	var hr view.HistoryRow
	if err != nil || !ok || json.Unmarshal(row.Data, &hr) != nil || len(hr.Windows) != 1 {
		t.Errorf("chart of sensor-0001: %s (found %v, %v), want one window", row.Data, ok, err)
	}
	if cats, err := store.Catalogs(ctx); err != nil || len(cats) != 1 || cats[0].Function != "sensors" {
		t.Errorf("catalogs %+v, %v: want the function's", cats, err)
	}
}
