package gcp

import (
	"context"
	"fmt"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"
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
// a name twice is fatal, as in the framework.
func Register(name string, open func(ctx context.Context) (*Function, error)) {
	functions.CloudEvent(name, Lazy(open))
}

// Lazy returns a CloudEvent function that opens the Function on first use (retrying after a
// failed open) and then handles every event with it: the function Register registers.
func Lazy(open func(ctx context.Context) (*Function, error)) func(context.Context, event.Event) error {
	var (
		mu sync.Mutex
		fn *Function
	)
	get := func(ctx context.Context) (*Function, error) {
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
	return func(ctx context.Context, e event.Event) error {
		f, err := get(ctx)
		if err != nil {
			return err
		}
		return f.HandleCloudEvent(ctx, e)
	}
}
