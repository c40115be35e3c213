// Package iot generates the datasets of the IoT telemetry example: smart electricity meters
// (meters/) and factory machinery (machines/). Each generator is deterministic for a seed and plants
// the scenarios the example's functions are meant to catch, among ordinary noisy readings, together
// with what real fleets deliver: readings out of order, readings held back by a device that lost
// its connection, and lines a misconfigured gateway garbled.
//
//	go run ./examples/iot/cmd/gen   # rewrites meters/events.ndjson and machines/events.ndjson
package iot

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/eddyhq/eddy/examples/internal/feed"
)

// DefaultSeed is the seed of the committed datasets.
const DefaultSeed = 2026

// The planted meter scenarios (meters/eddy.yaml).
const (
	// HeaterMeter runs a 7.5 kW electric heater from 02:00 to 04:00: it over-consumes for two hours
	// (the over-consumption alarm fires, then resolves when the heater goes off) and its first
	// heater quarter-hour is an anomaly.
	HeaterMeter = "meter-004"
	// SpikeMeter draws 6.8 kW for a single quarter-hour from 05:00 (oven, kettle and dryer at
	// once): an anomaly, but too short for the over-consumption alarm.
	SpikeMeter = "meter-008"
	// OfflineMeter loses its uplink at 03:30; its three buffered readings arrive at 04:40, past the
	// allowed lateness: they go to the late output.
	OfflineMeter = "meter-006"
	// LateMeter's 01:12 reading arrives 19 minutes late, within the allowed lateness: its window is
	// emitted again as revision 1.
	LateMeter = "meter-002"
	// ShuffledMeter's 06:03 reading arrives after its 06:06 one, within the allowed out-of-order
	// delay: it is on time.
	ShuffledMeter = "meter-009"
)

// The planted machine scenarios (machines/eddy.yaml).
const (
	// OverheatMachine loses its coolant pump at 08:10: it heats up to 92 °C, cools to 80 °C (still
	// above the clear level of the alarm: hysteresis keeps it firing), then back to normal.
	OverheatMachine = "press-02"
	// BlipMachine runs at 90 °C for one minute from 08:05: one window over the limit, which the
	// alarm's for: ignores.
	BlipMachine = "press-04"
	// BearingMachine runs warm (80 °C) from 08:20 and its vibration spikes at 08:21:10: the
	// temperature-rise-then-vibration-spike pattern of a failing bearing.
	BearingMachine = "press-05"
	// KnockMachine has a vibration spike with a normal temperature (a tool change): no pattern.
	KnockMachine = "press-06"
	// LateMachine's 08:12:00 reading arrives 32 s late, within the allowed lateness: its windows
	// are revised, but the pattern, which has no allowed lateness, reports it late. Its 08:16:00
	// reading arrives 2 minutes late, past the allowed lateness: the late output.
	LateMachine = "press-03"
	// ShuffledMachine's 08:15:00 reading arrives 7 s late, after its 08:15:05 one: on time.
	ShuffledMachine = "press-01"
)

// The lines the generators garble, in arrival order: a gateway cut a meter reading short and
// another wrote a time in its own format; a press gateway fell back to its text format, and another
// wrote a time of day where a Unix time belongs. They must go to the dead-letter output.
var (
	garbledMeters = [...]string{
		`{"meter":"meter-003","ts":"2026-11-25T01:45:00Z","w":3`,
		`{"meter":"meter-005","ts":"25/11/2026 04:30","w":412,"wh":21}`,
	}
	garbledMachines = [...]string{
		`press-03 temp=71.5 vib=1.75 rpm=1480`,
		`{"machine":"press-06","ts":"08:25:00","temp":63.5,"vibration":2.0,"rpm":1475}`,
	}
)

// MetersStart and MachinesStart are when the datasets begin.
var (
	MetersStart   = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	MachinesStart = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
)

