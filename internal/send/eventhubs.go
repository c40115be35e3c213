package send

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/eddyhq/eddy/internal/ehbatch"
)

// EnvEventHubsConnection is the environment variable with an Event Hubs connection string; when
// set, it is used instead of Microsoft Entra credentials.
const EnvEventHubsConnection = "EVENTHUB_CONNECTION_STRING"

// EventHubsProducer is the part of *azeventhubs.ProducerClient EventHubs uses.
type EventHubsProducer interface {
	ehbatch.Producer
	Close(ctx context.Context) error
}

// EventHubs publishes to an Event Hub in batches of one partition key each (the message's key),
// so that Event Hubs puts all the events of a key on one partition, in order. Messages without a
// key go in batches without one (the service spreads them). Batches of different keys are sent
// in parallel; the SDK retries transient errors.
type EventHubs struct {
	prod    EventHubsProducer
	hub     string
	workers int
}

// NewEventHubs publishes through prod, which Close closes; hub names it in errors; workers bounds
// the batches in flight.
func NewEventHubs(prod EventHubsProducer, hub string, workers int) *EventHubs {
	return &EventHubs{prod: prod, hub: hub, workers: max(workers, 1)}
}

// openEventHubs reads eventhubs://NAMESPACE/HUB?concurrency=N. NAMESPACE is the namespace's name
// or host name (NAME.servicebus.windows.net); credentials come from EVENTHUB_CONNECTION_STRING,
// else from azidentity's default chain (environment, workload or managed identity, Azure CLI).
func openEventHubs(_ context.Context, u *url.URL, _ Options) (*EventHubs, error) {
	ns, hub := u.Host, strings.Trim(u.Path, "/")
	if ns == "" || hub == "" || strings.Contains(hub, "/") {
		return nil, fmt.Errorf("send to %q: want eventhubs://NAMESPACE/HUB", u.Redacted())
	}
	workers := 16
	for k, v := range u.Query() {
		switch k {
		case "concurrency":
			n, err := positiveParam(u, k, v[0])
			if err != nil {
				return nil, err
			}
			workers = n
		default:
			return nil, fmt.Errorf("send to %q: unknown parameter %q (want concurrency)", u.Redacted(), k)
		}
	}
	if conn := os.Getenv(EnvEventHubsConnection); conn != "" {
		endpoint, entity := connFields(conn)
		if endpoint != ns && !strings.HasPrefix(endpoint, ns+".") {
			return nil, fmt.Errorf("send to %q: %s is for the namespace %q, not %q", u.Redacted(), EnvEventHubsConnection, endpoint, ns)
		}
		name := hub
		if entity != "" {
			if entity != hub {
				return nil, fmt.Errorf("send to %q: %s is for the event hub %q (EntityPath), not %q", u.Redacted(), EnvEventHubsConnection, entity, hub)
			}
			name = "" // the SDK wants the hub in one place only
		}
		prod, err := azeventhubs.NewProducerClientFromConnectionString(conn, name, nil)
		if err != nil {
			return nil, fmt.Errorf("send to %q: %s: %w", u.Redacted(), EnvEventHubsConnection, err)
		}
		return NewEventHubs(prod, hub, workers), nil
	}
	if !strings.Contains(ns, ".") {
		ns += ".servicebus.windows.net"
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("send to %q: Azure credentials (or set %s): %w", u.Redacted(), EnvEventHubsConnection, err)
	}
	prod, err := azeventhubs.NewProducerClient(ns, hub, cred, nil)
	if err != nil {
		return nil, fmt.Errorf("send to %q: %w", u.Redacted(), err)
	}
	return NewEventHubs(prod, hub, workers), nil
}

// connFields returns the host of a connection string's Endpoint and its EntityPath.
func connFields(conn string) (endpoint, entity string) {
	for part := range strings.SplitSeq(conn, ";") {
		k, v, _ := strings.Cut(part, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "endpoint":
			if u, err := url.Parse(strings.TrimSpace(v)); err == nil {
				endpoint = u.Host
			}
		case "entitypath":
			entity = strings.TrimSpace(v)
		}
	}
	return endpoint, entity
}

// Close implements Publisher.
func (e *EventHubs) Close(ctx context.Context) error { return e.prod.Close(ctx) }

// Publish implements Publisher.
func (e *EventHubs) Publish(ctx context.Context, msgs []Message) (Stats, error) {
	// Group by key, keys in order of first appearance, messages in input order.
	var keys []string
	byKey := map[string][]Message{}
	for _, m := range msgs {
		if _, ok := byKey[m.Key]; !ok {
			keys = append(keys, m.Key)
		}
		byKey[m.Key] = append(byKey[m.Key], m)
	}
	var (
		mu     sync.Mutex
		st     Stats
		errs   []error
		wg     sync.WaitGroup
		next   = make(chan string)
		report = func(s Stats, err error) {
			mu.Lock()
			defer mu.Unlock()
			st.Add(s)
			if err != nil {
				errs = append(errs, err)
			}
		}
	)
	for range min(e.workers, len(keys)) {
		wg.Go(func() {
			for k := range next {
				report(e.sendKey(ctx, k, byKey[k]))
			}
		})
	}
	for _, k := range keys {
		next <- k
	}
	close(next)
	wg.Wait()
	return st, errors.Join(errs...)
}

// sendKey sends one key's messages in as few batches as fit.
func (e *EventHubs) sendKey(ctx context.Context, key string, msgs []Message) (Stats, error) {
	opts := &azeventhubs.EventDataBatchOptions{}
	if key != "" {
		opts.PartitionKey = &key
	}
	evs := make([]*azeventhubs.EventData, len(msgs))
	for i := range msgs {
		evs[i] = &azeventhubs.EventData{Body: msgs[i].Data}
	}
	sent, err := ehbatch.Send(ctx, e.prod, opts, evs)
	st := Stats{Sent: sent, Failed: len(msgs) - sent}
	if err != nil {
		first := sent
		var be *ehbatch.Error
		if errors.As(err, &be) {
			first = be.First
		}
		if be != nil && be.TooLarge {
			err = fmt.Errorf("%s: %d bytes: %w", msgs[first].ID, len(msgs[first].Data), err)
		} else {
			err = fmt.Errorf("event hub %s: %s: %w", e.hub, ids(msgs[first:]), err)
		}
	}
	return st, err
}
