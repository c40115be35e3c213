//go:build unix

package aws_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The Lambda binary carries no GCP or Azure SDK: cold starts load only what AWS needs.
func TestBootstrapLinksOnlyAWS(t *testing.T) {
	boot := buildBootstrap(t)
	out, err := exec.Command("go", "version", "-m", boot).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	var deps []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "dep" {
			deps = append(deps, f[1])
		}
	}
	if len(deps) == 0 {
		t.Fatalf("no dependencies listed:\n%s", out)
	}
	hasLambda := false
	for _, d := range deps {
		// gocloud.dev's portable packages (docstore, pubsub) link google.golang.org/api/googleapi and
		// gax-go for their error codes: small, no client. The SDKs themselves must stay out.
		for _, bad := range []string{"cloud.google.com/", "github.com/Azure/", "github.com/AzureAD/", "github.com/GoogleCloudPlatform/"} {
			if strings.HasPrefix(d, bad) {
				t.Errorf("the Lambda binary links %s", d)
			}
		}
		hasLambda = hasLambda || d == "github.com/aws/aws-lambda-go"
	}
	if !hasLambda {
		t.Errorf("aws-lambda-go is not among the dependencies: %v", deps)
	}
}

func zipSize(t testing.TB, boot string) int {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(boot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

// BenchmarkColdStart measures the bootstrap's init: from exec to its first request for an
// invocation on the Runtime API (a local stand-in), which is what Lambda bills as Init Duration.
// It also reports the zipped artifact's size.
func BenchmarkColdStart(b *testing.B) {
	dir := b.TempDir()
	boot := buildBootstrap(b)
	zipped := zipSize(b, boot)
	st, err := os.Stat(boot)
	if err != nil {
		b.Fatal(err)
	}
	next := make(chan struct{}, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/invocation/next") {
			select {
			case next <- struct{}{}:
			default:
			}
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer api.Close()
	env := append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"),
		"EDDY_FUNCTION=hot-sensors", "EDDY_STATE_URL=file://"+filepath.Join(dir, "state"),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret")
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, boot)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		select {
		case <-next:
		case <-ctx.Done():
			b.Fatalf("no invocation request: %s", stderr.String())
		}
		total += time.Since(t0)
		cancel()
		_ = cmd.Wait()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "init-ms")
	b.ReportMetric(float64(zipped), "zip-bytes")
	b.ReportMetric(float64(st.Size()), "binary-bytes")
}
