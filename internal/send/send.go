// Package send publishes events to the streams a deployed eddy function reads: Kinesis Data
// Streams, Google Cloud Pub/Sub and Azure Event Hubs, and to any other transport the output
// registry (core/sink) opens, such as rabbit:// or awssqs://. It is what `eddy send --to URL` uses
// for cloud targets:
//
//	kinesis://STREAM[?region=R&endpoint=URL]            PutRecords, partition key = event key
//	gcppubsub://projects/P/topics/T[?ordering=true]      ordering key = event key when asked
//	eventhubs://NAMESPACE/HUB                           batches by partition key = event key
//	kafka://BROKER1,BROKER2/TOPIC                       record key = event key, idempotent producer
//
// Each event is a Message carrying the ID that names it in errors (the input's "FILE:LINE") and
// its key. Publishers retry what the service reports as failed, count it in Stats, and report
// what could not be sent with the IDs of the records concerned.
package send

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Message is one event to publish.
type Message struct {
	// ID names the record in errors, e.g. "events.ndjson:12".
	ID string
	// Key is the event key: the partition key (Kinesis, Event Hubs) or the ordering key (Pub/Sub,
	// when ordering is on). Empty: Kinesis gets a hash of Data, the others no key.
	Key string
	// Data is the payload, sent as it is.
	Data []byte
}

// Stats counts what a Publish did.
type Stats struct {
	// Sent is the number of messages the service accepted.
	Sent int
	// Failed is the number of messages that were not accepted, retries included.
	Failed int
	// Retried is the number of resends of messages the service rejected the first time (one
	// message resent twice counts 2).
	Retried int
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Sent += o.Sent
	s.Failed += o.Failed
	s.Retried += o.Retried
}

// Publisher publishes messages to one stream or topic.
type Publisher interface {
	// Publish sends msgs, keeping the order of the messages of each key as far as the service
	// allows, and returns once each is accepted or given up on. The error names the records that
	// were not sent.
	Publish(ctx context.Context, msgs []Message) (Stats, error)
	// Close releases the connection.
	Close(ctx context.Context) error
}

// Options configure Open.
type Options struct {
	// Logger receives retries and failures (default: discarded).
	Logger *slog.Logger
	// MaxAttempts bounds the attempts per record where the publisher retries itself (Kinesis;
	// default 8).
	MaxAttempts int
	// Backoff is the first retry delay, doubled each attempt up to 5 s (default 100 ms).
	Backoff time.Duration
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Schemes are the URL schemes Open accepts.
var Schemes = []string{"kinesis", "gcppubsub", "eventhubs", "kafka"}

// IsCloudURL tells whether rawURL has one of Schemes, or another scheme of the output registry
// (core/sink) other than plain http, which is eddy dev's ingest.
func IsCloudURL(rawURL string) bool {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return registered(schemeOf(rawURL))
	}
	for _, s := range Schemes {
		if strings.EqualFold(scheme, s) {
			return true
		}
	}
	return registered(strings.ToLower(scheme))
}

// Open returns the Publisher for rawURL (see the package documentation for the forms).
func Open(ctx context.Context, rawURL string, o Options) (Publisher, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("send to %q: %w", rawURL, err)
	}
	// Each case checks its error: a typed nil must not come back as a non-nil Publisher.
	switch strings.ToLower(u.Scheme) {
	case "kinesis":
		if p, err := openKinesis(ctx, u, o); err == nil {
			return p, nil
		} else {
			return nil, err
		}
	case "gcppubsub":
		if p, err := openPubSub(ctx, u, o); err == nil {
			return p, nil
		} else {
			return nil, err
		}
	case "eventhubs":
		if p, err := openEventHubs(ctx, u, o); err == nil {
			return p, nil
		} else {
			return nil, err
		}
	case "kafka":
		if p, err := openKafka(ctx, u, o); err == nil {
			return p, nil
		} else {
			return nil, err
		}
	}
	if registered(strings.ToLower(u.Scheme)) {
		return openRegistry(ctx, rawURL, o)
	}
	return nil, fmt.Errorf("send to %q: unknown scheme %q (want kinesis://STREAM, gcppubsub://projects/P/topics/T, eventhubs://NAMESPACE/HUB or another output URL)", rawURL, u.Scheme)
}

// HashKey is the partition key of a message without a key: a hash of its data, so that equal
// events go to the same shard and different ones spread.
func HashKey(data []byte) string {
	h := fnv.New64a()
	h.Write(data)
	var b [8]byte
	return hex.EncodeToString(h.Sum(b[:0]))
}

// ids lists up to 5 message ids, for errors.
func ids(msgs []Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(msgs)-5)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.ID)
	}
	return b.String()
}

// positiveParam parses v, the value of the URL parameter name, as a positive integer.
func positiveParam(u *url.URL, name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("send to %q: %s %q is not a positive integer", u.Redacted(), name, v)
	}
	return n, nil
}
