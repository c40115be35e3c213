package s3state_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob/s3blob"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/blobstate"
	_ "github.com/eddyhq/eddy/core/state/blobstate/s3state"
	"github.com/eddyhq/eddy/core/state/statetest"
)

// fakeS3 serves gofakes3 (in-memory backend) over HTTP, as an S3 endpoint the real SDK talks to:
// path-style addressing, SigV4-signed requests, conditional PutObject (If-Match / If-None-Match).
type fakeS3 struct {
	url    string
	client *s3.Client
	seq    atomic.Int64
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	srv := httptest.NewServer(conditionalDeletes(backend, faker.Server()))
	t.Cleanup(srv.Close)
	return &fakeS3{url: srv.URL, client: s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: awssdk.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	})}
}

// conditionalDeletes adds what gofakes3 v1.2.0 lacks: it ignores If-Match on DeleteObject, which
// S3 honours (conditional deletes), so a stale delete would go through. Mutating requests are
// serialized so that the ETag check and the delete are atomic with respect to writes; everything
// else, conditional writes included, is gofakes3's own.
func conditionalDeletes(b gofakes3.Backend, next http.Handler) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if match := r.Header.Get("If-Match"); r.Method == http.MethodDelete && match != "" {
			bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			obj, err := b.HeadObject(bucket, key)
			if err != nil || gofakes3.FormatETag(obj.Hash) != match {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusPreconditionFailed)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// bucket creates a fresh bucket.
func (f *fakeS3) bucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("eddy-state-%d", f.seq.Add(1))
	if _, err := f.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// TestConformanceS3 runs the state drivers' conformance suite on S3's stand-in: revisions are
// ETags, creates are If-None-Match "*" and updates If-Match, as on S3.
func TestConformanceS3(t *testing.T) {
	f := newFakeS3(t)
	ctx := context.Background()
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		b, err := s3blob.OpenBucket(ctx, f.client, f.bucket(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		d, err := blobstate.New(b)
		if err != nil {
			t.Fatal(err)
		}
		if d.Provider() != "s3" {
			t.Fatalf("provider %q, want s3", d.Provider())
		}
		return func(opts *state.Options) *state.Store { return state.NewStore(d, opts) }
	}, statetest.Config{})
}

// stateURL is the s3:// URL of bucket on the stand-in, as a deployed function configures it.
func (f *fakeS3) stateURL(bucket string) string {
	q := url.Values{}
	q.Set("region", "us-east-1")
	q.Set("endpoint", f.url)
	q.Set("use_path_style", "true")
	q.Set("prefix", "eddy/")
	return "s3://" + bucket + "?" + q.Encode()
}

func openURL(t *testing.T, u string) *state.Store {
	t.Helper()
	s, err := state.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("state.Open(%s): %v", u, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// counter counts records per key and emits one output per record carrying the key's count after
// it, with an id derived from the record: applied twice, a record would emit a different count
// under the same id.
type counter struct{ counts map[string]int64 }

func (c *counter) Restore(b []byte) error {
	c.counts = map[string]int64{}
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, &c.counts)
}

func (c *counter) Snapshot() ([]byte, error) { return json.Marshal(c.counts) }

func (c *counter) Process(_ context.Context, b core.Batch) (core.Result, error) {
	var res core.Result
	for _, r := range b.Records {
		c.counts[r.Key]++
		res.Outputs = append(res.Outputs, &core.Decision{ID: "rec-" + r.Offset, Function: "count", Rule: "n", Key: r.Key,
			State: "counted", Values: []core.NamedValue{{Name: "n", Num: float64(c.counts[r.Key])}}})
	}
	return res, nil
}

func (c *counter) Tick(context.Context, time.Time) (core.Result, error) { return core.Result{}, nil }

// outputs keeps every emitted output by id, failing on one id emitted with two contents. With
// failAt > 0 its failAt-th Emit delivers the outputs and then fails: the process died between
// emit and commit.
type outputs struct {
	mu     sync.Mutex
	byID   map[string]string
	total  int
	emits  int
	failAt int
	err    error
}

var errCrash = errors.New("crashed between emit and commit")

func (o *outputs) Emit(_ context.Context, outs []core.Output) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, out := range outs {
		d := out.(*core.Decision)
		js := string(d.AppendJSON(nil))
		if prev, ok := o.byID[d.ID]; ok && prev != js && o.err == nil {
			o.err = fmt.Errorf("output %s emitted as %s and as %s", d.ID, prev, js)
		}
		o.byID[d.ID] = js
		o.total++
	}
	o.emits++
	if o.emits == o.failAt {
		return errCrash
	}
	return nil
}

func newRunner(t *testing.T, s *state.Store, sink runner.Sink) *runner.Runner {
	t.Helper()
	r, err := runner.New(runner.Config{Function: "count", Store: s, Sink: sink,
		New: func(string) (runner.Processor, error) { return &counter{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func stream(n, keys int) ([]core.Record, map[string]int64) {
	recs := make([]core.Record, n)
	want := map[string]int64{}
	for i := range recs {
		k := "sensor-" + strconv.Itoa((i*7919)%keys)
		recs[i] = core.Record{ID: strconv.Itoa(i + 1), Offset: strconv.Itoa(i + 1), Key: k, Data: []byte("x")}
		want[k]++
	}
	return recs, want
}

func committed(t *testing.T, s *state.Store, partition string) (runner.Envelope, map[string]int64) {
	t.Helper()
	e, err := s.Get(context.Background(), "count/"+partition)
	if err != nil || !e.Found {
		t.Fatalf("no committed state for %s: %v", partition, err)
	}
	var env runner.Envelope
	if err := env.Unmarshal(e.Value); err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	if err := c.Restore(env.Snapshot); err != nil {
		t.Fatal(err)
	}
	return env, c.counts
}

// A Runner over s3:// whose process dies between emitting a batch and committing it: the retry,
// from a fresh process (a new store on the same bucket), re-emits identical outputs under the same
// ids and commits once, so the counts are exact and no output differs from an uninterrupted run.
func TestRunnerCrashBetweenEmitAndCommit(t *testing.T) {
	f := newFakeS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	ctx := context.Background()
	recs, want := stream(600, 17)
	u := f.stateURL(f.bucket(t))
	// A small chunk size spreads each value over several objects, so the commit is a multi-object
	// write guarded by the head object's ETag.
	open := func() *state.Store { return openURL(t, u+"&chunk_size=512") }
	out := &outputs{byID: map[string]string{}, failAt: 3}
	r := newRunner(t, open(), out)
	crashes := 0
	for lo := 0; lo < len(recs); {
		b := core.Batch{Partition: "shardId-000000000000", Records: recs[lo:min(len(recs), lo+50)], Now: time.Unix(1000, 0)}
		res, err := r.Run(ctx, b)
		if errors.Is(err, errCrash) {
			// The process is gone; Lambda retries the same batch in a new one.
			crashes++
			r = newRunner(t, open(), out)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := b.Records[len(b.Records)-1].Offset; res.Checkpoint != want {
			t.Fatalf("checkpoint %q after the batch ending at %s", res.Checkpoint, want)
		}
		lo += 50
	}
	if crashes != 1 {
		t.Fatalf("%d crashes, want 1", crashes)
	}
	if out.err != nil {
		t.Fatal(out.err)
	}
	if len(out.byID) != len(recs) || out.total != len(recs)+50 {
		t.Fatalf("%d distinct outputs of %d emitted, want %d distinct and the crashed batch's 50 again", len(out.byID), out.total, len(recs))
	}
	env, counts := committed(t, open(), "shardId-000000000000")
	if env.Offset != "600" || !mapsEqual(counts, want) {
		t.Fatalf("committed offset %s counts %v, want 600 %v", env.Offset, counts, want)
	}
}

// Runners in several processes (stores) race on one partition over s3://: S3's conditional
// writes make every commit but one per revision fail, and the losers reload and reapply, so each
// record is applied once.
func TestRunnersRaceOnS3(t *testing.T) {
	f := newFakeS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	ctx := context.Background()
	recs, want := stream(1200, 40)
	u := f.stateURL(f.bucket(t))
	const runners = 4
	out := &outputs{byID: map[string]string{}}
	var wg sync.WaitGroup
	errs := make(chan error, runners)
	for i := range runners {
		r := newRunner(t, openURL(t, u), out)
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := 60 + 17*i
			// Each runner delivers the partition in order from its start, in its own batches.
			for lo := 0; lo < len(recs); lo += size {
				if _, err := r.Run(ctx, core.Batch{Partition: "p", Records: recs[max(0, lo-size/2):min(len(recs), lo+size)], Now: time.Unix(1000, 0)}); err != nil {
					errs <- fmt.Errorf("runner %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if out.err != nil {
		t.Fatal(out.err)
	}
	if len(out.byID) != len(recs) {
		t.Fatalf("%d distinct outputs, want %d", len(out.byID), len(recs))
	}
	env, counts := committed(t, openURL(t, u), "p")
	if env.Offset != "1200" || !mapsEqual(counts, want) {
		t.Fatalf("committed offset %s counts %v, want 1200 %v", env.Offset, counts, want)
	}
	// Per key, the outputs count 1..n: applied once each, in order.
	per := map[string][]float64{}
	for _, js := range out.byID {
		var d struct {
			Key    string
			Values map[string]float64
		}
		if err := json.Unmarshal([]byte(js), &d); err != nil {
			t.Fatal(err)
		}
		per[d.Key] = append(per[d.Key], d.Values["n"])
	}
	for k, n := range want {
		got := slices.Sorted(slices.Values(per[k]))
		for i, v := range got {
			if v != float64(i+1) {
				t.Fatalf("key %s: counts %v, want 1..%d", k, got, n)
			}
		}
	}
	t.Logf("%d outputs emitted for %d records", out.total, len(recs))
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
