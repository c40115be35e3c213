package gcp_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"
	"google.golang.org/api/option"

	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/memsink"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/blobstate"
	"github.com/eddyhq/eddy/examples/bench"
)

// objectRate is GCS's documented limit on writes to one object name: about one per second
// (cloud.google.com/storage/quotas); faster updates get 429.
const objectRate = time.Second

// throttledGCS is fake-gcs-server behind a handler that answers 429 to a write of an object
// written less than objectRate before, as GCS does, so that benchmarks see production's limit.
type throttledGCS struct {
	mu        sync.Mutex
	last      map[string]time.Time
	writes    int
	throttled int
}

var uploadName = regexp.MustCompile(`"name":\s*"([^"]+)"`)

func (g *throttledGCS) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && bytes.HasPrefix([]byte(r.URL.Path), []byte("/upload/")) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			name := r.URL.Query().Get("name")
			if m := uploadName.FindSubmatch(body); name == "" && m != nil {
				name = string(m[1])
			}
			g.mu.Lock()
			now := time.Now()
			if t, ok := g.last[name]; ok && now.Sub(t) < objectRate {
				g.throttled++
				g.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprintf(w, `{"error":{"code":429,"message":"The object %s exceeded the rate limit for object mutation operations (create, update, and delete)."}}`, name)
				return
			}
			g.last[name] = now
			g.writes++
			g.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// throttledStore is a state store on fake-gcs-server behind throttledGCS.
func throttledStore(b *testing.B) (*state.Store, *throttledGCS) {
	b.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	g := &throttledGCS{last: map[string]time.Time{}}
	hs := httptest.NewServer(g.wrap(srv.HTTPHandler()))
	b.Cleanup(hs.Close)
	ctx := context.Background()
	client, err := storage.NewClient(ctx, option.WithEndpoint(hs.URL+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	name := fmt.Sprintf("eddy-rate-%d", bucketSeq.Add(1))
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	bk, err := gcsblob.OpenBucket(ctx, nil, name, &gcsblob.Options{Client: client})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bk.Close() })
	d, err := blobstate.New(bk)
	if err != nil {
		b.Fatal(err)
	}
	return state.NewStore(d, nil), g
}

// rateFunction is W1 on one ordering key, state behind the throttle, outputs in memory.
func rateFunction(b *testing.B) (*gcp.Function, *throttledGCS) {
	b.Helper()
	store, g := throttledStore(b)
	out := sink.New(&memsink.Topic{}, nil)
	dead := sink.New(&memsink.Topic{}, nil)
	newProc := func(string) (runner.Processor, error) { return bench.Build(bench.W1) }
	r, err := runner.New(runner.Config{Function: "w1", Store: store, New: newProc, Sink: out, DeadLetter: dead})
	if err != nil {
		b.Fatal(err)
	}
	f, err := gcp.New(gcp.Config{Runner: r, DeadLetter: dead, Partition: gcp.FirstOf(gcp.ByOrderingKey, gcp.ByAttribute("key"))})
	if err != nil {
		b.Fatal(err)
	}
	return f, g
}

// oneKeyEvents is n standard events all on one key.
func oneKeyEvents(n int) [][]byte {
	var out [][]byte
	for _, e := range bench.Generate(5, n, 1) {
		out = append(out, e.AppendJSON(nil))
	}
	return out
}

// BenchmarkRatePushPerKey is push mode on one ordering key against a GCS that allows one write
// per second per object: each message is its own invocation and its own state commit, so the key
// runs at the object write rate. Reports events/s per key.
//
//	go test ./adapters/gcp -run '^$' -bench RatePushPerKey -benchtime 5x
func BenchmarkRatePushPerKey(b *testing.B) {
	f, g := rateFunction(b)
	evs := oneKeyEvents(b.N + 1)
	ctx := context.Background()
	// The first commit creates the object; the benchmark starts once it exists.
	first := gcp.Message{ID: "warm", Data: evs[0], OrderingKey: "sensor-0000", PublishTime: time.Now()}
	if err := f.Handle(ctx, &first); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		m := gcp.Message{ID: strconv.Itoa(i), Data: evs[i+1], OrderingKey: "sensor-0000", PublishTime: time.Now()}
		if err := f.Handle(ctx, &m); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s/key")
	b.ReportMetric(float64(g.throttled)/float64(b.N+1), "429s/event")
}

