package pattern

import (
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// FuzzCompile compiles arbitrary predicates and shapes: errors are fine, panics are not. What
// compiles also runs over a few events.
func FuzzCompile(f *testing.F) {
	f.Add("value > 90.0", "value < 10.0", 3, 0, false, false, "strict")
	f.Add(`status == "failed"`, `country != a.country`, 1, 2, true, false, "")
	f.Add("value > threshold", "", 3, 0, false, true, "relaxed")
	f.Add("items.exists(x, x > 3)", "has(d.e) && d.e.f == 1", 0, 1, false, false, "")
	f.Add("a.b.c", "b", -1, 0, false, false, "x")
	f.Fuzz(func(t *testing.T, w1, w2 string, times, min int, more, absent bool, contiguity string) {
		cfg := Config{Name: "fuzz", Within: time.Minute, Contiguity: Contiguity(contiguity), Steps: []Step{
			{Name: "a", Where: w1, Times: times, MinTimes: min, OneOrMore: more},
			{Name: "b", Where: w2, Absent: absent, Within: time.Second},
		}}
		if !absent {
			cfg.Steps[1].Within = 0
		}
		table := &core.FieldTable{}
		p, err := Compile(cfg, table)
		if err != nil {
			return
		}
		m := p.NewMatcher()
		for i := 0; i < 8; i++ {
			fields := make([]core.Value, table.Len())
			for j := range fields {
				switch (i + j) % 4 {
				case 0:
					fields[j] = core.Value{Kind: core.Number, Num: float64(i * 20)}
				case 1:
					fields[j] = core.Value{Kind: core.String, Str: "x"}
				case 2:
					fields[j] = core.Value{Kind: core.Object, Raw: []byte(`{"e":{"f":1},"c":[1,2,5]}`)}
				}
			}
			if _, err := m.Add(&core.Event{Key: "k", Time: time.Unix(int64(i), 0), Fields: fields}); err != nil {
				t.Fatal(err)
			}
		}
		m.Advance(time.Unix(1<<62, 0), func(*core.Decision) {})
	})
}

// FuzzRestore feeds arbitrary bytes to UnmarshalBinary: errors are fine, panics are not, and a
// matcher that restored keeps working and snapshots again.
func FuzzRestore(f *testing.F) {
	table := &core.FieldTable{}
	p, err := Compile(sensorSilent(time.Second), table)
	if err != nil {
		f.Fatal(err)
	}
	m := p.NewMatcher()
	for i := 0; i < 6; i++ {
		fields := []core.Value{{Kind: core.Number, Num: 95}, {Kind: core.Number, Num: 80}}
		if _, err := m.Add(&core.Event{ID: "e", Key: []string{"a", "b"}[i%2], Time: time.Unix(int64(i), 0), Fields: fields}); err != nil {
			f.Fatal(err)
		}
	}
	m.Advance(time.Unix(5, 0), func(*core.Decision) {})
	seed, err := m.AppendBinary(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("ep\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := p.NewMatcher()
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		fields := []core.Value{{Kind: core.Number, Num: 95}, {Kind: core.Number, Num: 80}}
		_, _ = m.Add(&core.Event{Key: "a", Time: time.Unix(100, 0), Fields: fields})
		m.Advance(time.Unix(200, 0), func(*core.Decision) {})
		m.Tick(time.Unix(300, 0), func(*core.Decision) {})
		m.Advance(time.Unix(1<<62, 0), func(*core.Decision) {})
		if _, err := m.AppendBinary(nil); err != nil {
			t.Fatal(err)
		}
	})
}
