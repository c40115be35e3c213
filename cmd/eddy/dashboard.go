package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	_ "gocloud.dev/docstore/awsdynamodb/v2" // dynamodb:// views
	_ "gocloud.dev/docstore/gcpfirestore"   // firestore:// views

	_ "github.com/eddyhq/eddy/adapters/azure/tableview" // azuretable:// views
	"github.com/eddyhq/eddy/core/view"
	_ "github.com/eddyhq/eddy/core/view/docview" // dynamodb://, firestore://, docstore+mem:// views
	"github.com/eddyhq/eddy/core/view/viewhttp"
)

func newDashboardCmd(e *env) *cobra.Command {
	var addr, storeURL string
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "dashboard --view URL [--listen ADDR]",
		Short: "Serve the dashboard over a view store (the views a deployed function keeps)",
		Long: `dashboard serves eddy's dashboard and view API on localhost over a view store: the store a
function writes its views to (outputs.view_store of its spec, or EDDY_VIEW_STORE). The page lists
every function that keeps views in the store and reloads from it every --poll.

Stores: mem:// (this process only), file:///DIR (the directory eddy dev --view-store writes),
dynamodb://TABLE?partition_key=id, firestore://projects/P/databases/(default)/documents/C?name_field=id,
azuretable://TABLE (credentials from the environment, as the SDKs read them; see the README).`,
		Example: `  # Views written by eddy dev --view-store file:///tmp/views, from another shell
  eddy dashboard --view file:///tmp/views`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if storeURL == "" {
				return usagef("--view URL is required (e.g. file:///tmp/views)")
			}
			if err := checkLoopback("--listen", addr); err != nil {
				return err
			}
			return dashboard(cmd.Context(), e, storeURL, addr, poll)
		},
	}
	cmd.Flags().StringVar(&storeURL, "view", "", "view store URL")
	cmd.Flags().StringVarP(&addr, "listen", "l", defaultUI, "serve on this loopback address")
	cmd.Flags().DurationVar(&poll, "poll", 5*time.Second, "how often open pages reload from the store")
	return cmd
}

func dashboard(ctx context.Context, e *env, storeURL, addr string, poll time.Duration) error {
	store, err := view.Open(ctx, storeURL)
	if err != nil {
		return fmt.Errorf("--view: %w", err)
	}
	defer store.Close()
	cs, err := store.Catalogs(ctx)
	if err != nil {
		return fmt.Errorf("--view %s: %w", storeURL, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := &viewhttp.Server{Store: store, Poll: poll, Logger: logger}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stderr, "eddy dashboard: http://%s/ over %s (%d functions with views)\n", ln.Addr(), storeURL, len(cs))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	_ = srv.Close()
	return nil
}
