//go:build unix

package azure_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/internal/standin"
)

// The handler Open builds writes the function's views to EDDY_VIEW_STORE, here Azure Table
// storage on Azurite's table endpoint: the sample Event Hubs invocation, delivered twice as the
// host retries, leaves each sensor's closed window in the table once.
func TestInvokeWritesViews(t *testing.T) {
	ep := standin.AzuriteTable(t)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", standin.AzuriteTableConnString(ep))
	ctx := context.Background()
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
	table := fmt.Sprint("eddyviews", time.Now().UnixNano()%1e9)
	storeURL := "azuretable://" + table + "?create=true"
	h, closeFn, err := azure.Open(ctx, env.Config{StateURL: "mem://", OutputURL: fmt.Sprint("mem://azure-views-", table), ViewStoreURL: storeURL}, fn)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	for i := range 2 {
		if status, rep := h.Invoke(ctx, "OnEvents", fmt.Sprint("inv-", i), sample(t)); status != 200 {
			t.Fatalf("invocation %d: status %d %+v", i, status, rep)
		}
	}
	store, err := view.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// sensor-0001's reading at 1.2 s closed the partition's window [0, 1 s).
	want := map[string]string{"sensor-0001": `{"n":1,"avg":81.5}`, "sensor-0002": `{"n":1,"avg":12}`}
	rows, err := store.Scan(ctx, "sensors", "latest")
	if err != nil || len(rows) != len(want) {
		t.Fatalf("latest view: %d rows (%v), want %d", len(rows), err, len(want))
	}
	for _, r := range rows {
		var l view.LatestRow
		if err := json.Unmarshal(r.Data, &l); err != nil || string(l.Values) != want[r.Key] || l.End.UnixMilli() != 1764086401000 {
			t.Errorf("latest of %s: %s, want the window ending at 1764086401000 with %s", r.Key, r.Data, want[r.Key])
		}
	}
	row, ok, err := store.Get(ctx, "sensors", "chart", "sensor-0002")
	var hr view.HistoryRow
	if err != nil || !ok || json.Unmarshal(row.Data, &hr) != nil || len(hr.Windows) != 1 {
		t.Errorf("chart of sensor-0002: %s (found %v, %v), want one window despite the retry", row.Data, ok, err)
	}
}
