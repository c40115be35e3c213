package kinesisput

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// fake rejects the records whose data is in reject, as often as it says, or fails every call with
// callErr; it keeps the sizes of the calls.
type fake struct {
	reject  map[string]int
	callErr error
	calls   []int
	stored  int
}

func (f *fake) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.calls = append(f.calls, len(in.Records))
	if f.callErr != nil {
		return nil, f.callErr
	}
	out := &kinesis.PutRecordsOutput{}
	for _, r := range in.Records {
		if f.reject[string(r.Data)] > 0 {
			f.reject[string(r.Data)]--
			code, msg := "ProvisionedThroughputExceededException", "slow down"
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: &code, ErrorMessage: &msg})
			continue
		}
		f.stored++
		out.Records = append(out.Records, types.PutRecordsResultEntry{})
	}
	return out, nil
}

func entries(n, size int) []types.PutRecordsRequestEntry {
	recs := make([]types.PutRecordsRequestEntry, n)
	for i := range recs {
		key := "k"
		recs[i] = types.PutRecordsRequestEntry{PartitionKey: &key, Data: fmt.Appendf(nil, "%0*d", size, i)}
	}
	return recs
}

// Chunks respect both limits; only rejected records are resent; one still rejected after
// MaxAttempts fails alone and the later chunk still goes.
func TestPut(t *testing.T) {
	recs := entries(1001, 8)
	f := &fake{reject: map[string]int{string(recs[3].Data): 1, string(recs[600].Data): 100}}
	w := Writer{API: f, Stream: "s", MaxAttempts: 3, Backoff: time.Millisecond}
	res, err := w.Put(context.Background(), recs)
	var pe *Error
	if !errors.As(err, &pe) || !slices.Equal(pe.Failed, []int{600}) || pe.Attempts != 3 ||
		!strings.Contains(err.Error(), "1 records not written after 3 attempts: ProvisionedThroughputExceededException: slow down") {
		t.Fatalf("error %v", err)
	}
	if res.Sent != 1000 || res.Retried != 3 || !slices.Equal(res.Failed, []int{600}) || f.stored != 1000 {
		t.Fatalf("result %+v, stored %d", res, f.stored)
	}
	if !slices.Equal(f.calls, []int{500, 1, 500, 1, 1, 1}) {
		t.Fatalf("calls %v", f.calls)
	}
	big := entries(12, 900<<10)
	f = &fake{}
	if _, err := (&Writer{API: f, Stream: "s"}).Put(context.Background(), big); err != nil || len(f.calls) != 3 {
		t.Fatalf("12 records of 900 KiB: calls %v, error %v", f.calls, err)
	}
}

// A call that fails as a whole fails its chunk and the rest at once, unless RetryCallErrors.
func TestPutCallErrors(t *testing.T) {
	recs := entries(700, 4)
	f := &fake{callErr: errors.New("ResourceNotFoundException")}
	res, err := (&Writer{API: f, Stream: "s", Backoff: time.Millisecond}).Put(context.Background(), recs)
	if err == nil || !strings.Contains(err.Error(), "after 1 attempts: ResourceNotFoundException") || len(res.Failed) != 700 || len(f.calls) != 1 {
		t.Fatalf("result %d failed, calls %v, error %v", len(res.Failed), f.calls, err)
	}
	f = &fake{callErr: errors.New("network down")}
	res, err = (&Writer{API: f, Stream: "s", MaxAttempts: 3, Backoff: time.Millisecond, RetryCallErrors: true}).Put(context.Background(), recs)
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts: network down") || len(res.Failed) != 700 || len(f.calls) != 3 {
		t.Fatalf("result %d failed, calls %v, error %v", len(res.Failed), f.calls, err)
	}
}
