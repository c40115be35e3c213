package codec

import (
	"bytes"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// flatConfigs are configurations that take the flat fast path.
var flatConfigs = []Config{
	{Paths: []string{"value"}, Key: "key", Time: "ts", TimeFormat: "unix_ms"},
	{Paths: []string{"key", "ts", "value"}, Key: "key", Time: "ts"},
	{Paths: []string{"a", "0", `[""]`, `["x.y"]`, "value", "ts", "a_long_name_14"}, Key: "key", Time: "ts", TimeFormat: "unix_ns"},
	{Paths: []string{"key", "a", "v"}, ProcessingTime: true},
	{Paths: []string{"value"}, Key: "key", Time: "t"},
}

// general returns a decoder like d that never takes the flat fast path.
func general(d *Decoder) *Decoder {
	c := *d.c
	c.flat = nil
	return &Decoder{c: &c}
}

func sameFieldValue(a, b core.Value) bool {
	return a.Kind == b.Kind && math.Float64bits(a.Num) == math.Float64bits(b.Num) && a.Str == b.Str &&
		a.Bool == b.Bool && bytes.Equal(a.Raw, b.Raw)
}

// checkFlat decodes doc with the fast path and with scanObject alone and reports any difference:
// error text, key, time, fields.
func checkFlat(t *testing.T, doc []byte) {
	t.Helper()
	now := time.Unix(1700000000, 0)
	for ci, cfg := range flatConfigs {
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if d.c.flat == nil {
			t.Fatalf("config %d does not take the flat path", ci)
		}
		g := general(d)
		rec := core.Record{ID: "r1", Data: doc}
		var ev1, ev2 core.Event
		err1 := d.Decode("p", &rec, now, &ev1)
		err2 := g.Decode("p", &rec, now, &ev2)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("config %d %q: flat error %v, general error %v", ci, doc, err1, err2)
		}
		if err1 != nil {
			continue
		}
		if ev1.Key != ev2.Key || !ev1.Time.Equal(ev2.Time) || len(ev1.Fields) != len(ev2.Fields) {
			t.Fatalf("config %d %q: flat key %q time %v, general key %q time %v", ci, doc, ev1.Key, ev1.Time, ev2.Key, ev2.Time)
		}
		for i := range ev1.Fields {
			if !sameFieldValue(ev1.Fields[i], ev2.Fields[i]) {
				t.Fatalf("config %d %q: field %s: flat %+v, general %+v", ci, doc, cfg.Paths[i], ev1.Fields[i], ev2.Fields[i])
			}
		}
	}
}

var flatSeeds = []string{
	`{"key":"sensor-0042","ts":1700000000123,"value":42.5}`,
	`{"key":"sensor-0259","ts":1699999999427,"value":76.75}`,
	`{"key":"k1","ts":1700000000000,"value":-0.0}`,
	`{"key":"k1","ts":1700000000000,"value":0.1,"value":7}`,
	`{"key":"k1","ts":1700000000000,"value":1e3}`,
	`{"key":"k1","ts":1700000000000,"value":12345678901234567890}`,
	`{"key":"k1","ts":1700000000000,"value":9007199254740993}`,
	`{"key":"k1","ts":1700000000000,"value":0.00000000000000000000001}`,
	`{"key":"k1","ts":1700000000000,"value":01}`,
	`{"key":"k1","ts":1700000000000,"value":1.}`,
	`{"key":"k1","ts":1700000000000,"value":-}`,
	`{"key":"k1","ts":1700000000000,"value":1.5.}`,
	`{"key":"k1","ts":1700000000000,"value":1e400}`,
	`{ "key" : "k1" , "ts" : 1700000000000 , "value" : 2 } `,
	`{"k\u0065y":"k1","ts":1700000000000,"value":2}`,
	`{"key":"k\u00e9","ts":"2023-11-14T22:13:20Z","value":"x"}`,
	`{"key":"k1","ts":1700000000000,"value":{"a":[1,2]},"a":[true,false,null]}`,
	`{"key":"k1","ts":1700000000000,"value":2,}`,
	`{"key":"k1","ts":1700000000000,"value":2}x`,
	`{"key":"k1","ts":1700000000000,"value":2`,
	`{"key":"k1","ts":1700000000000,"value"`,
	`{"key":"k1","ts":1700000000000,"value":2}{}`,
	`{"a_long_name_14":1,"a_long_name_1":2,"a_long_name_145":3,"":4,"0":5,"x.y":6,"key":7,"ts":8}`,
	`{"key":null,"ts":1700000000000}`,
	`{}`, `{ }`, `[]`, `"x"`, ``, `{"a"}`, `{"a":}`, `{"key":"k1","ts":17e11,"v":[1,{"x":"\ud800"}]}`,
	"{\"key\":\"\xff\",\"ts\":1700000000000}",
	`{"key":"k","ts":1700000000000.5,"t":1700000000,"value":123456789.123456789}`,
	`{"key":"k","ts":-1700000000000,"value":-12.000}`,
	`{"key":"k","ts":1700000000000,"value":0.1234567890123456789012}`,
}

