package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Kinesis PutRecords limits.
const (
	// KinesisMaxRecords is the most records one PutRecords call takes.
	KinesisMaxRecords = 500
	// KinesisMaxBytes is the most bytes (data and partition keys) one PutRecords call takes.
	KinesisMaxBytes = 5 << 20
	// KinesisMaxRecordBytes is the largest record (data and partition key).
	KinesisMaxRecordBytes = 1 << 20
	// KinesisMaxKey is the longest partition key, in Unicode characters.
	KinesisMaxKey = 256
)

// KinesisAPI is the part of the Kinesis client Kinesis uses.
type KinesisAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Kinesis publishes to a Kinesis data stream with PutRecords, in calls of at most
// KinesisMaxRecords records and KinesisMaxBytes bytes. The partition key is the message's key (a
// hash of its data when it has none). PutRecords accepts or rejects each record on its own
// (throttling, internal errors): the rejected ones, and only those, are sent again with
// exponential backoff and jitter. A retried record may land after later records of its key.
// Errors of the call itself are retried by the AWS SDK's retryer.
type Kinesis struct {
	api         KinesisAPI
	stream      string
	maxAttempts int
	backoff     time.Duration
	log         *slog.Logger
}

// NewKinesis publishes to stream through api (a *kinesis.Client).
func NewKinesis(api KinesisAPI, stream string, o Options) *Kinesis {
	k := &Kinesis{api: api, stream: stream, maxAttempts: o.MaxAttempts, backoff: o.Backoff, log: o.logger()}
	if k.maxAttempts < 1 {
		k.maxAttempts = 8
	}
	if k.backoff <= 0 {
		k.backoff = 100 * time.Millisecond
	}
	return k
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
	var st Stats
	var errs []error
	for start := 0; start < len(recs); {
		n, size := 0, 0
		for start+n < len(recs) && n < KinesisMaxRecords {
			s := len(recs[start+n].Data) + len(*recs[start+n].PartitionKey)
			if size+s > KinesisMaxBytes {
				break
			}
			size += s
			n++
		}
		cs, err := k.put(ctx, msgs[start:start+n], recs[start:start+n])
		st.Add(cs)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil || cs.Sent == 0 && cs.Failed == n && !isRecordFailure(err) {
				// The call itself fails (no such stream, no permission): later chunks would too.
				st.Failed += len(recs) - start - n
				break
			}
		}
		start += n
	}
	return st, errors.Join(errs...)
}

// recordFailure is the error of records PutRecords kept rejecting.
type recordFailure struct{ err error }

func (r recordFailure) Error() string { return r.err.Error() }
func (r recordFailure) Unwrap() error { return r.err }

func isRecordFailure(err error) bool {
	var rf recordFailure
	return errors.As(err, &rf)
}

// put sends one chunk and resends the records PutRecords rejected.
func (k *Kinesis) put(ctx context.Context, msgs []Message, recs []types.PutRecordsRequestEntry) (Stats, error) {
	var st Stats
	delay := k.backoff
	// pending indexes msgs and recs: what is still to send.
	pending := make([]int, len(recs))
	for i := range pending {
		pending[i] = i
	}
	batch := make([]types.PutRecordsRequestEntry, 0, len(recs))
	for attempt := 1; ; attempt++ {
		batch = batch[:0]
		for _, i := range pending {
			batch = append(batch, recs[i])
		}
		out, err := k.api.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &k.stream, Records: batch})
		if err != nil {
			st.Failed += len(pending)
			return st, fmt.Errorf("kinesis stream %s: PutRecords of %s: %w", k.stream, idsAt(msgs, pending), err)
		}
		if len(out.Records) != len(batch) {
			st.Failed += len(pending)
			return st, fmt.Errorf("kinesis stream %s: PutRecords answered %d results for %d records", k.stream, len(out.Records), len(batch))
		}
		again := pending[:0:0]
		var first string
		for j, r := range out.Records {
			if r.ErrorCode == nil {
				st.Sent++
				continue
			}
			if first == "" {
				first = fmt.Sprintf("%s: %s: %s", msgs[pending[j]].ID, *r.ErrorCode, aws.ToString(r.ErrorMessage))
			}
			again = append(again, pending[j])
		}
		if len(again) == 0 {
			return st, nil
		}
		pending = again
		if attempt >= k.maxAttempts {
			st.Failed += len(pending)
			return st, recordFailure{fmt.Errorf("kinesis stream %s: %d records not accepted after %d attempts (%s); first: %s",
				k.stream, len(pending), attempt, idsAt(msgs, pending), first)}
		}
		k.log.WarnContext(ctx, "kinesis: retrying rejected records", "stream", k.stream, "records", len(pending), "attempt", attempt, "first", first)
		// Full jitter around the delay spreads the retries of concurrent senders.
		if err := sleep(ctx, delay/2+time.Duration(rand.Int64N(int64(delay)))); err != nil {
			st.Failed += len(pending)
			return st, fmt.Errorf("kinesis stream %s: %w with %d records to resend (%s)", k.stream, err, len(pending), first)
		}
		st.Retried += len(pending)
		delay = min(delay*2, 5*time.Second)
	}
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
