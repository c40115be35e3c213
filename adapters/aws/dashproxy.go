package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FunctionURLRegion reads the region of a Lambda function URL
// (https://URLID.lambda-url.REGION.on.aws/), or "" for another host.
func FunctionURLRegion(u *url.URL) string {
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) == 5 && parts[1] == "lambda-url" && parts[3] == "on" && parts[4] == "aws" {
		return parts[2]
	}
	return ""
}

// SigningProxy forwards requests to target (a function URL with AuthType AWS_IAM, such as the
// dashboard's) signed with Signature Version 4 for the service "lambda" in region, with the
// credentials creds gives: a browser cannot sign, so `eddy dashboard --aws URL` serves this on
// localhost. Only GET and HEAD pass (the dashboard reads), with the few request headers it needs,
// so that nothing a browser adds can spoil the signature.
func SigningProxy(target *url.URL, region string, creds awssdk.CredentialsProvider) (http.Handler, error) {
	if target.Scheme != "https" && target.Scheme != "http" || target.Host == "" {
		return nil, fmt.Errorf("aws: signing proxy: %q is not an http(s) URL", target)
	}
	if region == "" {
		return nil, errors.New("aws: signing proxy: no region (not in the function URL's host: pass it)")
	}
	if creds == nil {
		return nil, errors.New("aws: signing proxy: no credentials")
	}
	signer := v4.NewSigner()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			keep := http.Header{}
			for _, h := range []string{"Accept", "Last-Event-ID"} {
				if v := pr.In.Header.Get(h); v != "" {
					keep.Set(h, v)
				}
			}
			pr.Out.Header = keep
		},
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			c, err := creds.Retrieve(r.Context())
			if err != nil {
				return nil, fmt.Errorf("aws credentials: %w", err)
			}
			if err := signer.SignHTTP(r.Context(), c, r, emptySHA256, "lambda", region, time.Now()); err != nil {
				return nil, fmt.Errorf("sign %s: %w", r.URL.Path, err)
			}
			return http.DefaultTransport.RoundTrip(r)
		}),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "eddy dashboard: "+err.Error(), http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard proxy passes GET and HEAD only", http.StatusMethodNotAllowed)
			return
		}
		rp.ServeHTTP(w, r)
	}), nil
}

// emptySHA256 is the payload hash of a request without a body.
var emptySHA256 = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
