// Package snssqssink sends outputs to an Amazon SNS topic or SQS queue through
// gocloud.dev/pubsub/awssnssqs, and registers the schemes "awssns" and "awssqs" with
// sink.DefaultURLMux:
//
//	awssns:///arn:aws:sns:REGION:ACCOUNT:TOPIC[?region=R&endpoint=URL]
//	awssqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE[?region=R&endpoint=URL]
//
// The parameters are gocloud.dev's (gocloud.dev/aws V2ConfigFromURLParams: region, endpoint,
// profile, …); credentials come from the usual AWS configuration. An awssqs queue URL is https,
// unless the endpoint parameter is a plain http URL (a local stand-in).
//
// Each message is one SNS or SQS message: the body as the message, the contract's metadata as
// String message attributes (at most 10, which the contract's metadata stays within). For a FIFO
// topic or queue (a name ending in ".fifo") the message group id is the message's key ("eddy" for
// messages without one, a hash of a key over 128 characters) and the deduplication id is eddy_id, so SNS/SQS keep one key's outputs in
// order and drop a resent duplicate within five minutes; standard topics and queues promise no
// order, so consumers of those order by eddy_time. One key's messages are sent one after the
// other, different keys in parallel (gocloud batches them); when one fails, the later messages of
// its key are not sent, and all of them come back in a *driver.PartialError.
package snssqssink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/awssnssqs"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// Schemes registered.
const (
	SchemeSNS = "awssns"
	SchemeSQS = "awssqs"
)

// Limits of SNS and SQS.
const (
	// MaxMessageBytes is the largest message, body and attributes (SNS's limit; SQS's was the same
	// until it allowed 1 MiB).
	MaxMessageBytes = 256 << 10
	// MaxBatch bounds the messages of one Send.
	MaxBatch = 500
	// fifoGroup is the message group of messages without a key in a FIFO topic or queue.
	fifoGroup = "eddy"
)

func init() {
	o := sink.URLOpenerFunc(func(ctx context.Context, u *url.URL) (driver.Sink, error) { return OpenURL(ctx, u) })
	sink.DefaultURLMux().Register(SchemeSNS, o)
	sink.DefaultURLMux().Register(SchemeSQS, o)
}

// OpenURL opens an awssns:// or awssqs:// URL.
func OpenURL(ctx context.Context, u *url.URL) (*Sink, error) {
	name := strings.TrimPrefix(path.Join(u.Host, u.Path), "/")
	if name == "" {
		return nil, fmt.Errorf("%s: %s: no topic ARN or queue URL", u.Scheme, u.Redacted())
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, u.Query())
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", u.Scheme, u.Redacted(), err)
	}
	fifo := strings.HasSuffix(name, ".fifo")
	switch u.Scheme {
	case SchemeSNS:
		if !strings.HasPrefix(name, "arn:") {
			return nil, fmt.Errorf("awssns: %s: want awssns:///arn:aws:sns:REGION:ACCOUNT:TOPIC", u.Redacted())
		}
		return New(awssnssqs.OpenSNSTopic(ctx, sns.NewFromConfig(cfg), name, nil), fifo), nil
	case SchemeSQS:
		scheme := "https://"
		if ep := u.Query().Get("endpoint"); strings.HasPrefix(ep, "http://") {
			scheme = "http://"
		}
		return New(awssnssqs.OpenSQSTopic(ctx, sqs.NewFromConfig(cfg), scheme+name, nil), fifo), nil
	}
	return nil, fmt.Errorf("snssqs: unknown scheme %q", u.Scheme)
}

// Sink sends to one gocloud.dev topic (SNS or SQS). It is a driver.Sink.
type Sink struct {
	topic *pubsub.Topic
	fifo  bool
	// Concurrency bounds the keys sent in parallel (default 64).
	Concurrency int
}

// New sends to t (from awssnssqs.OpenSNSTopic or OpenSQSTopic), which Close shuts down; fifo
// sets message group and deduplication ids.
func New(t *pubsub.Topic, fifo bool) *Sink { return &Sink{topic: t, fifo: fifo, Concurrency: 64} }

// Limits implements driver.Sink.
func (s *Sink) Limits() driver.Limits {
	return driver.Limits{MaxMessageBytes: MaxMessageBytes, MaxBatchMessages: MaxBatch}
}

// Close implements driver.Sink: it flushes and shuts the topic down.
func (s *Sink) Close(ctx context.Context) error { return s.topic.Shutdown(ctx) }

// Send implements driver.Sink.
func (s *Sink) Send(ctx context.Context, msgs []*driver.Message) error {
	return driver.SendPerKey(ctx, msgs, s.Concurrency, func(ctx context.Context, m *driver.Message) error {
		return s.topic.Send(ctx, s.message(m))
	})
}

func (s *Sink) message(m *driver.Message) *pubsub.Message {
	pm := &pubsub.Message{Body: m.Body, Metadata: m.Metadata}
	if s.fifo {
		group := m.Key
		switch {
		case group == "":
			group = fifoGroup
		case len(group) > 128:
			// Group ids have at most 128 characters: a long key goes by its hash.
			sum := sha256.Sum256([]byte(group))
			group = hex.EncodeToString(sum[:])
		}
		id := m.ID
		pm.BeforeSend = func(as func(any) bool) error {
			var se *snstypes.PublishBatchRequestEntry
			if as(&se) {
				se.MessageGroupId, se.MessageDeduplicationId = aws.String(group), aws.String(id)
				return nil
			}
			var qe *sqstypes.SendMessageBatchRequestEntry
			if as(&qe) {
				qe.MessageGroupId, qe.MessageDeduplicationId = aws.String(group), aws.String(id)
				return nil
			}
			return errors.New("snssqs: the topic is neither SNS nor SQS")
		}
	}
	return pm
}