// BenchmarkRatePullPerKey is pull mode on one ordering key against the same throttled GCS:
// messages are gathered in rounds of up to 1,000 and each round commits the key's state once,
// so the key runs at about 1,000 events per object write. Reports events/s per key.
//
//	go test ./adapters/gcp -run '^$' -bench RatePullPerKey -benchtime 3x
func BenchmarkRatePullPerKey(b *testing.B) {
	const n = 5000
	f, g := rateFunction(b)
	evs := oneKeyEvents(n)
	var total time.Duration
	for range b.N {
		b.StopTimer()
		top := mempubsub.NewTopic()
		sub := mempubsub.NewSubscription(top, time.Minute)
		for _, e := range evs {
			// mempubsub has no ordering key; an attribute names the partition instead.
			if err := top.Send(context.Background(), &pubsub.Message{Body: e, Metadata: map[string]string{"key": "sensor-0000"}}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		finished := make(chan time.Duration, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, err := f.Pull(ctx, sub, gcp.PullOptions{MaxBatch: 1000, MaxWait: 100 * time.Millisecond, Progress: func(st gcp.PullStats) {
				if st.Acked == n {
					finished <- time.Since(start)
				}
			}})
			if err != nil {
				b.Error(err)
			}
		}()
		total += <-finished
		cancel()
		<-done
		top.Shutdown(context.Background())
		sub.Shutdown(context.Background())
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s/key")
	b.ReportMetric(float64(g.throttled)/float64(n*b.N), "429s/event")
}

// BenchmarkRatePushOverall is push mode with 20 invocations at once (the scaffold's
// max_instance_count, one request per instance), each on its own ordering key, against the
// throttled GCS. Reports events/s over all keys.
//
//	go test ./adapters/gcp -run '^$' -bench RatePushOverall -benchtime 3x
func BenchmarkRatePushOverall(b *testing.B) {
	const instances = 20
	f, g := rateFunction(b)
	evs := oneKeyEvents(b.N + 1)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for k := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("sensor-%04d", k)
			for i := range b.N {
				m := gcp.Message{ID: fmt.Sprintf("%d-%d", k, i), Data: evs[i], OrderingKey: key, PublishTime: time.Now()}
				if err := f.Handle(ctx, &m); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(instances*b.N)/el.Seconds(), "events/s")
	b.ReportMetric(float64(g.throttled)/float64(instances*b.N), "429s/event")
}

// BenchmarkRatePullOverall is pull mode (one service, rounds of up to 1,000) over 5,000
// standard events on 1,000 keys against the throttled GCS: each round commits each of its keys
// once, and a key's next commit waits for the object's next write second. Reports events/s over
// all keys.
//
//	go test ./adapters/gcp -run '^$' -bench RatePullOverall -benchtime 2x
func BenchmarkRatePullOverall(b *testing.B) {
	const n = 5000
	f, g := rateFunction(b)
	evs := bench.Generate(3, n, 1000)
	var total time.Duration
	for range b.N {
		b.StopTimer()
		top := mempubsub.NewTopic()
		sub := mempubsub.NewSubscription(top, time.Minute)
		for _, e := range evs {
			if err := top.Send(context.Background(), &pubsub.Message{Body: e.AppendJSON(nil), Metadata: map[string]string{"key": e.Key}}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		finished := make(chan time.Duration, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, err := f.Pull(ctx, sub, gcp.PullOptions{MaxBatch: 1000, MaxWait: 100 * time.Millisecond, Progress: func(st gcp.PullStats) {
				if st.Acked == n {
					finished <- time.Since(start)
				}
			}})
			if err != nil {
				b.Error(err)
			}
		}()
		total += <-finished
		cancel()
		<-done
		top.Shutdown(context.Background())
		sub.Shutdown(context.Background())
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
	b.ReportMetric(float64(g.throttled)/float64(n*b.N), "429s/event")
}
