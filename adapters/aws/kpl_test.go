package aws

import (
	"bytes"
	"crypto/md5"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestDeaggregateRoundTrip(t *testing.T) {
	subs := []SubRecord{
		{PartitionKey: "a", Data: []byte(`{"key":"a","ts":1,"value":1}`)},
		{PartitionKey: "b", ExplicitHashKey: "123", Data: []byte(`{"key":"b","ts":2,"value":2}`), Tags: map[string]string{"t": "v"}},
		{PartitionKey: "a", Data: []byte{}},
	}
	got, agg, err := Deaggregate(Aggregate(subs))
	if err != nil || !agg {
		t.Fatalf("Deaggregate: agg=%v err=%v", agg, err)
	}
	subs[2].Data = nil // an empty bytes field decodes as nil
	if len(got) != 3 || len(got[2].Data) != 0 {
		t.Fatalf("got %+v", got)
	}
	got[2].Data = nil
	if !reflect.DeepEqual(got, subs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, subs)
	}
}

// A hand-built aggregate, field by field as the KPL writes it (tables first, then records), checks
// the parser against the format itself rather than against Aggregate.
func TestDeaggregateKPLLayout(t *testing.T) {
	var body []byte
	body = protowire.AppendTag(body, 1, protowire.BytesType)
	body = protowire.AppendString(body, "pk0")
	body = protowire.AppendTag(body, 1, protowire.BytesType)
	body = protowire.AppendString(body, "pk1")
	body = protowire.AppendTag(body, 2, protowire.BytesType)
	body = protowire.AppendString(body, "340282366920938463463374607431768211455")
	rec := func(pk uint64, ehk int, data string) []byte {
		var r []byte
		r = protowire.AppendTag(r, 1, protowire.VarintType)
		r = protowire.AppendVarint(r, pk)
		if ehk >= 0 {
			r = protowire.AppendTag(r, 2, protowire.VarintType)
			r = protowire.AppendVarint(r, uint64(ehk))
		}
		r = protowire.AppendTag(r, 3, protowire.BytesType)
		r = protowire.AppendString(r, data)
		// An unknown field (a later KPL version) is skipped.
		r = protowire.AppendTag(r, 9, protowire.Fixed32Type)
		r = protowire.AppendFixed32(r, 7)
		return r
	}
	for _, r := range [][]byte{rec(1, -1, "one"), rec(0, 0, "two")} {
		body = protowire.AppendTag(body, 3, protowire.BytesType)
		body = protowire.AppendBytes(body, r)
	}
	sum := md5.Sum(body)
	data := append(append(append([]byte{}, KPLMagic...), body...), sum[:]...)
	got, agg, err := Deaggregate(data)
	if err != nil || !agg {
		t.Fatalf("agg=%v err=%v", agg, err)
	}
	want := []SubRecord{{PartitionKey: "pk1", Data: []byte("one")},
		{PartitionKey: "pk0", ExplicitHashKey: "340282366920938463463374607431768211455", Data: []byte("two")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestDeaggregateNotAggregated(t *testing.T) {
	good := Aggregate([]SubRecord{{PartitionKey: "k", Data: []byte("x")}})
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	for name, data := range map[string][]byte{
		"plain":      []byte(`{"key":"a"}`),
		"short":      KPLMagic,
		"empty":      nil,
		"bad digest": badSum,
	} {
		subs, agg, err := Deaggregate(data)
		if subs != nil || agg || err != nil {
			t.Errorf("%s: got %v %v %v, want an ordinary record", name, subs, agg, err)
		}
	}
}

func withDigest(body []byte) []byte {
	sum := md5.Sum(body)
	return append(append(append([]byte{}, KPLMagic...), body...), sum[:]...)
}

func TestDeaggregateErrors(t *testing.T) {
	rec := func(fields ...[]byte) []byte {
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, "pk")
		var r []byte
		for _, f := range fields {
			r = append(r, f...)
		}
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		return protowire.AppendBytes(b, r)
	}
	varint := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	data := protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "d")
	for name, tc := range map[string]struct {
		body []byte
		want string
	}{
		"no records":       {nil, "no records"},
		"pk out of range":  {rec(varint(1, 5), data), "partition_key_index 5 is outside the table of 1 keys"},
		"no pk":            {rec(data), "partition_key_index is missing"},
		"no data":          {rec(varint(1, 0)), "data is missing"},
		"ehk out of range": {rec(varint(1, 0), varint(2, 0), data), "explicit_hash_key_index 0 is outside"},
		"truncated":        {[]byte{0x1a, 0x05, 0x08}, "records"},
		"bad tag":          {[]byte{0x00}, "tag"},
	} {
		_, agg, err := Deaggregate(withDigest(tc.body))
		if err == nil || !agg || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: agg=%v err=%v, want an error containing %q", name, agg, err, tc.want)
		}
	}
}

func FuzzDeaggregate(f *testing.F) {
	f.Add(Aggregate([]SubRecord{{PartitionKey: "a", Data: []byte("x")}, {PartitionKey: "b", ExplicitHashKey: "1", Data: []byte("y"), Tags: map[string]string{"k": "v"}}}))
	f.Add([]byte(`{"key":"a"}`))
	f.Add(withDigest([]byte{0x1a, 0x02, 0x08, 0x00}))
	f.Add(withDigest(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		subs, agg, err := Deaggregate(data)
		if !agg && (subs != nil || err != nil) {
			t.Fatalf("not aggregated but subs=%v err=%v", subs, err)
		}
		if err == nil && agg {
			if len(subs) == 0 {
				t.Fatal("an aggregate with no user records")
			}
			// What parsed re-encodes to an aggregate that parses to the same records.
			again, agg2, err := Deaggregate(Aggregate(subs))
			if err != nil || !agg2 || len(again) != len(subs) {
				t.Fatalf("re-encoded: agg=%v err=%v n=%d want %d", agg2, err, len(again), len(subs))
			}
			for i := range subs {
				if !bytes.Equal(again[i].Data, subs[i].Data) || again[i].PartitionKey != subs[i].PartitionKey || again[i].ExplicitHashKey != subs[i].ExplicitHashKey {
					t.Fatalf("record %d: %+v != %+v", i, again[i], subs[i])
				}
			}
		}
	})
}
