package view

import (
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

func TestAppendTime(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(0, 0), time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1999, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("x", 3600)), time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, want := string(appendTime(nil, tm)), string(core.AppendTime(nil, tm)); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

// FuzzStoredRow feeds arbitrary stored bytes (a row another version wrote, a corrupted item) to
// the decoder and the merge: an error, never a panic, and a merged row that decodes again.
func FuzzStoredRow(f *testing.F) {
	f.Add([]byte(`{"key":"k","windows":[{"start":"2026-01-01T00:00:00.000Z","end":"2026-01-01T00:01:00.000Z","revision":1,"values":{"n":1}}]}`), uint8(1))
	f.Add([]byte(`{"key":"k","start":"2026-01-01T00:00:00.000Z","end":"2026-01-01T00:01:00.000Z","revision":0,"values":{}}`), uint8(0))
	f.Add([]byte(`{"id":"x","rule":"hot","key":"k","state":"firing","time":"2026-01-01T00:01:00Z"}`), uint8(2))
	kinds := []Kind{Latest, History, Firing, Decisions}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		def := &Def{Name: "v", Kind: kinds[int(k)%len(kinds)], Windows: 3}
		r, err := decodeRow(def.Kind, data)
		if err != nil {
			return
		}
		s := time.Date(2026, 1, 1, 0, 2, 0, 0, time.UTC)
		u := &update{def: def, key: "k",
			wins: []Window{{Start: s, End: s.Add(time.Minute), Values: core.AppendValues(nil, []core.NamedValue{{Name: "n", Num: 2}})}},
			decs: []DecisionRow{decisionOf(&core.Decision{ID: "y", Rule: "hot", Key: "k", State: "resolved", Time: s})}}
		r.merge(u)
		if _, err := decodeRow(def.Kind, r.encode(def.Kind, "k")); err != nil {
			t.Fatalf("a merged row does not decode: %v", err)
		}
	})
}