// TestFlatReusedEvent decodes many records into one Event, as the pipeline does: the flat path does
// not clear the fields first, so each record must still see only its own values.
func TestFlatReusedEvent(t *testing.T) {
	now := time.Unix(1700000000, 0)
	r := rand.New(rand.NewPCG(7, 8))
	docs := append([]string(nil), flatSeeds...)
	for range 500 {
		g := &gen{r: r}
		g.object(0)
		docs = append(docs, g.b.String())
	}
	for ci, cfg := range flatConfigs {
		d := mustNew(t, cfg)
		var ev core.Event
		ev.Fields = make([]core.Value, 0, 16)
		for k := range 3000 {
			doc := docs[r.IntN(len(docs))]
			rec := core.Record{ID: "r", Data: []byte(doc)}
			if k%7 == 0 { // what a user may leave in a reused Event
				for i := range ev.Fields[:cap(ev.Fields)] {
					ev.Fields[:cap(ev.Fields)][i] = core.Value{Kind: core.Number, Str: "stale", Bool: true, Raw: []byte("x")}
				}
			}
			err1 := d.Decode("p", &rec, now, &ev)
			var want core.Event
			err2 := general(d).Decode("p", &rec, now, &want)
			if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
				t.Fatalf("config %d %q: reused error %v, fresh error %v", ci, doc, err1, err2)
			}
			if err1 != nil {
				continue
			}
			if ev.Key != want.Key || !ev.Time.Equal(want.Time) {
				t.Fatalf("config %d %q: reused key %q time %v, fresh %q %v", ci, doc, ev.Key, ev.Time, want.Key, want.Time)
			}
			for i := range want.Fields {
				if !sameFieldValue(ev.Fields[i], want.Fields[i]) {
					t.Fatalf("config %d %q: field %s: reused %+v, fresh %+v", ci, doc, cfg.Paths[i], ev.Fields[i], want.Fields[i])
				}
			}
		}
	}
}

func TestFlatMatchesGeneral(t *testing.T) {
	for _, s := range flatSeeds {
		checkFlat(t, []byte(s))
	}
	// Random documents and their mutations, and every prefix of the seeds.
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		g := &gen{r: r}
		g.object(0)
		checkFlat(t, g.b.Bytes())
		checkFlat(t, mutate(r, g.b.Bytes()))
	}
	for _, s := range flatSeeds {
		for n := range len(s) {
			checkFlat(t, []byte(s[:n]))
		}
	}
}

func TestFlatPlan(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		flat bool
	}{
		{Config{Paths: []string{"value"}, Key: "key", Time: "ts"}, true},
		{Config{Paths: []string{"a.b"}, Key: "key", Time: "ts"}, false},
		{Config{Paths: []string{"a_name_of_15_by"}, ProcessingTime: true}, false},
		{Config{Paths: []string{`["é"]`}, ProcessingTime: true}, false},
		{Config{Paths: []string{`["a\"b"]`}, ProcessingTime: true}, false},
		{Config{Format: FormatCloudEvents, Paths: []string{"value"}, ProcessingTime: true}, false},
		{Config{Key: "$key", ProcessingTime: true}, false},
	} {
		d := mustNew(t, tc.cfg)
		if got := d.c.flat != nil; got != tc.flat {
			t.Errorf("%+v: flat %v, want %v", tc.cfg, got, tc.flat)
		}
	}
}

// run8 (what flatNumber does inline) returns the value and the count (0 to 8) of the leading decimal digits of w (first byte
// lowest).
func run8(w uint64) (uint64, int) {
	k := bits.TrailingZeros64(nonDigits(w)) >> 3
	// Shifting the k digits to the top leaves zero bytes below, which digits8 reads as '0's.
	return digits8(w << (64 - 8*uint(k))), k
}

// digitRun reads (for the test of load8 and run8) the decimal digits at b[j:]: their value (modulo 2^64) and count.
func digitRun(b []byte, j int) (uint64, int) {
	var m uint64
	start := j
	for {
		w, ok := load8(b, j)
		if !ok {
			for j < len(b) && b[j]-'0' <= 9 {
				m = m*10 + uint64(b[j]-'0')
				j++
			}
			return m, j - start
		}
		v, k := run8(w)
		m = m*pow10u[k] + v
		j += k
		if k < 8 {
			return m, j - start
		}
	}
}

func TestDigitRun(t *testing.T) {
	for _, s := range []string{"", "x", "0", "7,", "12345678", "123456789", "1234567890123456", "12345678901234567x", "99427,\"v", "1\x80"} {
		want, wn := uint64(0), 0
		for wn < len(s) && s[wn] >= '0' && s[wn] <= '9' {
			want = want*10 + uint64(s[wn]-'0')
			wn++
		}
		for pad := 0; pad < 10; pad++ { // with and without room for 8-byte loads
			b := append([]byte(s), bytes.Repeat([]byte{'}'}, pad)...)
			if got, n := digitRun(b, 0); got != want || n != wn {
				t.Errorf("digitRun(%q) = %d, %d, want %d, %d", b, got, n, want, wn)
			}
		}
	}
	for c := 0; c < 256; c++ {
		w := uint64(c) | uint64('5')<<8
		isDigit := c >= '0' && c <= '9'
		if got := nonDigits(w)&0x80 == 0; got != isDigit {
			t.Errorf("nonDigits byte %#x: digit %v", c, got)
		}
	}
}

// FuzzDecodeFlat holds the flat fast path to scanObject: same errors, same values.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range flatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkFlat(t, doc)
		if err := checkAgainstStdlib(doc, [][]string{{"key"}, {"ts"}, {"value"}, {"a"}, {"0"}, {""}}); err != nil {
			t.Fatal(err)
		}
	})
}
