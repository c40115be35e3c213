//go:build unix

package tableview_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"encoding/json"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/eddyhq/eddy/adapters/azure/tableview"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/driver"
	"github.com/eddyhq/eddy/core/view/viewtest"
	"github.com/eddyhq/eddy/internal/standin"
)

var seq atomic.Int64

// TestConformanceAzurite runs the suite on Azurite's table service.
func TestConformanceAzurite(t *testing.T) {
	ep := standin.AzuriteTable(t)
	cs := standin.AzuriteTableConnString(ep)
	svc, err := aztables.NewServiceClientFromConnectionString(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	viewtest.Run(t, func(t *testing.T) driver.Store {
		c := svc.NewClient(fmt.Sprintf("eddyviews%d", seq.Add(1)))
		if err := tableview.CreateTable(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		return tableview.New(c)
	}, viewtest.Config{Writers: 4, Batches: 6})

	t.Run("URLAndLargeRow", func(t *testing.T) {
		t.Setenv("AZURE_STORAGE_CONNECTION_STRING", cs)
		ctx := context.Background()
		s, err := view.Open(ctx, "azuretable://eddyviewsurl?create=true")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// A history of 300 windows with long values spans several 30,000-byte properties.
		w, err := view.NewWriter(s, "fn", []view.Def{{Name: "chart", Kind: view.History, Windows: 300}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var outs []core.Output
		for i := range 300 {
			r := viewtest.Win("fn", "k", i, 0)
			r.Values = append(r.Values, core.NamedValue{Name: "pad_" + strings.Repeat("é", 100), Num: 1})
			outs = append(outs, r)
		}
		if err := w.Emit(ctx, outs); err != nil {
			t.Fatal(err)
		}
		row, ok, err := s.Get(ctx, "fn", "chart", "k")
		if err != nil || !ok || len(row.Data) < 60000 {
			t.Fatalf("large row: found %v, %d bytes, %v", ok, len(row.Data), err)
		}
		var h view.HistoryRow
		if err := json.Unmarshal(row.Data, &h); err != nil || len(h.Windows) != 300 {
			t.Fatalf("large row decodes to %d windows (%v)", len(h.Windows), err)
		}
		t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
		t.Setenv("AZURE_STORAGE_ACCOUNT", "")
		if _, err := view.Open(ctx, "azuretable://t"); err == nil || !strings.Contains(err.Error(), "AZURE_STORAGE_CONNECTION_STRING") {
			t.Errorf("opening without credentials: %v, want an error naming the settings", err)
		}
	})
}
