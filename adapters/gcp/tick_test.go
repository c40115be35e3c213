package gcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/gcp"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/driver"
	"github.com/eddyhq/eddy/examples/bench"
)

var registrations atomic.Int64

// client bounds every request of these tests, so that a stuck handler fails the test with its
// name instead of hanging until the test binary's timeout.
var client = &http.Client{Timeout: time.Minute}

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// failingList is a state driver whose List fails while fail is set: a state store outage as the
// tick sees it.
type failingList struct {
	driver.Store
	fail atomic.Bool
}

var errOutage = errors.New("state store unavailable")

func (d *failingList) List(ctx context.Context, prefix string, fn func(string) error) error {
	if d.fail.Load() {
		return errOutage
	}
	return d.Store.List(ctx, prefix, fn)
}

// postTick calls a tick endpoint and decodes the summary of a 200.
func postTick(t *testing.T, method, url string) (int, gcp.TickSummary, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum gcp.TickSummary
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("tick answered Content-Type %q", ct)
		}
		if err := json.Unmarshal(body, &sum); err != nil {
			t.Fatalf("tick summary %q: %v", body, err)
		}
	}
	return resp.StatusCode, sum, resp.Header
}

// Both entry points served by one functions-framework process, sharing one Function, as cmd/gcp
// runs them; the tick entry point also alone (FUNCTION_TARGET), as it is deployed. Events of two
// sensors come through the Pub/Sub entry point with the clock at their event times; a Scheduler
// tick before the 2 min idle timeout closes nothing, one after it closes the last window of each
// sensor (and resolves the alarm the first window raised), exactly once; GET is refused; a state
// store outage answers 500 so Scheduler retries.
func TestTickClosesIdleWindows(t *testing.T) {
	ps := newPubSub(t)
	drv := &failingList{Store: gcsDriver(t)}
	store := state.NewStore(drv, nil)
	out := ps.sink(t, "decisions", true)
	dead := ps.sink(t, "dead", false)
	clk := &clock{}
	w1 := bench.W1
	w1.Time.IdleTimeout = 2 * time.Minute
	var opens atomic.Int32
	open := gcp.OpenOnce(func(ctx context.Context) (*gcp.Function, error) {
		opens.Add(1)
		r, err := runner.New(runner.Config{Function: "w1", Store: store, Sink: out, DeadLetter: dead,
			New: func(string) (runner.Processor, error) { return buildW1(w1) }})
		if err != nil {
			return nil, err
		}
		return gcp.New(gcp.Config{Runner: r, DeadLetter: dead, Now: clk.now})
	})
	// Registrations are for the life of the test binary: fresh names let -count run it again.
	tickName := fmt.Sprintf("TickIdle%d", registrations.Add(1))
	gcp.Register(tickName+"Push", open)
	gcp.RegisterTick(tickName, open)
	base := serve(t, "")
	pushURL, tickURL := base+"/"+tickName+"Push", base+"/"+tickName

	m := bench.Start - bench.Start%60000 // a minute boundary
	evs := []sensorEvent{
		{Key: "sensor-a", TS: m + 5_000, Value: 10, ID: "a1"},
		{Key: "sensor-b", TS: m + 30_000, Value: 1.5, ID: "b1"},
		{Key: "sensor-a", TS: m + 20_000, Value: 96, ID: "a2"},
		{Key: "sensor-b", TS: m + 40_000, Value: 2.5, ID: "b2"},
		{Key: "sensor-a", TS: m + 65_000, Value: 20, ID: "a3"}, // closes a's first window
	}
	var last time.Time
	for _, ev := range evs {
		last = time.UnixMilli(ev.TS + 1_000) // processing time: a second after the event
		clk.set(last)
		resp, err := client.Do(binaryRequest(pushURL, ev))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("push %s: status %d", ev.ID, resp.StatusCode)
		}
	}
	gotW, gotD := outputLines(t, ps.drain(t, "decisions", 2, 30*time.Second))
	sameLines(t, "window results of the pushes", gotW, []string{windowLine("sensor-a", m, m+60_000, 2, 106, 53, 10, 96)})
	sameLines(t, "decisions of the pushes", gotD, []string{decisionLine("sensor-a", "firing", m, m+60_000)})

	// A minute after the last event: both sensors are quiet, neither for the idle timeout.
	early := last.Add(time.Minute)
	clk.set(early)
	code, sum, _ := postTick(t, http.MethodPost, tickURL)
	if want := (gcp.TickSummary{Now: early.UTC()}); code != http.StatusOK || sum != want {
		t.Fatalf("tick before the idle timeout: status %d, summary %+v, want 200 %+v", code, sum, want)
	}

	// Past the idle timeout of both: the watermark moves to the tick's time, closing a's second
	// window (and resolving its alarm) and b's only window. Anything the early tick had emitted
	// would show up here as an extra line.
	late := last.Add(2*time.Minute + time.Second)
	clk.set(late)
	code, sum, _ = postTick(t, http.MethodPost, tickURL)
	if want := (gcp.TickSummary{Now: late.UTC(), Windows: 2, Decisions: 1}); code != http.StatusOK || sum != want {
		t.Fatalf("tick after the idle timeout: status %d, summary %+v, want 200 %+v", code, sum, want)
	}
	gotW, gotD = outputLines(t, ps.drain(t, "decisions", 3, 30*time.Second))
	sameLines(t, "window results of the tick", gotW, []string{
		windowLine("sensor-a", m+60_000, m+120_000, 1, 20, 20, 20, 20),
		windowLine("sensor-b", m, m+60_000, 2, 4, 2, 1.5, 2.5),
	})
	sameLines(t, "decisions of the tick", gotD, []string{decisionLine("sensor-a", "resolved", m+60_000, m+120_000)})

	// The windows are closed for good: the next minute's tick finds nothing.
	clk.set(late.Add(time.Minute))
	if code, sum, _ := postTick(t, http.MethodPost, tickURL); code != http.StatusOK || sum.Windows+sum.Decisions+sum.Late+sum.Failed != 0 {
		t.Errorf("tick after everything closed: status %d, summary %+v, want nothing", code, sum)
	}

	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodHead} {
		if code, _, h := postTick(t, method, tickURL); code != http.StatusMethodNotAllowed || h.Get("Allow") != "POST" {
			t.Errorf("%s tick: status %d, Allow %q, want 405 and POST", method, code, h.Get("Allow"))
		}
	}

	drv.fail.Store(true)
	if code, _, _ := postTick(t, http.MethodPost, tickURL); code != http.StatusInternalServerError {
		t.Errorf("tick with the state store down: status %d, want 500 so that Scheduler retries", code)
	}
	drv.fail.Store(false)

	// Deployed alone (--entry-point TickIdleN), the tick answers at "/" and shares the same opener.
	only := serve(t, tickName)
	if code, sum, _ := postTick(t, http.MethodPost, only+"/"); code != http.StatusOK || sum.Windows != 0 {
		t.Errorf("tick served as FUNCTION_TARGET: status %d, summary %+v", code, sum)
	}
	if code, _, _ := postTick(t, http.MethodGet, only+"/"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET of the tick served as FUNCTION_TARGET: status %d, want 405", code)
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("the function was opened %d times; the entry points must share one", n)
	}
}

// A failed open answers 500 (Scheduler retries) and the next tick opens again; a tick with no
// state at all closes nothing.
func TestTickHandlerOpenFailure(t *testing.T) {
	store := gcsStore(t)
	var calls atomic.Int32
	h := gcp.TickHandler(func(ctx context.Context) (*gcp.Function, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("EDDY_STATE_URL is not set")
		}
		r, err := runner.New(runner.Config{Function: "w1", Store: store, New: newW1})
		if err != nil {
			return nil, err
		}
		return gcp.New(gcp.Config{Runner: r, DeadLetter: discardFailures{}, Now: func() time.Time { return time.UnixMilli(bench.Start) }})
	})
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "EDDY_STATE_URL is not set") {
		t.Fatalf("tick with a failing open: %d %q, want 500 naming the cause", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	want := `{"now":"2023-11-14T22:13:20Z","windows":0,"decisions":0,"late":0,"failed":0}` + "\n"
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Fatalf("tick after the open succeeded: %d %q, want 200 %q", rec.Code, rec.Body, want)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("open called %d times, want 2", n)
	}
}

// discardFailures is a dead-letter sink for tests that expect none.
type discardFailures struct{}

func (discardFailures) EmitFailures(context.Context, []*core.Failure) error { return nil }
