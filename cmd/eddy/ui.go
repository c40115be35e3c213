package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/viewhttp"

	// The view stores eddy dev and eddy dashboard open.
	_ "github.com/eddyhq/eddy/core/view/fileview"
	_ "github.com/eddyhq/eddy/core/view/memview"
)

// defaultUI is where `eddy dev --ui` and `eddy dashboard` serve the dashboard.
const defaultUI = "127.0.0.1:8788"

// devViews are the views eddy dev keeps for --ui when the spec declares none, so the dashboard
// works on any function.
func devViews(f *spec.Function) []view.Def {
	var defs []view.Def
	if len(f.Aggregates) > 0 {
		defs = append(defs, view.Def{Name: "latest", Kind: view.Latest}, view.Def{Name: "history", Kind: view.History, Windows: 120})
	}
	if len(f.Rules)+len(f.Anomalies)+len(f.Crossovers)+len(f.Patterns) > 0 {
		defs = append(defs, view.Def{Name: "firing", Kind: view.Firing}, view.Def{Name: "decisions", Kind: view.Decisions, TTL: time.Hour})
	}
	return defs
}

// devUI is the view writer, the live hub and the dashboard server of one eddy dev run; the zero
// value (no views, no --ui) does nothing.
type devUI struct {
	writer *view.Writer
	hub    *viewhttp.Hub
	srv    *http.Server
	done   chan struct{}
}

// checkLoopback refuses addresses other machines could reach: the dashboard has no
// authentication.
func checkLoopback(flag, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("%s %q: %v", flag, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return usagef("%s %q: the dashboard serves localhost only (127.0.0.1, ::1 or localhost); it has no authentication", flag, addr)
	}
	return nil
}

// startDevUI opens the view store and, with ui set, serves the dashboard on addr. storeURL
// overrides the spec's outputs.view_store; views are kept when the spec declares some, a store
// is named, or ui is set.
func startDevUI(ctx context.Context, e *env, f *spec.Function, ui bool, addr, storeURL string, logger *slog.Logger) (*devUI, error) {
	d := &devUI{}
	defs := f.ViewDefs()
	if storeURL == "" {
		storeURL = f.Outputs.ViewStore
	}
	if len(defs) == 0 && (ui || storeURL != "") {
		defs = devViews(f)
	}
	if len(defs) == 0 {
		return d, nil
	}
	if ui {
		if err := checkLoopback("--ui-addr", addr); err != nil {
			return nil, err
		}
	}
	if storeURL == "" {
		storeURL = "mem://"
	}
	store, err := view.Open(ctx, storeURL)
	if err != nil {
		return nil, fmt.Errorf("--view-store: %w", err)
	}
	cat := f.ViewCatalog()
	cat.Views = defs
	if err := store.PutCatalog(ctx, cat); err != nil {
		store.Close()
		return nil, err
	}
	d.hub = viewhttp.NewHub(nil)
	d.writer, err = view.NewWriter(store, f.Name, defs, &view.WriterOptions{OnWrite: d.hub.PublishOutputs})
	if err != nil {
		store.Close()
		return nil, err
	}
	if !ui {
		return d, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("--ui-addr: %w (is another eddy dev --ui running? pick another address with --ui-addr)", err)
	}
	// Pages refetch after each tick of the stream (at most every DefaultInterval): one read of the
	// store answers all of them.
	s := &viewhttp.Server{Store: store, Hub: d.hub, Logger: logger, CacheFor: viewhttp.DefaultInterval}
	d.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	d.done = make(chan struct{})
	fmt.Fprintf(e.stderr, "eddy dev: dashboard on http://%s/ (views in %s)\n", ln.Addr(), storeURL)
	go func() {
		defer close(d.done)
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("dashboard", "err", err)
		}
	}()
	return d, nil
}

// sink returns out teed with the view writer.
func (d *devUI) sink(out runner.Sink) runner.Sink {
	if d.writer == nil {
		return out
	}
	return view.Tee(out, d.writer)
}

// onBatch wraps the broker's batch hook to feed the dashboard's partition status.
func (d *devUI) onBatch(function string, next func(local.BatchInfo)) func(local.BatchInfo) {
	if d.hub == nil {
		return next
	}
	return func(bi local.BatchInfo) {
		if bi.Err == nil {
			d.hub.ObserveBatch(function, bi.Partition, &bi.Result, time.Now())
		}
		next(bi)
	}
}

func (d *devUI) close() {
	if d.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = d.srv.Shutdown(ctx)
		cancel()
		// SSE streams do not end by themselves; Close ends them.
		_ = d.srv.Close()
		<-d.done
	}
	if d.writer != nil {
		_ = d.writer.Store().Close()
	}
}
