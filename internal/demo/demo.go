// Package demo is eddy's embedded default: a machine-health function (internal/demo/eddy.yaml, the
// same as examples/quickstart/eddy.yaml) and generated telemetry that makes it decide, so that
// `eddy dev --demo` and the quickstart run with nothing but Go installed.
package demo

import (
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/eddyhq/eddy/core"
)

// Spec is the demo function's spec.
//
//go:embed eddy.yaml
var Spec []byte

// Start is the event time of the first reading.
var Start = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// Telemetry makes one reading per machine per second, up to 1.5 s out of order. Machine 3 overheats
// for a minute, machine 7 shakes for a few seconds, machine 9 runs hot and then stops; the rest hum
// along. The same arguments give the same records.
func Telemetry(machines, minutes int) []core.Record {
	r := rand.New(rand.NewPCG(42, 7))
	start := Start.UnixMilli()
	var recs []core.Record
	for s := 0; s < minutes*60; s++ {
		for m := 0; m < machines; m++ {
			temp := 60 + 5*math.Sin(float64(s)/30) + r.NormFloat64()
			vib := 2 + r.Float64()*0.5
			status := "running"
			switch {
			case m == 3 && s >= 90 && s < 150:
				temp += 25
			case m == 7 && s >= 200 && s < 206:
				vib += 12
			case m == 9 && s >= 240 && s < 243:
				temp = 97 + float64(s-240)
			case m == 9 && s == 243:
				status = "stopped"
			}
			ts := start + int64(s)*1000 - r.Int64N(1500)
			line := fmt.Sprintf(`{"machine":"machine-%02d","ts":%d,"temp":%.2f,"vibration":%.2f,"status":%q}`, m, ts, temp, vib, status)
			id := strconv.Itoa(len(recs) + 1)
			recs = append(recs, core.Record{ID: id, Offset: id, Data: []byte(line), Key: fmt.Sprintf("machine-%02d", m)})
		}
	}
	return recs
}
