// Package eventhubsink sends outputs to an Azure Event Hub and registers the scheme "eventhubs"
// with sink.DefaultURLMux:
//
//	eventhubs://NAMESPACE/HUB[?max_bytes=N]
//
// NAMESPACE is the namespace's name or host name (NAME.servicebus.windows.net). Credentials come
// from EVENTHUB_CONNECTION_STRING when it is set (its namespace, and its EntityPath if any, must
// match the URL), else from azidentity's default chain (environment, workload or managed identity,
// Azure CLI).
//
// Each message is one event: the body, MessageID = eddy_id, Properties = the contract's metadata,
// ContentType application/json (application/cloudevents+json for a CloudEvent), and partition key = the message's key, so that Event Hubs puts one
// key's outputs on one partition, in order. A send packs each key's messages into as few batches as
// the hub's size limit allows and sends them in order, keys in parallel; when a batch fails, that
// key's later messages are not sent, and all of them come back in a *driver.PartialError.
// max_bytes is the largest message the sink lets through (default 1 MiB less 8 KiB for the
// event's AMQP framing: the Standard and Premium tiers' limit; set 253952 on Basic).
package eventhubsink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/internal/ehbatch"
)

// Scheme is the URL scheme eventhubsink registers.
const Scheme = "eventhubs"

// EnvConnectionString holds an Event Hubs connection string; when set, it is used instead of
// Microsoft Entra credentials.
const EnvConnectionString = "EVENTHUB_CONNECTION_STRING"

// DefaultMaxBytes is the default message size limit: 1 MiB, less room for the framing.
const DefaultMaxBytes = 1<<20 - 8<<10

func init() {
	sink.DefaultURLMux().Register(Scheme, sink.URLOpenerFunc(func(ctx context.Context, u *url.URL) (driver.Sink, error) {
		return OpenURL(ctx, u)
	}))
}

// Producer is the part of *azeventhubs.ProducerClient the sink uses.
type Producer interface {
	ehbatch.Producer
	Close(ctx context.Context) error
}

// Sink sends to one event hub. It is a driver.Sink.
type Sink struct {
	prod Producer
	hub  string
	// MaxBytes is the largest message Limits reports (default DefaultMaxBytes).
	MaxBytes int
	// Concurrency bounds the keys sent in parallel (default 16).
	Concurrency int
}

// New sends through prod, which Close closes; hub names it in errors.
func New(prod Producer, hub string) *Sink {
	return &Sink{prod: prod, hub: hub, MaxBytes: DefaultMaxBytes, Concurrency: 16}
}

// OpenURL opens eventhubs://NAMESPACE/HUB.
func OpenURL(_ context.Context, u *url.URL) (*Sink, error) {
	ns, hub := u.Host, strings.Trim(u.Path, "/")
	if ns == "" || hub == "" || strings.Contains(hub, "/") {
		return nil, fmt.Errorf("eventhubs: %s: want eventhubs://NAMESPACE/HUB", u.Redacted())
	}
	maxBytes := DefaultMaxBytes
	for k, v := range u.Query() {
		switch k {
		case "max_bytes":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("eventhubs: %s: max_bytes=%q: want a whole number ≥ 1", u.Redacted(), v[0])
			}
			maxBytes = n
		default:
			return nil, fmt.Errorf("eventhubs: %s: unknown parameter %q (want max_bytes)", u.Redacted(), k)
		}
	}
	prod, err := producer(u, ns, hub)
	if err != nil {
		return nil, err
	}
	s := New(prod, hub)
	s.MaxBytes = maxBytes
	return s, nil
}

