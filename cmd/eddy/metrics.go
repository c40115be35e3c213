package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/eddyhq/eddy/core/metrics"
	"github.com/eddyhq/eddy/core/runner"
)

// devMetrics is `eddy dev`'s metrics: a Registry every partition's Runner reports to, served on
// /metrics (Prometheus text) and /metrics.json (a snapshot for dashboards) on the ingest address
// and, with --metrics ADDR, on a listener of its own.
type devMetrics struct {
	reg *metrics.Registry
	srv *http.Server
}

// addMetricsFlag registers --metrics.
func addMetricsFlag(fl *pflag.FlagSet, addr *string) {
	fl.StringVar(addr, "metrics", "", "also serve /metrics (Prometheus) and /metrics.json on this address (e.g. 127.0.0.1:9090); with --listen they are served there too")
}

// startDevMetrics makes the registry and, if addr is set, serves it there until Close.
func startDevMetrics(addr string, stderr io.Writer) (*devMetrics, error) {
	m := &devMetrics{reg: metrics.New()}
	if addr == "" {
		return m, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	m.routes(mux)
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "eddy dev: metrics on http://%s/metrics (and /metrics.json)\n", ln.Addr())
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "eddy dev: metrics: %v\n", err)
		}
	}()
	return m, nil
}

// Observer is what the Runner reports to.
func (m *devMetrics) Observer() runner.Observer { return m.reg }

func (m *devMetrics) routes(mux *http.ServeMux) {
	mux.Handle("GET /metrics", m.reg.Handler())
	mux.Handle("GET /metrics.json", m.reg.JSONHandler())
}

// Wrap serves /metrics and /metrics.json beside h's routes.
func (m *devMetrics) Wrap(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	m.routes(mux)
	mux.Handle("/", h)
	return mux
}

// Close stops the --metrics listener.
func (m *devMetrics) Close() error {
	if m.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.srv.Shutdown(ctx)
}
