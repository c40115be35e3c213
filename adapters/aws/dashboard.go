package aws

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	_ "gocloud.dev/docstore/awsdynamodb/v2" // dynamodb:// views

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core/view"
	_ "github.com/eddyhq/eddy/core/view/docview"  // dynamodb:// views
	_ "github.com/eddyhq/eddy/core/view/fileview" // file:// views (tests)
	_ "github.com/eddyhq/eddy/core/view/memview"  // mem:// views (tests)
	"github.com/eddyhq/eddy/core/view/viewhttp"
)

// EnvViewStore names the view store the function writes its views to and the dashboard reads,
// e.g. "dynamodb://NAME-views?partition_key=id".
const EnvViewStore = env.VarViewStore

// DashboardPoll is how often an open dashboard page reloads from the store on Lambda. A function
// URL buffers responses, so the page polls (each poll is a few invocations) instead of streaming.
const DashboardPoll = 10 * time.Second

// OpenDashboard opens the view store EDDY_VIEW_STORE names and returns the dashboard and view API
// over it (package viewhttp). Close the returned closer when done.
func OpenDashboard(ctx context.Context) (http.Handler, func() error, error) {
	u := os.Getenv(EnvViewStore)
	if u == "" {
		return nil, nil, fmt.Errorf("aws: dashboard: no view store: set %s (e.g. dynamodb://NAME-views?partition_key=id)", EnvViewStore)
	}
	store, err := view.Open(ctx, u)
	if err != nil {
		return nil, nil, fmt.Errorf("aws: dashboard: %s: %w", EnvViewStore, err)
	}
	s := &viewhttp.Server{Store: store, Poll: DashboardPoll}
	return s.Handler(), store.Close, nil
}

// StartDashboard serves the dashboard over EDDY_VIEW_STORE as a Lambda function behind a function
// URL (FunctionURLHandler). The URL's AuthType AWS_IAM keeps it closed: only SigV4-signed requests
// of principals allowed lambda:InvokeFunctionUrl reach it. It returns only when the store cannot be
// opened.
func StartDashboard() error {
	h, _, err := OpenDashboard(context.Background())
	if err != nil {
		return err
	}
	lambda.Start(FunctionURLHandler(h))
	return nil
}

// FunctionURLHandler serves h to Lambda function URL events (payload format 2.0, also API
// Gateway HTTP APIs'), in the URL's default BUFFERED invoke mode: the response is collected and
// returned whole, so h must not stream (viewhttp's event stream then ends after its hello and
// browsers poll).
func FunctionURLHandler(h http.Handler) func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	return func(ctx context.Context, ev events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		req, err := functionURLRequest(ctx, ev)
		if err != nil {
			return events.LambdaFunctionURLResponse{StatusCode: http.StatusBadRequest, Body: err.Error() + "\n",
				Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}}, nil
		}
		return functionURLResponse(viewhttp.ServeBuffered(h, req)), nil
	}
}

// functionURLRequest rebuilds the HTTP request of a function URL event.
func functionURLRequest(ctx context.Context, ev events.LambdaFunctionURLRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("function URL event %s: no requestContext.http.method", ev.RequestContext.RequestID)
	}
	path := ev.RawPath
	if path == "" {
		path = "/"
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("function URL event %s: body: %w", ev.RequestContext.RequestID, err)
		}
	}
	u := &url.URL{Scheme: "https", Host: ev.RequestContext.DomainName, Path: path, RawQuery: ev.RawQueryString}
	if p, err := url.PathUnescape(path); err == nil {
		u.Path, u.RawPath = p, path
	}
	// http.NewRequest rather than httptest's, which panics on a bad method.
	req, err := http.NewRequestWithContext(ctx, method, "https://function.url/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("function URL event %s: %w", ev.RequestContext.RequestID, err)
	}
	req.URL, req.RequestURI, req.Host = u, u.RequestURI(), u.Host
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	return req, nil
}

// functionURLResponse is a buffered response as a function URL answer: text as is, anything else
// base64, cookies apart.
func functionURLResponse(b *viewhttp.Buffered) events.LambdaFunctionURLResponse {
	if b.Header.Get("Content-Type") == "" && len(b.Body) > 0 {
		b.Header.Set("Content-Type", http.DetectContentType(b.Body))
	}
	r := events.LambdaFunctionURLResponse{StatusCode: b.Code, Headers: map[string]string{}}
	for k, vs := range b.Header {
		if k == "Set-Cookie" {
			r.Cookies = append(r.Cookies, vs...)
			continue
		}
		r.Headers[k] = strings.Join(vs, ", ")
	}
	if isText(b.Header.Get("Content-Type")) {
		r.Body = string(b.Body)
	} else {
		r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString(b.Body), true
	}
	return r
}

// isText tells the content types whose bodies go back as they are; others are base64-encoded,
// as the payload format requires for binary bodies.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || mt == "application/javascript" ||
		mt == "image/svg+xml" || strings.HasSuffix(mt, "+json")
}
