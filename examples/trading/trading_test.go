package trading

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

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

// TestPlantedScenarios checks the stories Generate plants, independently of expected.ndjson, so
// that a regenerated golden file cannot silently lose them.
func TestPlantedScenarios(t *testing.T) {
	r := run(t, dataset(t), 4, 7)

	// AAPL: golden cross at 10:31 (the close 0.2% above the 20-minute average for the second
	// minute, volatility calm), death cross at 11:28.
	if got, want := story(r.decisions, Trend), "10:31 golden-cross firing, 11:28 golden-cross resolved"; got != want {
		t.Errorf("%s: %s, want %s", Trend, got, want)
	}
	for _, d := range r.decisions {
		if d.Key != Trend {
			continue
		}
		closePx, sma, vol := num(t, d, "close"), num(t, d, "sma"), num(t, d, "vol")
		switch d.State {
		case "firing":
			if closePx <= sma*1.002 || vol >= sma*0.004 {
				t.Errorf("golden cross with close %v, sma %v, vol %v", closePx, sma, vol)
			}
		case "resolved":
			if closePx >= sma*0.998 {
				t.Errorf("death cross with close %v above 0.998 sma %v", closePx, sma)
			}
		}
		if !d.Window.End.Equal(d.Time) || d.Window.End.Sub(d.Window.Start) != 20*time.Minute {
			t.Errorf("%s decision window %s..%s, want the 20 minutes up to %s", Trend, d.Window.Start, d.Window.End, d.Time)
		}
	}

	// NVDA: the flash crash at 11:10 raises the drawdown alarm within two minutes and the
	// volatility alarm right after; both resolve on the recovery.
	crash := story(r.decisions, Crash)
	if !strings.HasPrefix(crash, "11:12 drawdown firing, 11:13 high-volatility firing, 11:31 drawdown resolved, 11:43 high-volatility resolved") {
		t.Errorf("%s: %s", Crash, crash)
	}
	for _, d := range r.decisions {
		if d.Key == Crash && d.Rule == "drawdown" && d.State == "firing" {
			if dd := 1 - num(t, d, "close")/num(t, d, "high"); dd < 0.03 {
				t.Errorf("drawdown fired at %.2f%%", 100*dd)
			}
		}
	}

	// TSLA: the choppy 40 minutes raise high volatility (and drawdowns) but no golden cross: the
	// crossover ignores a volatile market.
	choppy := story(r.decisions, Choppy)
	if !strings.Contains(choppy, "high-volatility firing") || !strings.Contains(choppy, "high-volatility resolved") || strings.Contains(choppy, "golden-cross") {
		t.Errorf("%s: %s", Choppy, choppy)
	}
	for _, d := range r.decisions {
		if d.Key == Choppy && d.Rule == "high-volatility" {
			if d.State == "firing" && (d.Time.Before(at("10:00")) || d.Time.After(at("10:20"))) ||
				d.State == "resolved" && (d.Time.Before(at("10:40")) || d.Time.After(at("11:10"))) {
				t.Errorf("%s high-volatility %s at %s, outside the choppy period 10:00-10:40 (+20 minutes of window)", Choppy, d.State, d.Time.Format("15:04"))
			}
		}
	}

	// MSFT and AMZN trade quietly.
	for _, k := range []string{Calm, Drift} {
		if s := story(r.decisions, k); s != "" {
			t.Errorf("%s: %s, want no decision", k, s)
		}
	}

	// The NVDA trade that arrived 100 s late revised the windows that had fired without it.
	revised := 0
	for _, l := range r.windows {
		var w struct {
			Key      string
			End      time.Time
			Revision int
		}
		if err := json.Unmarshal([]byte(l), &w); err != nil {
			t.Fatal(err)
		}
		if w.Revision > 0 {
			if w.Key != Crash || !w.End.Equal(at("11:06")) {
				t.Errorf("unexpected revision %d of %s's window ending %s", w.Revision, w.Key, w.End)
			}
			revised++
		}
	}
	if revised != 1 {
		t.Errorf("%d revised windows, want 1 (NVDA's window ending 11:06)", revised)
	}
	// The AAPL correction 45 minutes late goes to the late output; the two bad lines to the
	// dead letters.
	if len(r.late) != 1 || r.late[0].Key != Trend || !r.late[0].Time.Equal(at("10:45")) {
		t.Errorf("late: %v, want AAPL's 10:45 correction", r.late)
	}
	if len(r.dead) != 2 || !strings.Contains(r.dead[0], `field "ts"`) || !strings.Contains(r.dead[1], "invalid JSON") {
		t.Errorf("dead letters: %q", r.dead)
	}
}

func ExampleGenerate() {
	data := Generate(Seed)
	first, _, _ := strings.Cut(string(data), "\n")
	fmt.Println(first)
	// Output: {"symbol":"NVDA","ts":"2026-11-20T09:30:05.176Z","price":479.97,"size":900}
}
