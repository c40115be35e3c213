package trading

import (
	"strings"
	"testing"
	"time"
)

// TestRiskScenarios checks the risk function's stories with their times and values, independently
// of expected.ndjson.
func TestRiskScenarios(t *testing.T) {
	data := dataset(t, riskDir)
	r := run(t, riskDir, nil, data, 4, 7)

	// NVDA: the flash crash at 11:10 raises the drawdown alarm within two minutes and the
	// volatility alarm right after; both resolve on the recovery.
	if got, want := story(r.Decisions, Crash), "11:12 drawdown firing, 11:13 high-volatility firing, 11:31 drawdown resolved, 11:43 high-volatility resolved"; got != want {
		t.Errorf("%s: %s, want %s", Crash, got, want)
	}
	// Nothing else is risky: AAPL's trends move it less than 3% in 20 minutes, TSLA's swings are
	// 0.2%.
	for _, k := range []string{Trend, Choppy, Calm, Drift} {
		if s := story(r.Decisions, k); s != "" {
			t.Errorf("%s: %s, want no decision", k, s)
		}
	}

	// The values, checked against the rules and against the test's own 20-minute windows.
	kept, _, _ := parseTrades(t, data, 20*time.Minute)
	for _, d := range r.Decisions {
		if d.Window.End.Sub(d.Window.Start) != 20*time.Minute || !d.Window.End.Equal(d.Time) {
			t.Errorf("%s %s %s: window %s..%s, want the 20 minutes up to %s", d.Key, d.Rule, d.State, d.Window.Start, d.Window.End, d.Time)
		}
		var n int
		var high, sum, last float64
		var lastAt time.Time
		for _, tr := range kept {
			if tr.symbol == d.Key && !tr.ts.Before(d.Window.Start) && tr.ts.Before(d.Window.End) {
				n++
				high = max(high, tr.price)
				sum += tr.price
				if tr.ts.After(lastAt) {
					last, lastAt = tr.price, tr.ts
				}
			}
		}
		closePx, hi, sma, vol := num(t, d, "close"), num(t, d, "high"), num(t, d, "sma"), num(t, d, "vol")
		if num(t, d, "ticks") != float64(n) || closePx != last || hi != high || !near(sma, sum/float64(n)) {
			t.Errorf("%s %s %s at %s: ticks %v close %v high %v sma %v; the test counts %d trades, last %v, high %v, average %v",
				d.Key, d.Rule, d.State, d.Time.Format("15:04"), d.Values["ticks"], closePx, hi, sma, n, last, high, sum/float64(n))
		}
		switch d.Rule + " " + d.State {
		case "drawdown firing":
			if closePx > hi*0.97 {
				t.Errorf("drawdown fired at %.2f%% below the high", 100*(1-closePx/hi))
			}
		case "drawdown resolved":
			if closePx <= hi*0.99 {
				t.Errorf("drawdown resolved at %.2f%% below the high", 100*(1-closePx/hi))
			}
		case "high-volatility firing":
			if vol <= sma*0.008 {
				t.Errorf("high volatility fired at %.3f%% of the average", 100*vol/sma)
			}
		case "high-volatility resolved":
			if vol >= sma*0.005 {
				t.Errorf("high volatility resolved at %.3f%% of the average", 100*vol/sma)
			}
		default:
			t.Errorf("unexpected decision %s", d.Line)
		}
	}
	if !strings.Contains(story(r.Decisions, Crash), "drawdown firing") {
		t.Fatal("no drawdown")
	}

	checkDelivery(t, r, 20*time.Minute)
}
