// Package sports generates the dataset of the player-load example: twenty minutes of a match, each
// player's wearable (GPS and accelerometer) reporting the load it accumulated over the last five
// seconds. The generator is deterministic for a seed and plants the scenarios the function is meant
// to catch, among ordinary noisy readings, together with what a stadium's radio link delivers:
// readings out of order, readings held back while a unit was out of range, and garbled lines.
//
//	go run ./examples/sports/cmd/gen   # rewrites examples/sports/events.ndjson
package sports

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/eddyhq/eddy/examples/internal/feed"
)

// DefaultSeed is the seed of the committed dataset.
const DefaultSeed = 2026

// The planted scenarios.
const (
	// BenchedPlayer presses at high intensity from 10:02 until he is substituted at 10:06:30: his
	// five-minute load crosses the limit and stays over it, so he is benched; resting on the bench,
	// his load falls back under the recovery level and he is cleared to return, which he does at
	// 10:12.
	BenchedPlayer = "player-07"
	// SurgePlayer has two hard passages, 10:03 to 10:04 and 10:07:40 to 10:08:20: the five-minute
	// load is over the limit for a few slides only, while the first passage slides out of the
	// window as the second comes in. The rule's for: keeps him on the pitch.
	SurgePlayer = "player-04"
	// ShadowPlayer's unit is out of radio range from 10:14:00 to 10:14:20; its five buffered
	// readings arrive 12 to 32 seconds late, within the allowed lateness: the windows they belong
	// to are emitted again as new revisions.
	ShadowPlayer = "player-10"
	// LatePlayer's readings of 10:10:00 to 10:10:10 arrive at 10:17:32, when even the last of the
	// five-minute windows they belong to is past the allowed lateness: they go to the late output.
	LatePlayer = "player-03"
	// ShuffledPlayer's 10:03:05 reading arrives after his 10:03:10 one, within the allowed
	// out-of-order delay: it is on time.
	ShuffledPlayer = "player-01"
)

// Start is the kick-off of the generated segment.
var Start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// garbled are the lines the generator garbles, in arrival order: one cut short on the radio link,
// and one from a unit whose clock was never set. They must go to the dead-letter output.
var garbled = [...]string{
	`{"player":"player-05","ts":"2026-11-25T10:07:00Z","lo`,
	`{"player":"player-08","ts":"0000-00-00T00:00:00Z","load":3.25,"hr":151}`,
}

// Generate returns twenty minutes of readings of ten players, one every five seconds from Start,
// as newline-delimited JSON in arrival order:
//
//	{"player":"player-07","ts":"2026-11-25T10:04:05Z","load":7,"hr":175}
//
// load is the player load (accelerometer units) accumulated over the five seconds before ts, hr
// the heart rate in beats per minute.
func Generate(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x73706f727473))
	const (
		players = 10
		step    = 5 * time.Second
		steps   = 20 * 12
	)
	at := func(m, s int) time.Time {
		return Start.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	in := func(t, from, to time.Time) bool { return t.After(from) && !t.After(to) }
	// Loads are rounded to a quarter unit, as the units report them; this also keeps every sum
	// exact in floating point, whatever the order it is added up in.
	quarter := func(v float64) float64 { return math.Round(v*4) / 4 }
	base := make([]float64, players)
	for i := range base {
		base[i] = 2.6 + 0.8*r.Float64()
	}
	var rows []feed.Arrival[string]
	add := func(arrive time.Time, line string) {
		rows = append(rows, feed.Arrival[string]{At: arrive, Item: line})
	}
	for s := range steps {
		ts := Start.Add(time.Duration(s+1) * step)
		for i := range players {
			id := fmt.Sprintf("player-%02d", i+1)
			// Intensity varies over a match: a slow wave plus noise from one five seconds to the next.
			load := base[i]*(1+0.12*math.Sin(float64(s)/17+float64(i))) + 0.35*r.NormFloat64()
			switch id {
			case BenchedPlayer:
				switch {
				case in(ts, at(2, 0), at(6, 30)):
					load = 7.0 + 0.5*r.NormFloat64() // pressing
				case in(ts, at(6, 30), at(12, 0)):
					load = 0.25 + 0.1*r.NormFloat64() // on the bench
				}
			case SurgePlayer:
				// A hard-working midfielder: steadier and higher than the others.
				load = 3.6 + 0.3*r.NormFloat64()
				switch {
				case in(ts, at(3, 0), at(4, 0)):
					load += 5.5
				case in(ts, at(7, 40), at(8, 20)):
					load += 6.5
				}
			}
			load = quarter(max(load, 0))
			hr := int(math.Round(118 + 8*load + 3*r.NormFloat64()))
			line := fmt.Sprintf(`{"player":%q,"ts":%q,"load":%s,"hr":%d}`, id, ts.Format(time.RFC3339), fmt.Sprint(load), hr)
			arrive := ts
			switch {
			case id == ShuffledPlayer && ts.Equal(at(3, 5)):
				arrive = ts.Add(7 * time.Second)
			case id == ShadowPlayer && !ts.Before(at(14, 0)) && !ts.After(at(14, 20)):
				arrive = at(14, 32)
			case id == LatePlayer && !ts.Before(at(10, 0)) && !ts.After(at(10, 10)):
				arrive = at(17, 32)
			}
			add(arrive, line)
		}
	}
	add(at(7, 1), garbled[0])
	add(at(11, 1), garbled[1])
	return feed.Lines(rows)
}
