package core_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

// Every output's JSON carries its deterministic id: the same window (function, key, span,
// revision) gets the same id, and a revision or another key gets another.
func TestOutputJSONCarriesID(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &core.WindowResult{Function: "f", Key: "k", Start: start, End: start.Add(time.Minute), Values: []core.NamedValue{{Name: "count", Num: 2}}}
	l := &core.Late{Function: "f", Key: "k", Time: start, Watermark: start.Add(time.Hour), ID: "rec-1", Pos: core.Pos{Partition: "0", Offset: "7"}, Data: []byte(`{"v":1}`)}
	ids := map[string]string{}
	for _, o := range []core.Output{w, l} {
		var m map[string]any
		if err := json.Unmarshal(o.AppendJSON(nil), &m); err != nil {
			t.Fatal(err)
		}
		id, _ := m["id"].(string)
		if id == "" || id != core.OutputID(o) || m["type"] != o.Type() {
			t.Fatalf("%s JSON %v: want id %q", o.Type(), m, core.OutputID(o))
		}
		ids[o.Type()] = id
	}
	var m map[string]any
	json.Unmarshal(l.AppendJSON(nil), &m)
	if m["record"] != "rec-1" {
		t.Errorf("late JSON %v: want the event's id as record", m)
	}
	w2 := w.Clone()
	w2.Revision = 1
	w3 := w.Clone()
	w3.Key = "other"
	if core.OutputID(w.Clone()) != ids["window"] || core.OutputID(w2) == ids["window"] || core.OutputID(w3) == ids["window"] {
		t.Errorf("window ids: same window %q, revision 1 %q, other key %q", core.OutputID(w.Clone()), core.OutputID(w2), core.OutputID(w3))
	}
}

// AppendTime writes by hand what time.Time.AppendFormat writes for TimeLayout: the same bytes for
// every time, including fractions it truncates, zones it converts and years it cannot write in four
// digits (which take AppendFormat's own path).
func TestAppendTimeIsAppendFormat(t *testing.T) {
	east := time.FixedZone("east", 5*3600+30*60)
	times := []time.Time{
		{},
		time.Unix(0, 0),
		time.Date(2025, 11, 25, 16, 0, 1, 999_999_999, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 1_000_000, east),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(0, 2, 29, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(0, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2100, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Now(),
	}
	for _, tm := range times {
		checkAppendTime(t, tm)
	}
}

// Every day AppendTime writes by hand, from 0000-03-01 to 9999-12-31, at a time of day that
// moves through the day's seconds and milliseconds, is what AppendFormat writes.
func TestAppendTimeEveryDay(t *testing.T) {
	first := time.Date(0, 3, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	var got, want []byte
	for day, n := first, int64(0); !day.After(last); day, n = day.AddDate(0, 0, 1), n+1 {
		tm := day.Add(time.Duration(n*7919%86400)*time.Second + time.Duration(n%1000)*time.Millisecond)
		got = core.AppendTime(got[:0], tm)
		want = append(append(append(want[:0], '"'), tm.Format(core.TimeLayout)...), '"')
		if string(got) != string(want) {
			t.Fatalf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1764086400), int64(999_999_999))
	f.Add(int64(-62135596801), int64(1))
	f.Add(int64(253402300800), int64(0))
	f.Add(int64(-62162035200), int64(-1))
	f.Add(int64(253402300799), int64(999_999_999))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		checkAppendTime(t, time.Unix(sec, nsec))
	})
}

func checkAppendTime(t *testing.T, tm time.Time) {
	t.Helper()
	want := `"` + tm.UTC().Format(core.TimeLayout) + `"`
	if got := string(core.AppendTime([]byte("x"), tm)); got != "x"+want {
		t.Fatalf("AppendTime(%v) = %s, want x%s", tm, got, want)
	}
}

// Clone is a deep copy for every number of values (up to four share the result's allocation):
// changing the original's values or items after cloning leaves the clone as it was.
func TestWindowResultCloneIsDeep(t *testing.T) {
	for n := range 7 {
		w := &core.WindowResult{Function: "f", Key: "k", Revision: 2, Early: true}
		for i := range n {
			w.Values = append(w.Values, core.NamedValue{Name: "v" + strconv.Itoa(i), Num: float64(i), IsList: true, Items: []core.Item{{Value: "a", Count: 1}}})
		}
		c := w.Clone()
		want := string(w.AppendJSON(nil))
		if got := string(c.AppendJSON(nil)); got != want || len(c.Values) != n || (n == 0) != (c.Values == nil) {
			t.Fatalf("%d values: clone %s (%d values), want %s", n, got, len(c.Values), want)
		}
		for i := range w.Values {
			w.Values[i].Num = -1
			w.Values[i].Items[0].Count = 99
		}
		w.Key = "changed"
		if got := string(c.AppendJSON(nil)); got != want {
			t.Fatalf("%d values: clone changed with the original: %s, want %s", n, got, want)
		}
	}
}
