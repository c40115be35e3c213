package viewhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/memview"
	"github.com/eddyhq/eddy/core/view/viewhttp"
	"github.com/eddyhq/eddy/core/view/viewtest"
)

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCacheFor: with CacheFor, identical requests within it get the first one's answer (the store
// changed in between), other queries and servers without it read the store, errors are not kept,
// and the answer is read again once CacheFor passed.
func TestCacheFor(t *testing.T) {
	ctx := context.Background()
	store := view.NewStore(memview.New(), nil)
	if err := store.PutCatalog(ctx, &view.Catalog{Function: "fn", Views: defs, Aggregates: []string{"count", "avg"}}); err != nil {
		t.Fatal(err)
	}
	w, err := view.NewWriter(store, "fn", defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	emit := func(key string) {
		t.Helper()
		if err := w.Emit(ctx, []core.Output{viewtest.Win("fn", key, 1, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	emit("a")
	cached := httptest.NewServer((&viewhttp.Server{Store: store, CacheFor: time.Hour}).Handler())
	defer cached.Close()
	short := httptest.NewServer((&viewhttp.Server{Store: store, CacheFor: 30 * time.Millisecond}).Handler())
	defer short.Close()
	fresh := httptest.NewServer((&viewhttp.Server{Store: store}).Handler())
	defer fresh.Close()
	const rows = "/api/functions/fn/views/latest/rows?limit=50&sort=key"

	_, before := getBody(t, cached.URL+rows)
	_, shortBefore := getBody(t, short.URL+rows)
	emit("b")
	if code, got := getBody(t, cached.URL+rows); code != 200 || got != before {
		t.Errorf("within CacheFor: %d %s, want the first answer %s", code, got, before)
	}
	_, now := getBody(t, fresh.URL+rows)
	if now == before {
		t.Fatalf("without CacheFor the rows did not change after a write: %s", now)
	}
	if _, got := getBody(t, cached.URL+rows+"&x=1"); got != now {
		t.Errorf("another query answered from the cache: %s, want %s", got, now)
	}
	time.Sleep(40 * time.Millisecond)
	if _, got := getBody(t, short.URL+rows); got != now || got == shortBefore {
		t.Errorf("after CacheFor passed: %s, want the store's %s", got, now)
	}

	// An error is not kept: the function appears, the next request finds it.
	const other = "/api/functions/late/views/latest/rows"
	if code, _ := getBody(t, cached.URL+other); code != 404 {
		t.Fatalf("unknown function: %d, want 404", code)
	}
	if err := store.PutCatalog(ctx, &view.Catalog{Function: "late", Views: defs}); err != nil {
		t.Fatal(err)
	}
	if code, body := getBody(t, cached.URL+other); code != 200 {
		t.Errorf("after the catalog was written: %d %s, want 200 (errors are not cached)", code, body)
	}

	// Many identical requests at once share one answer.
	const fresh2 = "/api/functions/fn/views/latest/rows?limit=7"
	var wg sync.WaitGroup
	got := make([]string, 50)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := getBody(t, cached.URL+fresh2)
			if code != 200 {
				t.Errorf("request %d: %d %s", i, code, body)
			}
			got[i] = body
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] || got[i] == "" {
			t.Fatalf("request %d answered %q, request 0 %q", i, got[i], got[0])
		}
	}
}
