package send

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/internal/kinesisput"
)

// Kinesis PutRecords limits.
const (
	// KinesisMaxRecords is the most records one PutRecords call takes.
	KinesisMaxRecords = kinesisput.MaxRecords
	// KinesisMaxBytes is the most bytes (data and partition keys) one PutRecords call takes.
	KinesisMaxBytes = kinesisput.MaxBytes
	// KinesisMaxRecordBytes is the largest record (data and partition key).
	KinesisMaxRecordBytes = kinesisput.MaxRecordBytes
	// KinesisMaxKey is the longest partition key, in Unicode characters.
	KinesisMaxKey = 256
)

// KinesisAPI is the part of the Kinesis client Kinesis uses.
type KinesisAPI = kinesisput.API

// Kinesis publishes to a Kinesis data stream with PutRecords, in calls of at most
// KinesisMaxRecords records and KinesisMaxBytes bytes. The partition key is the message's key (a
// hash of its data when it has none). PutRecords accepts or rejects each record on its own
// (throttling, internal errors): the rejected ones, and only those, are sent again with
// exponential backoff and jitter. A retried record may land after later records of its key.
// Errors of the call itself are retried by the AWS SDK's retryer.
type Kinesis struct {
	w kinesisput.Writer
}

// NewKinesis publishes to stream through api (a *kinesis.Client).
func NewKinesis(api KinesisAPI, stream string, o Options) *Kinesis {
	log := o.logger()
	return &Kinesis{w: kinesisput.Writer{API: api, Stream: stream, MaxAttempts: o.MaxAttempts, Backoff: o.Backoff,
		OnRetry: func(n, attempt int, first string) {
			log.Warn("kinesis: retrying rejected records", "stream", stream, "records", n, "attempt", attempt, "first", first)
		}}}
}

// openKinesis reads kinesis://STREAM?region=R&endpoint=URL&max_attempts=N. The region, the
// credentials and the endpoint otherwise come from the usual AWS configuration (environment,
// shared files; AWS_ENDPOINT_URL_KINESIS or AWS_ENDPOINT_URL for a local stand-in).
func openKinesis(ctx context.Context, u *url.URL, o Options) (*Kinesis, error) {
	stream := u.Host
	if stream == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("send to %q: want kinesis://STREAM (the stream's name)", u.Redacted())
	}
	q := u.Query()
	var opts []func(*config.LoadOptions) error
	for k, v := range q {
		switch k {
		case "region":
			opts = append(opts, config.WithRegion(v[0]))
		case "endpoint":
			if p, err := url.Parse(v[0]); err != nil || p.Scheme == "" || p.Host == "" {
				return nil, fmt.Errorf("send to %q: endpoint %q: want a URL such as http://127.0.0.1:4567", u.Redacted(), v[0])
			}
		case "max_attempts":
			n, err := positiveParam(u, k, v[0])
			if err != nil {
				return nil, err
			}
			o.MaxAttempts = n
		default:
			return nil, fmt.Errorf("send to %q: unknown parameter %q (want region, endpoint or max_attempts)", u.Redacted(), k)
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("send to %q: AWS configuration: %w", u.Redacted(), err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("send to %q: no AWS region: set AWS_REGION or add ?region=REGION", u.Redacted())
	}
	client := kinesis.NewFromConfig(cfg, func(ko *kinesis.Options) {
		if ep := q.Get("endpoint"); ep != "" {
			ko.BaseEndpoint = aws.String(ep)
		}
	})
	return NewKinesis(client, stream, o), nil
}

// Close implements Publisher.
func (k *Kinesis) Close(context.Context) error { return nil }

// Publish implements Publisher.
func (k *Kinesis) Publish(ctx context.Context, msgs []Message) (Stats, error) {
	recs := make([]types.PutRecordsRequestEntry, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		key := m.Key
		if key == "" {
			key = HashKey(m.Data)
		}
		if n := utf8.RuneCountInString(key); n > KinesisMaxKey {
			return Stats{}, fmt.Errorf("%s: the key %.40q… has %d characters; Kinesis partition keys have at most %d", m.ID, key, n, KinesisMaxKey)
		}
		if n := len(m.Data) + len(key); n > KinesisMaxRecordBytes {
			return Stats{}, fmt.Errorf("%s: %d bytes with its partition key, over Kinesis's 1 MiB record limit", m.ID, n)
		}
		recs[i] = types.PutRecordsRequestEntry{Data: m.Data, PartitionKey: aws.String(key)}
	}
	res, err := k.w.Put(ctx, recs)
	st := Stats{Sent: res.Sent, Failed: len(res.Failed), Retried: res.Retried}
	// Name the records: each chunk's error by the lines it failed, and those its failed call left.
	var errs []error
	named := map[int]bool{}
	for _, e := range unjoin(err) {
		var pe *kinesisput.Error
		if errors.As(e, &pe) {
			for _, i := range pe.Failed {
				named[i] = true
			}
			e = fmt.Errorf("%s: %w", idsAt(msgs, pe.Failed), e)
		}
		errs = append(errs, e)
	}
	var rest []int
	for _, i := range res.Failed {
		if !named[i] {
			rest = append(rest, i)
		}
	}
	if len(rest) > 0 {
		errs = append(errs, fmt.Errorf("%s: not sent after the failure above", idsAt(msgs, rest)))
	}
	return st, errors.Join(errs...)
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func idsAt(msgs []Message, at []int) string {
	sel := make([]Message, 0, min(len(at), 6))
	for _, i := range at[:min(len(at), 6)] {
		sel = append(sel, msgs[i])
	}
	s := ids(sel)
	if len(at) > 6 {
		s = ids(sel[:5]) + fmt.Sprintf(" and %d more", len(at)-5)
	}
	return s
}
