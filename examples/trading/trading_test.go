package trading

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// at is HH:MM on the trading day, UTC.
func at(hhmm string) time.Time {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		panic(err)
	}
	return time.Date(Open.Year(), Open.Month(), Open.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
}

// story lists a symbol's decisions as "HH:MM rule state".
func story(ds []decision, key string) string {
	var s []string
	for _, d := range ds {
		if d.Key == key {
			s = append(s, d.Time.Format("15:04")+" "+d.Rule+" "+d.State)
		}
	}
	return strings.Join(s, ", ")
}

func num(t *testing.T, d decision, name string) float64 {
	t.Helper()
	v, ok := d.Values[name].(float64)
	if !ok {
		t.Fatalf("%s %s at %s: value %s = %v", d.Key, d.Rule, d.Time, name, d.Values[name])
	}
	return v
}

// trade is one line of events.ndjson, decoded by the tests on their own (not by eddy's codec).
type trade struct {
	symbol string
	ts     time.Time
	price  float64
	size   float64
	line   int // 1-based line number in events.ndjson
}

// The specs' input.out_of_order and window.allowed_lateness (both specs use the same).
const (
	outOfOrder      = 5 * time.Second
	allowedLateness = time.Minute
)

// parseTrades decodes events.ndjson into the trades a function keeps, the trades that arrive past
// the allowed lateness of every window that could hold them (for windows of up to size, ending at
// most size after the trade), and the line numbers that do not decode.
func parseTrades(t *testing.T, data []byte, size time.Duration) (kept, late []trade, bad []int) {
	t.Helper()
	var maxSeen time.Time
	for i, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var raw struct {
			Symbol string   `json:"symbol"`
			TS     string   `json:"ts"`
			Price  *float64 `json:"price"`
			Size   float64  `json:"size"`
		}
		if err := json.Unmarshal(l, &raw); err != nil {
			bad = append(bad, i+1)
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, raw.TS)
		if err != nil || raw.Price == nil || raw.Symbol == "" {
			bad = append(bad, i+1)
			continue
		}
		tr := trade{symbol: raw.Symbol, ts: ts, price: *raw.Price, size: raw.Size, line: i + 1}
		// The watermark trails the newest trade by out_of_order; a window is gone once the
		// watermark is past its end plus the allowed lateness. The engine keeps one watermark per
		// partition, which never runs ahead of this global one: a trade kept here is kept there.
		if wm := maxSeen.Add(-outOfOrder); !wm.Before(ts.Truncate(time.Minute).Add(size + allowedLateness)) {
			late = append(late, tr)
			continue
		}
		if ts.After(maxSeen) {
			maxSeen = ts
		}
		kept = append(kept, tr)
	}
	return kept, late, bad
}

// TestEventsFiles: both functions read the same stream, Generate(Seed).
func TestEventsFiles(t *testing.T) {
	for _, dir := range functionDirs {
		data := dataset(t, dir)
		if n := bytes.Count(data, []byte("\n")); n != 2738 {
			t.Errorf("%s/events.ndjson has %d lines, want 2738", dir, n)
		}
	}
	if !bytes.Equal(Generate(Seed), Generate(Seed)) {
		t.Error("Generate is not deterministic")
	}
	if bytes.Equal(Generate(Seed), Generate(Seed+1)) {
		t.Error("Generate ignores its seed")
	}
}

func ExampleGenerate() {
	data := Generate(Seed)
	first, _, _ := strings.Cut(string(data), "\n")
	fmt.Println(first)
	// Output: {"symbol":"NVDA","ts":"2026-11-20T09:30:05.176Z","price":479.97,"size":900}
}
