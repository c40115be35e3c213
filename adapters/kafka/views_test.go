package kafka_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/adapters/kafka"
	"github.com/eddyhq/eddy/core/view"
)

// kafka.Open tees the views of a function that declares some after its output, in the store
// EDDY_VIEW_STORE names: the catalog is there once it opened, and a store it cannot open is an
// error naming the variable. (The rows themselves are written as in every adapter: see
// adapters/env's TestOpenViews.)
func TestOpenWritesViews(t *testing.T) {
	ctx := context.Background()
	fn, err := env.ParseSpec("eddy.yaml", []byte("name: press\ninput: {key: machine, time: ts}\nwindow: {tumbling: 10s}\naggregates: [{name: n, count: true}]\nviews: [{name: latest, kind: latest}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := kafka.Config{SourceURL: "kafka://127.0.0.1:1/readings", StateURL: "mem://", ViewStoreURL: "redis://cache/views"}
	if _, _, err := kafka.Open(ctx, cfg, fn, nil); err == nil || !strings.Contains(err.Error(), "EDDY_VIEW_STORE") || !strings.Contains(err.Error(), `no driver for scheme "redis"`) {
		t.Errorf("unknown view store: %v", err)
	}
	cfg.ViewStoreURL = ""
	if _, _, err := kafka.Open(ctx, cfg, fn, nil); err == nil || !strings.Contains(err.Error(), "names no view store") {
		t.Errorf("views without a store: %v", err)
	}
	dir := t.TempDir()
	cfg.ViewStoreURL = "file://" + dir
	_, closeFn, err := kafka.Open(ctx, cfg, fn, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeFn()
	store, err := view.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if cats, err := store.Catalogs(ctx); err != nil || len(cats) != 1 || cats[0].Function != "press" || len(cats[0].Views) != 1 {
		t.Errorf("catalogs %+v, %v: want press's", cats, err)
	}
}
