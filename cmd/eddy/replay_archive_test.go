package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"

	"github.com/eddyhq/eddy/examples/bench"
	"github.com/eddyhq/eddy/internal/standin"
)

// workloadLines is a standard workload's input: n events of 300 keys, one JSON object a line.
func workloadLines(n int) [][]byte {
	var lines [][]byte
	for _, e := range bench.Generate(21, n, 300) {
		lines = append(lines, e.AppendJSON(nil))
	}
	return lines
}

// firehoseObjects lays lines out as Firehose does: objects under YYYY/MM/DD/HH/ named
// <stream>-<version>-<time>-<uuid>, gzip JSON lines, and every third one plain JSON back to back
// (no delimiter configured).
func firehoseObjects(t testing.TB, lines [][]byte, per int) map[string][]byte {
	objs := map[string][]byte{}
	start := time.UnixMilli(bench.Start).UTC()
	for i := 0; i*per < len(lines); i++ {
		part := lines[i*per : min((i+1)*per, len(lines))]
		// Three hours apart, so that --from/--to (with their margin of an hour) can pick one.
		at := start.Add(time.Duration(i) * 3 * time.Hour)
		name := fmt.Sprintf("w/%s/eddy-w-1-%s-%08x-0000-4000-8000-000000000000", at.Format("2006/01/02/15"), at.Format("2006-01-02-15-04-05"), i)
		if i%3 == 2 {
			objs[name] = bytes.Join(part, nil)
			continue
		}
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		for _, l := range part {
			zw.Write(l)
			zw.Write([]byte{'\n'})
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		objs[name+".gz"] = z.Bytes()
	}
	return objs
}

// standinBuckets starts the three blob stand-ins and returns a bucket URL for each, the process
// environment set as gocloud's openers read it.
func standinBuckets(t testing.TB) map[string]string {
	t.Helper()
	ctx := context.Background()
	urls := map[string]string{}

	backend := s3mem.New()
	if err := backend.CreateBucket("archive"); err != nil {
		t.Fatal(err)
	}
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	urls["s3"] = "s3://archive?endpoint=" + s3.URL + "&use_path_style=true&disable_https=true&region=us-east-1"

	// The storage client reads objects through the XML API, which fake-gcs-server serves on its
	// public host.
	port := standin.FreePort(t)
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: uint16(port),
		PublicHost: fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "archive"})
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(gcs.URL(), "http://"))
	urls["gcs"] = "gs://archive"

	conn := standin.AzuriteConnString(standin.Azurite(t))
	cc, err := container.NewClientFromConnectionString(conn, "archive", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
	urls["azure"] = "azblob://archive?localemu=true"
	return urls
}

