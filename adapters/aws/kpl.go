package aws

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// KPLMagic starts every record the Kinesis Producer Library aggregated.
var KPLMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// SubRecord is one user record inside a KPL-aggregated Kinesis record.
type SubRecord struct {
	// PartitionKey is the key the producer gave the user record (the Kinesis record's own partition
	// key is only the first of them).
	PartitionKey string
	// ExplicitHashKey is the producer's explicit hash key, if it set one.
	ExplicitHashKey string
	// Data is the user record's payload. It aliases the aggregated record's data.
	Data []byte
	// Tags are the user record's tags (KPL's key/value annotations).
	Tags map[string]string
}

// Deaggregate splits a KPL-aggregated record into its user records. The format is the magic bytes,
// a protobuf AggregatedRecord, and the MD5 digest of the protobuf bytes. Like the KCL, it treats
// data without the magic bytes, or whose digest does not match, as an ordinary record: it returns
// (nil, false, nil). A record with a good digest whose protobuf is malformed is an error, naming the
// field at fault.
func Deaggregate(data []byte) ([]SubRecord, bool, error) {
	if len(data) < len(KPLMagic)+md5.Size || !bytes.Equal(data[:len(KPLMagic)], KPLMagic) {
		return nil, false, nil
	}
	body := data[len(KPLMagic) : len(data)-md5.Size]
	sum := md5.Sum(body)
	if !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
		return nil, false, nil
	}
	subs, err := parseAggregate(body)
	if err != nil {
		return nil, true, fmt.Errorf("KPL aggregated record: %w", err)
	}
	return subs, true, nil
}

// rawSub is a user record before its key indexes are resolved (the tables may come after the
// records in the encoding).
type rawSub struct {
	pk, ehk    uint64
	hasPK, has bool
	data       []byte
	tags       map[string]string
}

func parseAggregate(b []byte) ([]SubRecord, error) {
	var pkTable, ehkTable []string
	var raws []rawSub
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fieldErr("AggregatedRecord", "tag", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fieldErr("AggregatedRecord", "partition_key_table", protowire.ParseError(n))
			}
			pkTable = append(pkTable, string(v))
			b = b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fieldErr("AggregatedRecord", "explicit_hash_key_table", protowire.ParseError(n))
			}
			ehkTable = append(ehkTable, string(v))
			b = b[n:]
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fieldErr("AggregatedRecord", "records", protowire.ParseError(n))
			}
			r, err := parseRecord(v)
			if err != nil {
				return nil, fmt.Errorf("records[%d]: %w", len(raws), err)
			}
			raws = append(raws, r)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, fieldErr("AggregatedRecord", fmt.Sprintf("field %d", num), protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if len(raws) == 0 {
		return nil, errors.New("no records in the aggregate")
	}
	subs := make([]SubRecord, len(raws))
	for i, r := range raws {
		if !r.hasPK {
			return nil, fmt.Errorf("records[%d]: partition_key_index is missing (a required field)", i)
		}
		if r.pk >= uint64(len(pkTable)) {
			return nil, fmt.Errorf("records[%d]: partition_key_index %d is outside the table of %d keys", i, r.pk, len(pkTable))
		}
		subs[i] = SubRecord{PartitionKey: pkTable[r.pk], Data: r.data, Tags: r.tags}
		// An explicit hash key index without a table entry only loses the hash key, which
		// routed the record to its shard and is not needed to read it: awslabs' deaggregators
		// accept such records, and so does eddy.
		if r.has && r.ehk < uint64(len(ehkTable)) {
			subs[i].ExplicitHashKey = ehkTable[r.ehk]
		}
	}
	return subs, nil
}

func parseRecord(b []byte) (rawSub, error) {
	var r rawSub
	hasData := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, fieldErr("Record", "tag", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return r, fieldErr("Record", "partition_key_index", protowire.ParseError(n))
			}
			r.pk, r.hasPK = v, true
			b = b[n:]
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return r, fieldErr("Record", "explicit_hash_key_index", protowire.ParseError(n))
			}
			r.ehk, r.has = v, true
			b = b[n:]
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return r, fieldErr("Record", "data", protowire.ParseError(n))
			}
			r.data, hasData = v, true
			b = b[n:]
		case num == 4 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return r, fieldErr("Record", "tags", protowire.ParseError(n))
			}
			k, val, err := parseTag(v)
			if err != nil {
				return r, err
			}
			if r.tags == nil {
				r.tags = map[string]string{}
			}
			r.tags[k] = val
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return r, fieldErr("Record", fmt.Sprintf("field %d", num), protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if !hasData {
		return r, errors.New("data is missing (a required field)")
	}
	return r, nil
}

func parseTag(b []byte) (key, value string, err error) {
	hasKey := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", "", fieldErr("Tag", "tag", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case (num == 1 || num == 2) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", "", fieldErr("Tag", "key/value", protowire.ParseError(n))
			}
			if num == 1 {
				key, hasKey = string(v), true
			} else {
				value = string(v)
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return "", "", fieldErr("Tag", fmt.Sprintf("field %d", num), protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if !hasKey {
		return "", "", errors.New("tags: key is missing (a required field)")
	}
	return key, value, nil
}

func fieldErr(msg, field string, err error) error {
	return fmt.Errorf("%s.%s: %w", msg, field, err)
}

// Aggregate encodes user records in the KPL aggregated format: the inverse of Deaggregate, for
// producers and tests.
func Aggregate(subs []SubRecord) []byte {
	var pkIdx, ehkIdx = map[string]uint64{}, map[string]uint64{}
	var body []byte
	var recs []byte
	for _, s := range subs {
		var r []byte
		pk, ok := pkIdx[s.PartitionKey]
		if !ok {
			pk = uint64(len(pkIdx))
			pkIdx[s.PartitionKey] = pk
			body = protowire.AppendTag(body, 1, protowire.BytesType)
			body = protowire.AppendString(body, s.PartitionKey)
		}
		r = protowire.AppendTag(r, 1, protowire.VarintType)
		r = protowire.AppendVarint(r, pk)
		if s.ExplicitHashKey != "" {
			e, ok := ehkIdx[s.ExplicitHashKey]
			if !ok {
				e = uint64(len(ehkIdx))
				ehkIdx[s.ExplicitHashKey] = e
				body = protowire.AppendTag(body, 2, protowire.BytesType)
				body = protowire.AppendString(body, s.ExplicitHashKey)
			}
			r = protowire.AppendTag(r, 2, protowire.VarintType)
			r = protowire.AppendVarint(r, e)
		}
		r = protowire.AppendTag(r, 3, protowire.BytesType)
		r = protowire.AppendBytes(r, s.Data)
		for _, k := range sortedKeys(s.Tags) {
			var t []byte
			t = protowire.AppendTag(t, 1, protowire.BytesType)
			t = protowire.AppendString(t, k)
			t = protowire.AppendTag(t, 2, protowire.BytesType)
			t = protowire.AppendString(t, s.Tags[k])
			r = protowire.AppendTag(r, 4, protowire.BytesType)
			r = protowire.AppendBytes(r, t)
		}
		recs = protowire.AppendTag(recs, 3, protowire.BytesType)
		recs = protowire.AppendBytes(recs, r)
	}
	body = append(body, recs...)
	sum := md5.Sum(body)
	out := make([]byte, 0, len(KPLMagic)+len(body)+md5.Size)
	out = append(out, KPLMagic...)
	out = append(out, body...)
	return append(out, sum[:]...)
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