// GenerateMeters returns eight hours of readings of ten household smart meters, one every three
// minutes from MetersStart, as newline-delimited JSON in arrival order:
//
//	{"meter":"meter-004","ts":"2026-11-25T02:03:00Z","w":7833,"wh":392}
//
// w is the mean power over the three minutes from ts in watts, wh the energy in watt-hours.
func GenerateMeters(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6d6574657273))
	const (
		meters = 10
		step   = 3 * time.Minute
		steps  = 8 * 20
	)
	var rows []feed.Arrival[string]
	add := func(arrive time.Time, line string) {
		rows = append(rows, feed.Arrival[string]{At: arrive, Item: line})
	}
	type meter struct {
		base, swing, phase float64
	}
	ms := make([]meter, meters)
	for i := range ms {
		ms[i] = meter{base: 180 + 220*r.Float64(), swing: 20 + 40*r.Float64(), phase: 2 * math.Pi * r.Float64()}
	}
	for s := range steps {
		ts := MetersStart.Add(time.Duration(s) * step)
		for i, m := range ms {
			id := fmt.Sprintf("meter-%03d", i+1)
			// Night-time household load: a base (standby, fridge) with a slow swing and noise.
			w := m.base + m.swing*math.Sin(2*math.Pi*float64(s)/15.7+m.phase) + m.base*0.06*r.NormFloat64()
			switch {
			case id == HeaterMeter && !ts.Before(MetersStart.Add(2*time.Hour)) && ts.Before(MetersStart.Add(4*time.Hour)):
				w += 7500 + 150*r.NormFloat64()
			case id == SpikeMeter && !ts.Before(MetersStart.Add(5*time.Hour)) && ts.Before(MetersStart.Add(5*time.Hour+15*time.Minute)):
				w += 6800 + 150*r.NormFloat64()
			}
			w = math.Round(max(w, 40))
			wh := math.Round(w * step.Hours())
			line := fmt.Sprintf(`{"meter":%q,"ts":%q,"w":%d,"wh":%d}`, id, ts.Format(time.RFC3339), int(w), int(wh))
			arrive := ts
			switch {
			case id == LateMeter && ts.Equal(MetersStart.Add(time.Hour+12*time.Minute)):
				arrive = ts.Add(19 * time.Minute)
			case id == ShuffledMeter && ts.Equal(MetersStart.Add(6*time.Hour+3*time.Minute)):
				arrive = ts.Add(4 * time.Minute)
			case id == OfflineMeter && !ts.Before(MetersStart.Add(3*time.Hour+30*time.Minute)) && !ts.After(MetersStart.Add(3*time.Hour+36*time.Minute)):
				// Buffered on the device and uploaded when the uplink is back.
				arrive = MetersStart.Add(4*time.Hour + 40*time.Minute)
			}
			add(arrive, line)
		}
	}
	add(MetersStart.Add(time.Hour+45*time.Minute+time.Second), garbledMeters[0])
	add(MetersStart.Add(4*time.Hour+30*time.Minute+time.Second), garbledMeters[1])
	return feed.Lines(rows)
}

