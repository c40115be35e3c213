// Package kinesissink sends outputs to an Amazon Kinesis data stream, one record per message, and
// registers the scheme "kinesis" with sink.DefaultURLMux:
//
//	kinesis://STREAM[?region=R&endpoint=URL]
//
// The region, credentials and endpoint otherwise come from the usual AWS configuration
// (environment, shared files; AWS_ENDPOINT_URL_KINESIS or AWS_ENDPOINT_URL for a stand-in).
//
// A record's data is the message's body, which carries its eddy_id and type (Kinesis records have
// no attributes). Its partition key is the message's key, so that one key's outputs stay in order
// on one shard; a message without a key gets a hash of its id, and a key over Kinesis's 256
// characters a hash of the key. PutRecords accepts or rejects each record on its own (throttling,
// internal errors): the rejected ones come back in a *driver.PartialError and the portable sink
// resends only those. A resent record lands after the records of its key that were accepted in the
// same call, so after throttling a key's outputs may arrive out of order; consumers order them by
// their event time (eddy_time) or revision.
package kinesissink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/internal/kinesisput"
)

// Scheme is the URL scheme kinesissink registers.
const Scheme = "kinesis"

// MaxKeyChars is the longest partition key Kinesis takes, in Unicode characters.
const MaxKeyChars = 256

func init() {
	sink.DefaultURLMux().Register(Scheme, sink.URLOpenerFunc(func(ctx context.Context, u *url.URL) (driver.Sink, error) {
		return OpenURL(ctx, u)
	}))
}

// API is the part of the Kinesis client the sink uses.
type API = kinesisput.API

// Sink writes to one stream. It is a driver.Sink.
type Sink struct {
	api    API
	stream string
}

// New writes to stream through api (a *kinesis.Client).
func New(api API, stream string) *Sink { return &Sink{api: api, stream: stream} }

// OpenURL opens kinesis://STREAM?region=R&endpoint=URL.
func OpenURL(ctx context.Context, u *url.URL) (*Sink, error) {
	stream := u.Host
	if stream == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("kinesis: %s: want kinesis://STREAM (the stream's name)", u.Redacted())
	}
	q := u.Query()
	var opts []func(*config.LoadOptions) error
	var endpoint string
	for k, v := range q {
		switch k {
		case "region":
			opts = append(opts, config.WithRegion(v[0]))
		case "endpoint":
			if p, err := url.Parse(v[0]); err != nil || p.Scheme == "" || p.Host == "" {
				return nil, fmt.Errorf("kinesis: %s: endpoint %q: want a URL such as http://127.0.0.1:4567", u.Redacted(), v[0])
			}
			endpoint = v[0]
		default:
			return nil, fmt.Errorf("kinesis: %s: unknown parameter %q (want region or endpoint)", u.Redacted(), k)
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("kinesis: %s: AWS configuration: %w", u.Redacted(), err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("kinesis: %s: no AWS region: set AWS_REGION or add ?region=REGION", u.Redacted())
	}
	client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return New(client, stream), nil
}

// Limits implements driver.Sink: PutRecords takes 500 records and 5 MiB, a record 1 MiB (data and
// partition key; Size counts the metadata too, which Kinesis does not carry, so the check errs on
// the safe side).
func (s *Sink) Limits() driver.Limits {
	return driver.Limits{MaxMessageBytes: kinesisput.MaxRecordBytes, MaxBatchMessages: kinesisput.MaxRecords, MaxBatchBytes: kinesisput.MaxBytes}
}

// Close implements driver.Sink.
func (s *Sink) Close(context.Context) error { return nil }

// PartitionKey is the partition key of a message: its key, a hash of a key too long for Kinesis,
// or for a message without a key a hash of its id.
func PartitionKey(m *driver.Message) string {
	switch {
	case m.Key == "":
		return hash(m.ID)
	case len(m.Key) > MaxKeyChars && utf8.RuneCountInString(m.Key) > MaxKeyChars:
		return hash(m.Key)
	}
	return m.Key
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// Send implements driver.Sink with one PutRecords call.
func (s *Sink) Send(ctx context.Context, msgs []*driver.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	recs := make([]types.PutRecordsRequestEntry, len(msgs))
	for i, m := range msgs {
		recs[i] = types.PutRecordsRequestEntry{Data: m.Body, PartitionKey: aws.String(PartitionKey(m))}
	}
	out, err := s.api.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &s.stream, Records: recs})
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %v", ctx.Err(), err)
		}
		return fmt.Errorf("kinesis stream %s: PutRecords of %d records: %w", s.stream, len(msgs), err)
	}
	if len(out.Records) != len(recs) {
		return fmt.Errorf("kinesis stream %s: PutRecords answered %d results for %d records", s.stream, len(out.Records), len(recs))
	}
	var pe *driver.PartialError
	for i, r := range out.Records {
		if r.ErrorCode == nil {
			continue
		}
		if pe == nil {
			pe = &driver.PartialError{Err: fmt.Errorf("kinesis stream %s: record %s: %s: %s", s.stream, msgs[i].ID,
				*r.ErrorCode, aws.ToString(r.ErrorMessage))}
		}
		pe.Failed = append(pe.Failed, i)
	}
	if pe != nil {
		return pe
	}
	return nil
}
