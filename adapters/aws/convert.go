package aws

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eddyhq/eddy/core"
)

// Attribute names the adapter sets on records.
const (
	// AttrExplicitHashKey holds a KPL user record's explicit hash key.
	AttrExplicitHashKey = "kinesis.explicitHashKey"
	// AttrKPLError says why a KPL aggregate with a good digest could not be split; the record is
	// then handed on whole, fails to decode, and reaches the dead-letter output with this reason.
	AttrKPLError = "kinesis.kplError"
)

// ShardID returns the shard of a Kinesis event record: the part of its eventID before the ':'
// ("shardId-000000000006:4959…" → "shardId-000000000006").
func ShardID(eventID string) (string, error) {
	i := strings.IndexByte(eventID, ':')
	if i <= 0 {
		return "", fmt.Errorf("eventID %q is not SHARD:SEQUENCE", eventID)
	}
	return eventID[:i], nil
}

// validSeq reports whether s is a Kinesis sequence number: decimal digits, no leading zero. Offsets
// compare as decimal numbers, so anything else would break the order.
func validSeq(s string) bool {
	if s == "" || len(s) > 128 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Batch turns a Kinesis event into one core batch: the partition is the shard (from the eventID),
// each Kinesis record becomes a record whose ID and Offset are its sequence number, Key its
// partition key and Time its approximate arrival time. A KPL-aggregated record becomes one record
// per user record, with ID "SEQ:N" (N counting from 0 in the aggregate's order), the user record's
// partition key, and the aggregate's sequence number as Offset: they were delivered, and are
// checkpointed, together.
//
// Lambda sends one shard per batch; records from several shards, or a record without a well-formed
// eventID or sequence number, make the whole event an error (there would be no way to report it to
// Lambda: an empty itemIdentifier fails the batch).
func Batch(ev *events.KinesisEvent, now time.Time) (core.Batch, error) {
	b := core.Batch{Now: now}
	n := len(ev.Records)
	b.Records = make([]core.Record, 0, n)
	for i := range ev.Records {
		r := &ev.Records[i]
		seq := r.Kinesis.SequenceNumber
		if !validSeq(seq) {
			return core.Batch{}, fmt.Errorf("record %d (eventID %q): field kinesis.sequenceNumber: %q is not a decimal sequence number", i, r.EventID, seq)
		}
		shard, err := ShardID(r.EventID)
		if err != nil {
			return core.Batch{}, fmt.Errorf("record %s: field eventID: %w", seq, err)
		}
		if b.Partition == "" {
			b.Partition = shard
		} else if shard != b.Partition {
			return core.Batch{}, fmt.Errorf("record %s: field eventID: shard %q in a batch of shard %q (Lambda sends one shard per batch)", seq, shard, b.Partition)
		}
		arrival := r.Kinesis.ApproximateArrivalTimestamp.Time
		subs, agg, err := Deaggregate(r.Kinesis.Data)
		switch {
		case err != nil:
			b.Records = append(b.Records, core.Record{ID: seq, Offset: seq, Key: r.Kinesis.PartitionKey, Time: arrival,
				Data: r.Kinesis.Data, Attrs: map[string]string{AttrKPLError: err.Error()}})
		case agg:
			for j, s := range subs {
				rec := core.Record{ID: seq + ":" + strconv.Itoa(j), Offset: seq, Key: s.PartitionKey, Time: arrival, Data: s.Data}
				if s.ExplicitHashKey != "" || len(s.Tags) > 0 {
					rec.Attrs = maps.Clone(s.Tags)
					if rec.Attrs == nil {
						rec.Attrs = map[string]string{}
					}
					if s.ExplicitHashKey != "" {
						rec.Attrs[AttrExplicitHashKey] = s.ExplicitHashKey
					}
				}
				b.Records = append(b.Records, rec)
			}
		default:
			b.Records = append(b.Records, core.Record{ID: seq, Offset: seq, Key: r.Kinesis.PartitionKey, Time: arrival, Data: r.Kinesis.Data})
		}
	}
	return b, nil
}

// ItemFailures maps failed records to Lambda's batchItemFailures: one entry per Kinesis record
// (a KPL user record is reported by its aggregate's sequence number, its Offset), lowest sequence
// number first, since Lambda restarts the shard from the lowest one. It never returns an empty
// identifier, which Lambda would take as a failure of the whole batch.
func ItemFailures(fs []*core.Failure) []events.KinesisBatchItemFailure {
	if len(fs) == 0 {
		return nil
	}
	seqs := make([]string, 0, len(fs))
	for _, f := range fs {
		s := f.Record.Offset
		if s == "" {
			s = f.Record.ID
			if i := strings.IndexByte(s, ':'); i >= 0 {
				s = s[:i]
			}
		}
		if s != "" {
			seqs = append(seqs, s)
		}
	}
	slices.SortFunc(seqs, core.CompareOffsets)
	seqs = slices.Compact(seqs)
	out := make([]events.KinesisBatchItemFailure, len(seqs))
	for i, s := range seqs {
		out[i].ItemIdentifier = s
	}
	return out
}

// Checkpoint returns the sequence number Lambda resumes the shard from given a response: the lowest
// itemIdentifier, "" when the batch succeeded, or an error when an identifier is empty (Lambda
// then fails the whole batch). Event source pollers (and tests) use it to behave as Lambda does.
func Checkpoint(resp events.KinesisEventResponse) (string, error) {
	low := ""
	for i, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == "" {
			return "", fmt.Errorf("batchItemFailures[%d]: empty itemIdentifier: the whole batch fails", i)
		}
		if low == "" || core.CompareOffsets(f.ItemIdentifier, low) < 0 {
			low = f.ItemIdentifier
		}
	}
	return low, nil
}
