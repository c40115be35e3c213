package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyhq/eddy/core"
)

// Register registers the CloudEvent function name with functions-framework-go. Call it from an
// init function of a non-main package at the root of the deployed module, as Cloud Run functions
// require:
//
//	func init() { gcp.Register("OnMessage", open) }
//
// and deploy with --entry-point OnMessage (or run FUNCTION_TARGET=OnMessage locally). open builds
// the Function on the first event rather than in init, where no context, credentials or error
// handling exist; if it fails, that event is redelivered and the next one tries again. Registering
// a name twice is fatal, as in the framework. To share one Function with RegisterTick's entry
// point, pass both the same OpenOnce(open).
func Register(name string, open func(ctx context.Context) (*Function, error)) {
	functions.CloudEvent(name, Lazy(open))
}

// RegisterTick registers the HTTP function name (see TickHandler) that Cloud Scheduler calls every
// minute or so to close the windows of partitions that went quiet: Pub/Sub invokes the function
// only when a message comes, so without a tick the last windows of a quiet ordering key would stay
// open. Deploy it as its own function from the same source (--entry-point name, --trigger-http,
// authenticated: a Scheduler job with an OIDC token of an account that may only invoke it). Where
// both entry points are served by one process (FUNCTION_TARGET unset, each at "/"+name), give them
// one Function:
//
//	func init() {
//		open := gcp.OpenOnce(openFunction)
//		gcp.Register("OnMessage", open)
//		gcp.RegisterTick("Tick", open)
//	}
func RegisterTick(name string, open func(ctx context.Context) (*Function, error)) {
	functions.HTTP(name, TickHandler(open))
}

// OpenOnce returns an opener that calls open the first time it is asked and then returns the same
// Function for good; after a failed open the next call tries again. It is safe for concurrent use,
// and what lets the Pub/Sub and tick entry points of one instance share a Function (and its state
// store and topic connections).
func OpenOnce(open func(ctx context.Context) (*Function, error)) func(ctx context.Context) (*Function, error) {
	var (
		mu sync.Mutex
		fn *Function
	)
	return func(ctx context.Context) (*Function, error) {
		mu.Lock()
		defer mu.Unlock()
		if fn != nil {
			return fn, nil
		}
		f, err := open(ctx)
		if err != nil {
			return nil, fmt.Errorf("open function: %w", err)
		}
		if f == nil {
			return nil, fmt.Errorf("open function: returned no Function")
		}
		fn = f
		return fn, nil
	}
}

// Lazy returns a CloudEvent function that opens the Function on first use (retrying after a
// failed open) and then handles every event with it: the function Register registers.
func Lazy(open func(ctx context.Context) (*Function, error)) func(context.Context, event.Event) error {
	get := OpenOnce(open)
	return func(ctx context.Context, e event.Event) error {
		f, err := get(ctx)
		if err != nil {
			return err
		}
		return f.HandleCloudEvent(ctx, e)
	}
}

// TickSummary is the JSON body of a successful tick: what the tick closed.
type TickSummary struct {
	// Now is the processing time the partitions were advanced to.
	Now time.Time `json:"now"`
	// Windows counts the window results emitted (windows the idle timeout closed).
	Windows int `json:"windows"`
	// Decisions counts the decisions emitted (alarms those windows raised or resolved, expired
	// pattern matches).
	Decisions int `json:"decisions"`
	// Late counts late events emitted.
	Late int `json:"late"`
	// Failed counts dead-lettered records.
	Failed int `json:"failed"`
}

// summarize is res's counts as a TickSummary.
func summarize(now time.Time, res core.Result) TickSummary {
	st := res.Stats
	return TickSummary{Now: now.UTC(), Windows: st.Windows, Decisions: st.Decisions, Late: st.Late, Failed: st.Failed}
}

// TickHandler returns the HTTP function RegisterTick registers. It answers POST only (Cloud
// Scheduler's method; 405 otherwise, so a stray GET from a browser or a probe changes nothing),
// opens the Function on first use, ticks every partition with stored state at the Function's
// clock (Config.Now), and answers 200 with a TickSummary. A failed open or state store error
// answers 500, which makes Scheduler retry the job (as its retry config allows) and the next
// minute's tick catch up anyway: a tick is idempotent.
func TickHandler(open func(ctx context.Context) (*Function, error)) http.HandlerFunc {
	get := OpenOnce(open)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "tick: method "+r.Method+" not allowed; Cloud Scheduler POSTs", http.StatusMethodNotAllowed)
			return
		}
		ctx := r.Context()
		f, err := get(ctx)
		if err != nil {
			slog.Default().ErrorContext(ctx, "tick: function did not open", "error", err)
			http.Error(w, "tick: "+err.Error(), http.StatusInternalServerError)
			return
		}
		now := f.now()
		res, err := f.Tick(ctx, now)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sum := summarize(now, res)
		f.log.InfoContext(ctx, "tick", "now", sum.Now, "windows", sum.Windows, "decisions", sum.Decisions, "late", sum.Late, "failed", sum.Failed)
		body, err := json.Marshal(sum)
		if err != nil { // cannot happen with these field types; answer anyway
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(append(body, '\n'))
	}
}
