package aws_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/adapters/aws"
)

// FunctionURLHandler turns an http.Handler into a Lambda handler for function URL events; a
// generated project's cmd/awsdashboard does this with the dashboard (aws.StartDashboard).
func ExampleFunctionURLHandler() {
	h := aws.FunctionURLHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
	}))
	// In Lambda: lambda.Start(h). Here, one event as a function URL delivers it.
	resp, _ := h(context.Background(), events.LambdaFunctionURLRequest{
		RawPath: "/api/functions", RawQueryString: "limit=5",
		RequestContext: events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET"}},
	})
	fmt.Println(resp.StatusCode, resp.Body)
	// Output: 200 GET /api/functions?limit=5
}

// Function URL events are outside input: any path, query, headers and body (base64 or not) give
// an answer, never a panic or an error that would fail the invocation.
func FuzzFunctionURLHandler(f *testing.F) {
	f.Add("/api/functions", "limit=5", "GET", "", false, "accept", "*/*")
	f.Add("/%zz", "a=%", "POST", "%%%", true, "", "")
	f.Add("", "", "", "aGVsbG8=", true, "Content-Type", "text/plain")
	h := aws.FunctionURLHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	f.Fuzz(func(t *testing.T, path, query, method, body string, b64 bool, hk, hv string) {
		resp, err := h(context.Background(), events.LambdaFunctionURLRequest{RawPath: path, RawQueryString: query, Body: body, IsBase64Encoded: b64,
			Headers:        map[string]string{hk: hv},
			RequestContext: events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: method}}})
		if err != nil || resp.StatusCode < 200 {
			t.Fatalf("%+v %v", resp, err)
		}
	})
}
