// Package kinesisput writes records to a Kinesis data stream with PutRecords, the way both the AWS
// adapter's output and `eddy send` need it: in calls within the service's limits, resending only
// the records a call rejects (PutRecords accepts or rejects each record on its own: throttling,
// internal errors) with exponential backoff and jitter.
package kinesisput

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// PutRecords limits.
const (
	// MaxRecords is the most records one PutRecords call takes.
	MaxRecords = 500
	// MaxBytes is the most bytes (data and partition keys) one PutRecords call takes.
	MaxBytes = 5 << 20
	// MaxRecordBytes is the largest record (data and partition key).
	MaxRecordBytes = 1 << 20
)

// API is the part of the Kinesis client a Writer uses.
type API interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Writer writes records to one stream. The zero values of its options take the defaults noted.
type Writer struct {
	API    API
	Stream string
	// MaxAttempts bounds the PutRecords attempts for one record (default 8).
	MaxAttempts int
	// Backoff is the first retry delay (default 100 ms), doubled each attempt up to MaxBackoff
	// (default 5 s), with full jitter so that concurrent writers spread their retries.
	Backoff, MaxBackoff time.Duration
	// RetryCallErrors also retries a call that fails as a whole, up to MaxAttempts. Without it
	// such an error (no such stream, no permission; the SDK's own retryer has already retried the
	// transient ones) fails the records at once.
	RetryCallErrors bool
	// OnRetry, if set, is told before each resend: how many records, after which attempt, and the
	// first rejection.
	OnRetry func(records, attempt int, first string)
}

// Result is what Put did; indexes refer to the records Put was given.
type Result struct {
	// Sent counts the records the stream accepted.
	Sent int
	// Retried counts resends (a record resent twice counts 2).
	Retried int
	// Failed lists the records not written, in order.
	Failed []int
}

// Error is why records were not written.
type Error struct {
	Stream string
	// Failed lists the records of the chunk the error is about, as in Result.Failed.
	Failed []int
	// Attempts is how many times they were tried.
	Attempts int
	// Err is the call's error, or the first rejection ("CODE: message") when the call succeeded.
	Err error
}

// Error says how many records were not written, after how many attempts, and why.
func (e *Error) Error() string {
	return fmt.Sprintf("kinesis stream %s: %d records not written after %d attempts: %v", e.Stream, len(e.Failed), e.Attempts, e.Err)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Put writes recs in calls of at most MaxRecords records and MaxBytes bytes, each chunk finished
// (its rejected records resent) before the next. Records still rejected after MaxAttempts are
// failed and the next chunk goes on; a call that fails as a whole (after its retries with
// RetryCallErrors) or an ended ctx fails the rest too. The error joins one *Error per failed
// chunk. Callers check MaxRecordBytes beforehand, to name an oversized record their own way.
func (w *Writer) Put(ctx context.Context, recs []types.PutRecordsRequestEntry) (Result, error) {
	var res Result
	var errs []error
	for start := 0; start < len(recs); {
		n, size := 0, 0
		for start+n < len(recs) && n < MaxRecords {
			s := len(recs[start+n].Data) + len(*recs[start+n].PartitionKey)
			if size+s > MaxBytes && n > 0 {
				break
			}
			size += s
			n++
		}
		stop, err := w.chunk(ctx, recs, start, start+n, &res)
		if err != nil {
			errs = append(errs, err)
		}
		start += n
		if stop {
			for i := start; i < len(recs); i++ {
				res.Failed = append(res.Failed, i)
			}
			break
		}
	}
	return res, errors.Join(errs...)
}

// chunk sends recs[lo:hi] and resends what is rejected; stop says the later chunks should not be
// tried.
func (w *Writer) chunk(ctx context.Context, recs []types.PutRecordsRequestEntry, lo, hi int, res *Result) (stop bool, err error) {
	attempts := w.MaxAttempts
	if attempts < 1 {
		attempts = 8
	}
	delay, maxDelay := w.Backoff, w.MaxBackoff
	if delay <= 0 {
		delay = 100 * time.Millisecond
	}
	if maxDelay <= 0 {
		maxDelay = 5 * time.Second
	}
	pending := make([]int, 0, hi-lo) // indexes into recs still to write
	for i := lo; i < hi; i++ {
		pending = append(pending, i)
	}
	batch := make([]types.PutRecordsRequestEntry, 0, hi-lo)
	for attempt := 1; ; attempt++ {
		batch = batch[:0]
		for _, i := range pending {
			batch = append(batch, recs[i])
		}
		out, err := w.API.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &w.Stream, Records: batch})
		var why error
		switch {
		case err != nil:
			why = err
		case len(out.Records) != len(batch):
			res.Failed = append(res.Failed, pending...)
			return true, &Error{Stream: w.Stream, Failed: pending, Attempts: attempt,
				Err: fmt.Errorf("PutRecords answered %d results for %d records", len(out.Records), len(batch))}
		default:
			again := pending[:0:0]
			for j, r := range out.Records {
				if r.ErrorCode == nil {
					res.Sent++
					continue
				}
				if why == nil {
					msg := ""
					if r.ErrorMessage != nil {
						msg = *r.ErrorMessage
					}
					why = fmt.Errorf("%s: %s", *r.ErrorCode, msg)
				}
				again = append(again, pending[j])
			}
			if len(again) == 0 {
				return false, nil
			}
			pending = again
		}
		if attempt >= attempts || err != nil && !w.RetryCallErrors {
			res.Failed = append(res.Failed, pending...)
			return err != nil, &Error{Stream: w.Stream, Failed: pending, Attempts: attempt, Err: why}
		}
		if w.OnRetry != nil {
			w.OnRetry(len(pending), attempt, why.Error())
		}
		t := time.NewTimer(delay/2 + time.Duration(rand.Int64N(int64(delay))))
		select {
		case <-ctx.Done():
			t.Stop()
			res.Failed = append(res.Failed, pending...)
			return true, &Error{Stream: w.Stream, Failed: pending, Attempts: attempt, Err: fmt.Errorf("%w (last error: %v)", ctx.Err(), why)}
		case <-t.C:
		}
		res.Retried += len(pending)
		delay = min(delay*2, maxDelay)
	}
}
