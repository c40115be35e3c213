package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/spf13/cobra"
	_ "gocloud.dev/docstore/awsdynamodb/v2" // dynamodb:// views
	_ "gocloud.dev/docstore/gcpfirestore"   // firestore:// views

	"github.com/eddyhq/eddy/adapters/aws"
	_ "github.com/eddyhq/eddy/adapters/azure/tableview" // azuretable:// views
	"github.com/eddyhq/eddy/core/view"
	_ "github.com/eddyhq/eddy/core/view/docview" // dynamodb://, firestore://, docstore+mem:// views
	"github.com/eddyhq/eddy/core/view/viewhttp"
)

func newDashboardCmd(e *env) *cobra.Command {
	var addr, storeURL, awsURL, region string
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "dashboard --view URL | --aws FUNCTION_URL [--listen ADDR]",
		Short: "Serve the dashboard over a view store (the views a deployed function keeps)",
		Long: `dashboard serves eddy's dashboard and view API on localhost over a view store: the store a
function writes its views to (outputs.view_store of its spec, or EDDY_VIEW_STORE). The page lists
every function that keeps views in the store and reloads from it every --poll.

Stores: mem:// (this process only), file:///DIR (the directory eddy dev --view-store writes),
dynamodb://TABLE?partition_key=id, firestore://projects/P/databases/(default)/documents/C?name_field=id,
azuretable://TABLE (credentials from the environment, as the SDKs read them; see the README).

With --aws, it opens the dashboard a stack of eddy new --dashboard runs on AWS instead: a Lambda
behind a function URL with AuthType AWS_IAM, which browsers cannot sign for. dashboard serves it on
localhost and signs each request (SigV4, service lambda) with your AWS credentials, read as the
AWS CLI reads them; they need lambda:InvokeFunctionUrl on the dashboard function.`,
		Example: `  # Views written by eddy dev --view-store file:///tmp/views, from another shell
  eddy dashboard --view file:///tmp/views
  # The dashboard of a deployed stack (terraform output dashboard_url, or the stack's DashboardUrl)
  eddy dashboard --aws https://abc123.lambda-url.us-east-1.on.aws/`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (storeURL == "") == (awsURL == "") {
				return usagef("give --view URL (e.g. file:///tmp/views) or --aws FUNCTION_URL")
			}
			if err := checkLoopback("--listen", addr); err != nil {
				return err
			}
			if awsURL != "" {
				return dashboardAWS(cmd.Context(), e, awsURL, region, addr)
			}
			return dashboard(cmd.Context(), e, storeURL, addr, poll)
		},
	}
	cmd.Flags().StringVar(&storeURL, "view", "", "view store URL")
	cmd.Flags().StringVar(&awsURL, "aws", "", "the function URL of a deployed dashboard (AWS_IAM), to open with your AWS credentials")
	cmd.Flags().StringVar(&region, "region", "", "with --aws: the region to sign for (default: the function URL's)")
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
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Every page reloads on the same "refresh" event: one read of the cloud store answers them all.
	s := &viewhttp.Server{Store: store, Poll: poll, Logger: logger, CacheFor: time.Second}
	return serveLoopback(ctx, e, s.Handler(), addr, fmt.Sprintf("%s (%d functions with views)", storeURL, len(cs)))
}

// dashboardAWS serves a signing proxy to a dashboard behind an AWS_IAM function URL.
func dashboardAWS(ctx context.Context, e *env, rawURL, region, addr string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return usagef("--aws %q: %v", rawURL, err)
	}
	if region == "" {
		region = aws.FunctionURLRegion(u)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("--aws: AWS credentials: %w", err)
	}
	if region == "" {
		region = cfg.Region
	}
	h, err := aws.SigningProxy(u, region, cfg.Credentials)
	if err != nil {
		return usageError{err}
	}
	return serveLoopback(ctx, e, h, addr, fmt.Sprintf("%s (signed for lambda in %s)", u, region))
}

// serveLoopback serves h on addr until ctx ends.
func serveLoopback(ctx context.Context, e *env, h http.Handler, addr, what string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stderr, "eddy dashboard: http://%s/ over %s\n", ln.Addr(), what)
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