func producer(u *url.URL, ns, hub string) (*azeventhubs.ProducerClient, error) {
	if conn := os.Getenv(EnvConnectionString); conn != "" {
		endpoint, entity := connFields(conn)
		if endpoint != ns && !strings.HasPrefix(endpoint, ns+".") {
			return nil, fmt.Errorf("eventhubs: %s: %s is for the namespace %q, not %q", u.Redacted(), EnvConnectionString, endpoint, ns)
		}
		name := hub
		if entity != "" {
			if entity != hub {
				return nil, fmt.Errorf("eventhubs: %s: %s is for the event hub %q (EntityPath), not %q", u.Redacted(), EnvConnectionString, entity, hub)
			}
			name = "" // the SDK wants the hub in one place only
		}
		prod, err := azeventhubs.NewProducerClientFromConnectionString(conn, name, nil)
		if err != nil {
			return nil, fmt.Errorf("eventhubs: %s: %s: %w", u.Redacted(), EnvConnectionString, err)
		}
		return prod, nil
	}
	if !strings.Contains(ns, ".") {
		ns += ".servicebus.windows.net"
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("eventhubs: %s: Azure credentials (or set %s): %w", u.Redacted(), EnvConnectionString, err)
	}
	prod, err := azeventhubs.NewProducerClient(ns, hub, cred, nil)
	if err != nil {
		return nil, fmt.Errorf("eventhubs: %s: %w", u.Redacted(), err)
	}
	return prod, nil
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

// Limits implements driver.Sink.
func (s *Sink) Limits() driver.Limits { return driver.Limits{MaxMessageBytes: s.MaxBytes} }

// Close implements driver.Sink.
func (s *Sink) Close(ctx context.Context) error { return s.prod.Close(ctx) }

// Send implements driver.Sink.
func (s *Sink) Send(ctx context.Context, msgs []*driver.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var keys []string
	byKey := map[string][]int{}
	for i, m := range msgs {
		if _, ok := byKey[m.Key]; !ok {
			keys = append(keys, m.Key)
		}
		byKey[m.Key] = append(byKey[m.Key], i)
	}
	var (
		mu     sync.Mutex
		failed = make([]bool, len(msgs))
		first  error
		wg     sync.WaitGroup
		sem    = make(chan struct{}, max(s.Concurrency, 1))
	)
	for _, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			idx := byKey[k]
			if at, err := s.sendKey(ctx, k, msgs, idx); err != nil {
				mu.Lock()
				for _, i := range idx[at:] {
					failed[i] = true
				}
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first == nil {
		return nil
	}
	if err := ctx.Err(); err != nil && !errors.Is(first, err) {
		return fmt.Errorf("%w (first failure: %v)", err, first)
	}
	pe := &driver.PartialError{Err: first}
	for i, f := range failed {
		if f {
			pe.Failed = append(pe.Failed, i)
		}
	}
	return pe
}

// sendKey sends one key's messages in order; on an error, at is the first not sent.
func (s *Sink) sendKey(ctx context.Context, key string, msgs []*driver.Message, idx []int) (at int, err error) {
	opts := &azeventhubs.EventDataBatchOptions{}
	if key != "" {
		opts.PartitionKey = &key
	}
	evs := make([]*azeventhubs.EventData, len(idx))
	for j, i := range idx {
		m := msgs[i]
		props := make(map[string]any, len(m.Metadata))
		for k, v := range m.Metadata {
			props[k] = v
		}
		id, ct := m.ID, m.ContentType
		if ct == "" {
			ct = sink.ContentTypeJSON
		}
		evs[j] = &azeventhubs.EventData{Body: m.Body, MessageID: &id, ContentType: &ct, Properties: props}
	}
	sent, err := ehbatch.Send(ctx, s.prod, opts, evs)
	if err == nil {
		return 0, nil
	}
	at = sent
	var be *ehbatch.Error
	if errors.As(err, &be) {
		at = be.First
	}
	m := msgs[idx[at]]
	if be != nil && be.TooLarge {
		return at, fmt.Errorf("event hub %s: %s (%d bytes) is %w", s.hub, m.ID, m.Size(), err)
	}
	return at, fmt.Errorf("event hub %s: send %d events from %s: %w", s.hub, len(idx)-at, m.ID, err)
}
