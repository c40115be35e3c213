// Package trading is a runnable example of two functions over one stream of trade ticks (see
// README.md): a golden/death cross of the 5-bar and 20-bar moving averages of one-minute bars
// (crossover/eddy.yaml) and 20-minute volatility and drawdown alerts (risk/eddy.yaml). This package
// holds the deterministic generator of their dataset, events.ndjson in each directory, with the
// scenarios the tests check.
package trading

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/eddyhq/eddy/examples/internal/feed"
)

// Open and Close bound the generated trading session (event time).
var (
	Open  = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	Close = Open.Add(3 * time.Hour)
)

// Seed is the seed events.ndjson was generated with.
const Seed = 1032

// The symbols and their planted stories (times are event time, minutes after Open in the code).
const (
	// Trend falls steadily (-0.04% a minute) until 10:20, rallies (+0.06% a minute) until 11:20
	// and then sells off (-0.05% a minute): the 5-bar average crosses above the 20-bar one a few
	// minutes into the rally (a golden cross) and below it a few minutes into the sell-off (a death
	// cross). Its first averages (09:50) are already apart, on the downside: not a crossing.
	Trend = "AAPL"
	// Crash has a flash crash at 11:10 (-5% in three minutes), recovers to -2% by 11:33 and then
	// trades flat: the risk function's drawdown and high-volatility alerts fire; the crossover sees a
	// death cross in the crash and a golden cross on the recovery.
	Crash = "NVDA"
	// Choppy trades sideways but swings +/-0.2% (about 50 cents) around its price with a 10-minute
	// period from 10:00 to 11:00: the 5-bar average keeps crossing the 20-bar one, by less than
	// 0.2% of it each way, which the crossover's min_spread band of 0.2% ignores.
	Choppy = "TSLA"
	// Calm and Drift trade quietly (one flat, one slowly declining): no decision.
	Calm  = "MSFT"
	Drift = "AMZN"
)

// symbol is one instrument's price model: log price = log(base) + trend(minute) + noise, the noise
// an AR(1) process with standard deviation sigma(minute).
type symbol struct {
	name  string
	base  float64
	trend func(m float64) float64
	sigma func(m float64) float64
}

func constant(v float64) func(float64) float64 { return func(float64) float64 { return v } }

var symbols = []symbol{
	{Trend, 190, func(m float64) float64 {
		const rally, selloff = 50, 110
		switch {
		case m < rally:
			return -0.0004 * m
		case m < selloff:
			return -0.0004*rally + 0.0006*(m-rally)
		default:
			return -0.0004*rally + 0.0006*(selloff-rally) - 0.0005*(m-selloff)
		}
	}, constant(0.0003)},
	{Crash, 480, func(m float64) float64 {
		switch {
		case m < 100:
			return 0
		case m < 103:
			return -0.05 * (m - 100) / 3
		case m < 123:
			return -0.05 + 0.03*(m-103)/20
		default:
			return -0.02
		}
	}, constant(0.0004)},
	{Choppy, 240, func(m float64) float64 {
		if m >= 30 && m < 90 {
			return 0.002 * math.Sin(2*math.Pi*(m-30)/10)
		}
		return 0
	}, constant(0.0003)},
	{Calm, 410, constant(0), constant(0.0002)},
	{Drift, 185, func(m float64) float64 { return -0.0001 * m }, constant(0.0003)},
}

type tick struct {
	symbol string
	ts     time.Time
	price  float64
	size   int
}

func (t *tick) appendJSON(b []byte) []byte {
	return fmt.Appendf(b, `{"symbol":%q,"ts":%q,"price":%s,"size":%d}`,
		t.symbol, t.ts.Format("2006-01-02T15:04:05.000Z07:00"), strconv.FormatFloat(t.price, 'f', 2, 64), t.size)
}

// Generate returns the example's dataset as newline-delimited JSON: trades of five symbols from
// Open to Close, one every 10 to 30 seconds per symbol, in arrival order. Trades arrive up to 3
// seconds out of order (within the spec's out_of_order of 5 seconds); one NVDA trade arrives 100
// seconds late (within the allowed lateness: its windows are revised), one AAPL correction arrives
// about 45 minutes late (the late output), and two lines are malformed (the dead-letter output). The
// same seed gives the same bytes.
func Generate(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x7472616465))
	var ticks []tick
	for _, s := range symbols {
		z := 0.0
		for t := Open.Add(time.Duration(r.IntN(10_000)) * time.Millisecond); t.Before(Close); t = t.Add(time.Duration(10_000+r.IntN(20_000)) * time.Millisecond) {
			m := t.Sub(Open).Minutes()
			// AR(1) with unit stationary variance: z' = 0.6 z + 0.8 e.
			z = 0.6*z + 0.8*r.NormFloat64()
			p := s.base * math.Exp(s.trend(m)+s.sigma(m)*z)
			ticks = append(ticks, tick{symbol: s.name, ts: t, price: math.Round(p*100) / 100, size: 100 * (1 + r.IntN(20))})
		}
	}

	// Arrival order: event time plus up to 3 s of feed jitter.
	arr := make([]feed.Arrival[tick], 0, len(ticks)+1)
	for _, t := range ticks {
		arr = append(arr, feed.Arrival[tick]{At: t.ts.Add(time.Duration(r.IntN(3000)) * time.Millisecond), Item: t})
	}
	// An NVDA trade printed at 11:05:10 reaches the feed at 11:06:50: after the watermark passed
	// the end of its newest closed windows (11:06), within their allowed lateness of a minute.
	delayed := tick{symbol: Crash, ts: Open.Add(95*time.Minute + 10*time.Second), price: 480.55, size: 700}
	arr = append(arr, feed.Arrival[tick]{At: delayed.ts.Add(100 * time.Second), Item: delayed})
	feed.Sort(arr)

	var b bytes.Buffer
	for i, a := range arr {
		b.Write(a.Item.appendJSON(nil))
		b.WriteByte('\n')
		switch i {
		case len(arr) / 4:
			// A truncated line.
			b.WriteString(`{"symbol":"MSFT","ts":"` + a.Item.ts.Format("2006-01-02T15:04:05.000Z07:00") + `","pri` + "\n")
		case len(arr) / 2:
			// A time in the wrong format.
			b.WriteString(`{"symbol":"AMZN","ts":"20/11/2026 11:00:07","price":183.91,"size":200}` + "\n")
		case 2 * len(arr) / 3:
			// A correction of an AAPL trade of 10:45, published at about 11:30: past the allowed
			// lateness of every window that held it.
			c := tick{symbol: Trend, ts: Open.Add(75 * time.Minute), price: 191.02, size: 100}
			b.Write(c.appendJSON(nil))
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