// putObjects writes objects to the bucket at url.
func putObjects(t testing.TB, url string, objs map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for k, v := range objs {
		if err := b.WriteAll(ctx, k, v, nil); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
}

// withPrefix puts a prefix into a bucket URL, before its query.
func withPrefix(url, prefix string) string {
	u, q, _ := strings.Cut(url, "?")
	if q != "" {
		q = "?" + q
	}
	return u + "/" + prefix + q
}

func replayTo(t testing.TB, o replayOpts) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	o.progress = "never"
	o.onCorrupt = cmpOr(o.onCorrupt, "fail")
	err := replay(context.Background(), &env{stdout: &out, stderr: &errOut}, o)
	return out.String(), errOut.String(), err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// A replay from Firehose objects in each blob stand-in (gofakes3 for S3, fake-gcs-server,
// Azurite) writes the same bytes as from the same events in a local file, on the four standard
// workloads and for 1 and 3 workers; a corrupt object, an empty prefix and a missing bucket are
// clear errors.
func TestReplayArchiveStandins(t *testing.T) {
	urls := standinBuckets(t)
	lines := workloadLines(30_000)
	local := t.TempDir() + "/w.ndjson"
	if err := os.WriteFile(local, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	objs := firehoseObjects(t, lines, 4000)
	for name, url := range urls {
		putObjects(t, url, objs)
		for _, w := range []string{"w1", "w2", "w3", "w4"} {
			spec := "../../examples/bench/" + w + ".yaml"
			want, _, err := replayTo(t, replayOpts{spec: spec, input: local, workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, workers := range []int{1, 3} {
				got, stderr, err := replayTo(t, replayOpts{spec: spec, input: withPrefix(url, "w/"), workers: workers})
				if err != nil {
					t.Fatalf("%s %s: %v", name, w, err)
				}
				if got != want || len(want) == 0 {
					t.Fatalf("%s %s %d workers: output differs from the local file's at line %d", name, w, workers, firstDiff(got, want))
				}
				if !strings.Contains(stderr, "30000 events") {
					t.Fatalf("%s: summary %q", name, stderr)
				}
			}
		}
		// Pruned by time: the second object only.
		from := time.UnixMilli(bench.Start).UTC().Add(3 * time.Hour)
		_, stderr, err := replayTo(t, replayOpts{spec: "../../examples/bench/w1.yaml", input: withPrefix(url, "w/"),
			from: from.Format(time.RFC3339), to: from.Add(10 * time.Minute).Format(time.RFC3339)})
		if err != nil || !strings.HasPrefix(stderr, "4000 events") {
			t.Fatalf("%s time range: %v %s", name, err, stderr)
		}
		if _, _, err := replayTo(t, replayOpts{spec: "../../examples/bench/w1.yaml", input: withPrefix(url, "nothing/")}); err == nil || !strings.Contains(err.Error(), "no objects under the prefix") {
			t.Fatalf("%s empty prefix: %v", name, err)
		}
	}

	// A corrupt gzip object in the middle: named, failing by default, skipped and reported with
	// --on-corrupt skip.
	bad := firehoseObjects(t, lines[:3000], 1000)
	for k, v := range bad {
		if strings.Contains(k, "-00000001-") {
			v = bytes.Clone(v)
			v[len(v)/2] ^= 0xff
			bad[k] = v
		}
	}
	url := urls["s3"]
	bb := map[string][]byte{}
	var badName string
	for k, v := range bad {
		bb["bad/"+strings.TrimPrefix(k, "w/")] = v
		if strings.Contains(k, "-00000001-") {
			badName = "bad/" + strings.TrimPrefix(k, "w/")
		}
	}
	putObjects(t, url, bb)
	_, _, err := replayTo(t, replayOpts{spec: "../../examples/bench/w1.yaml", input: withPrefix(url, "bad/")})
	if err == nil || !strings.Contains(err.Error(), badName) {
		t.Fatalf("corrupt object: %v, want an error naming %s", err, badName)
	}
	_, stderr, err := replayTo(t, replayOpts{spec: "../../examples/bench/w1.yaml", input: withPrefix(url, "bad/"), onCorrupt: "skip"})
	if err != nil || !strings.Contains(stderr, "skipped a corrupt object") || !strings.Contains(stderr, badName) || !strings.Contains(stderr, "1 corrupt objects skipped") {
		t.Fatalf("corrupt object skipped: %v\n%s", err, stderr)
	}
	// A bucket that does not exist.
	_, _, err = replayTo(t, replayOpts{spec: "../../examples/bench/w1.yaml", input: strings.Replace(withPrefix(url, "w/"), "s3://archive", "s3://no-such-bucket", 1)})
	if err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("missing bucket: %v", err)
	}
}

// BenchmarkReplayArchive compares a replay of W1 from a local file with one from the same events
// as gzip Firehose objects of 20,000 events in each blob stand-in (in-process gofakes3 and
// fake-gcs-server; Azurite is a Node process): the events/s of each.
func BenchmarkReplayArchive(b *testing.B) {
	const n = 200_000
	urls := standinBuckets(b)
	lines := workloadLines(n)
	local := b.TempDir() + "/w.ndjson"
	if err := os.WriteFile(local, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
		b.Fatal(err)
	}
	objs := firehoseObjects(b, lines, 20_000)
	for _, name := range []string{"file", "s3", "gcs", "azure"} {
		input := local
		if name != "file" {
			putObjects(b, urls[name], objs)
			input = withPrefix(urls[name], "w/")
		}
		b.Run(name, func(b *testing.B) {
			cpu0 := cpuTime()
			for range b.N {
				_, stderr, err := replayTo(b, replayOpts{spec: "../../examples/bench/w1.yaml", input: input})
				if err != nil || !strings.HasPrefix(stderr, "200000 events") {
					b.Fatalf("%v %s", err, stderr)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			// This process's CPU: the replay's, and the in-process S3 and GCS stand-ins' (Azurite
			// is a process of its own).
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(n*b.N), "cpu-ns/event")
		})
	}
}
