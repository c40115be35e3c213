package aws_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/eddyhq/eddy/adapters/aws"
)

// The signing proxy forwards the dashboard's requests signed for the "lambda" service: the
// function-URL side recomputes the signature over what arrived and finds it equal, and the
// response comes back as it was.
func TestSigningProxy(t *testing.T) {
	creds := awssdk.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "token"}
	var gotAuth, wantAuth, path string
	fnURL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, path = r.Header.Get("Authorization"), r.URL.RequestURI()
		at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			http.Error(w, "no X-Amz-Date", 400)
			return
		}
		// Re-sign what arrived, with the signed headers only, as the service verifies it.
		check, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
		for _, h := range strings.Split(strings.Split(strings.SplitAfter(gotAuth, "SignedHeaders=")[1], ",")[0], ";") {
			if h != "host" {
				check.Header.Set(h, r.Header.Get(h))
			}
		}
		check.Header.Del("Authorization")
		check.Header.Del("X-Amz-Date")
		check.Header.Del("X-Amz-Security-Token")
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, check, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "lambda", "eu-west-1", at); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		wantAuth = check.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"function":"press"}]`)
	}))
	defer fnURL.Close()
	target, _ := url.Parse(fnURL.URL + "/")
	h, err := aws.SigningProxy(target, "eu-west-1", awssdk.NewCredentialsCache(awssdk.CredentialsProviderFunc(func(context.Context) (awssdk.Credentials, error) { return creds, nil })))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(h)
	defer proxy.Close()
	req, _ := http.NewRequest("GET", proxy.URL+"/api/functions?x=1", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", "browser=stuff") // dropped: not the dashboard's
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `[{"function":"press"}]` {
		t.Fatalf("proxied: %d %s", resp.StatusCode, body)
	}
	if path != "/api/functions?x=1" {
		t.Errorf("forwarded to %s", path)
	}
	if !strings.Contains(gotAuth, "Credential=AKIDEXAMPLE/") || !strings.Contains(gotAuth, "/eu-west-1/lambda/aws4_request") {
		t.Errorf("Authorization %q: not SigV4 for lambda in eu-west-1", gotAuth)
	}
	if gotAuth != wantAuth {
		t.Errorf("signature does not verify:\n got %s\nwant %s", gotAuth, wantAuth)
	}
	resp, err = http.Post(proxy.URL+"/api/functions", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

func TestFunctionURLRegion(t *testing.T) {
	for in, want := range map[string]string{
		"https://abcdefg.lambda-url.us-east-2.on.aws/": "us-east-2",
		"https://example.com/":                         "",
		"http://127.0.0.1:9000/":                       "",
	} {
		u, _ := url.Parse(in)
		if got := aws.FunctionURLRegion(u); got != want {
			t.Errorf("FunctionURLRegion(%s) = %q, want %q", in, got, want)
		}
	}
}