// GenerateMachines returns thirty minutes of readings of six presses, one every five seconds from
// MachinesStart, as newline-delimited JSON in arrival order:
//
//	{"machine":"press-02","ts":1795594500000,"temp":92,"vibration":2,"rpm":1487}
//
// ts is in Unix milliseconds, temp the spindle temperature in °C, vibration the RMS velocity in
// mm/s.
func GenerateMachines(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6d616368696e6573))
	const (
		machines = 6
		step     = 5 * time.Second
		steps    = 30 * 12
	)
	var rows []feed.Arrival[string]
	add := func(arrive time.Time, line string) {
		rows = append(rows, feed.Arrival[string]{At: arrive, Item: line})
	}
	at := func(h, m, s int) time.Time {
		return MachinesStart.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	// ramp interpolates from a at t0 to b at t1.
	ramp := func(t, t0, t1 time.Time, a, b float64) float64 {
		f := float64(t.Sub(t0)) / float64(t1.Sub(t0))
		return a + (b-a)*f
	}
	base := make([]float64, machines)
	for i := range base {
		base[i] = 60 + 6*r.Float64()
	}
	// Readings are rounded to what the sensors resolve (0.5 °C, 0.25 mm/s), which also keeps every
	// sum exact in floating point, whatever the order it is added up in.
	half := func(v float64) float64 { return math.Round(v*2) / 2 }
	quarter := func(v float64) float64 { return math.Round(v*4) / 4 }
	for s := range steps {
		ts := MachinesStart.Add(time.Duration(s) * step)
		for i := range machines {
			id := fmt.Sprintf("press-%02d", i+1)
			temp := base[i] + 1.2*math.Sin(float64(s)/40+float64(i)) + 0.6*r.NormFloat64()
			vib := 2.0 + 0.3*r.NormFloat64()
			rpm := 1480 + r.IntN(21) - 10
			switch id {
			case OverheatMachine:
				switch {
				case !ts.Before(at(0, 10, 0)) && ts.Before(at(0, 13, 0)):
					temp = ramp(ts, at(0, 10, 0), at(0, 13, 0), base[i], 92) + 0.5*r.NormFloat64()
				case !ts.Before(at(0, 13, 0)) && ts.Before(at(0, 18, 0)):
					temp = 92 + 0.6*r.NormFloat64()
				case !ts.Before(at(0, 18, 0)) && ts.Before(at(0, 19, 0)):
					temp = ramp(ts, at(0, 18, 0), at(0, 19, 0), 92, 80) + 0.5*r.NormFloat64()
				case !ts.Before(at(0, 19, 0)) && ts.Before(at(0, 22, 0)):
					temp = 80 + 0.6*r.NormFloat64()
				case !ts.Before(at(0, 22, 0)) && ts.Before(at(0, 24, 0)):
					temp = ramp(ts, at(0, 22, 0), at(0, 24, 0), 80, base[i]) + 0.5*r.NormFloat64()
				}
			case BlipMachine:
				if !ts.Before(at(0, 5, 0)) && ts.Before(at(0, 6, 0)) {
					temp = 90 + 0.5*r.NormFloat64()
				}
			case BearingMachine:
				if !ts.Before(at(0, 20, 0)) && ts.Before(at(0, 23, 0)) {
					temp = 80 + 0.5*r.NormFloat64()
				}
				if !ts.Before(at(0, 21, 10)) && !ts.After(at(0, 21, 20)) {
					vib = 9.5 + 0.3*r.NormFloat64()
				}
			case KnockMachine:
				if ts.Equal(at(0, 8, 0)) || ts.Equal(at(0, 8, 5)) {
					vib = 9.0 + 0.3*r.NormFloat64()
				}
			}
			line := fmt.Sprintf(`{"machine":%q,"ts":%d,"temp":%s,"vibration":%s,"rpm":%d}`,
				id, ts.UnixMilli(), num(half(temp)), num(quarter(max(vib, 0.25))), rpm)
			arrive := ts
			switch {
			case id == ShuffledMachine && ts.Equal(at(0, 15, 0)):
				arrive = ts.Add(7 * time.Second)
			case id == LateMachine && ts.Equal(at(0, 12, 0)):
				arrive = ts.Add(32 * time.Second)
			case id == LateMachine && ts.Equal(at(0, 16, 0)):
				arrive = ts.Add(2 * time.Minute)
			}
			add(arrive, line)
		}
	}
	add(at(0, 9, 1), garbledMachines[0])
	add(at(0, 25, 1), garbledMachines[1])
	return feed.Lines(rows)
}

// num formats a reading without a trailing ".0" for whole numbers, as sensors usually do.
func num(v float64) string { return fmt.Sprint(v) }
