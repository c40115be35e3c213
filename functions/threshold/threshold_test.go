package threshold_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/functions/internal/fntest"
	"github.com/eddyhq/eddy/functions/threshold"
)

func config() threshold.Config {
	clear := 70.0
	return threshold.Config{Key: "device", Time: "ts", TimeFormat: "unix_ms", Field: "temp",
		Above: 80, ClearBelow: &clear, For: 3, MinReadings: 5, Severity: "critical"}
}

// TestGoEqualsSpec: the Go constructor and eddy.yaml describe the same function, and the file
// passes everything `eddy validate` checks (spec.Load validates; Compile builds).
func TestGoEqualsSpec(t *testing.T) {
	f, err := threshold.New(config())
	fntest.SameAsSpec(t, f, err)
}

// minutes makes 10 readings a minute for one device, the minute's readings all at the given temp.
func minutes(temps ...float64) []core.Record {
	var recs []core.Record
	start := int64(1_700_000_040_000) // a minute boundary
	for m, temp := range temps {
		for i := 0; i < 10; i++ {
			ts := start + int64(m)*60_000 + int64(i)*6_000
			id := fmt.Sprint(len(recs) + 1)
			recs = append(recs, core.Record{ID: id, Offset: id, Data: []byte(fmt.Sprintf(`{"device":"press-1","ts":%d,"temp":%v}`, ts, temp))})
		}
	}
	return recs
}

// TestDecisions: it fires after the third minute above 80, does not resolve while the average
// hovers between 70 and 80, and resolves below 70 — each transition once, whether the readings
// come in one invocation or in many with the state restored in between.
func TestDecisions(t *testing.T) {
	f, err := threshold.New(config())
	if err != nil {
		t.Fatal(err)
	}
	//            22:14 22:15 22:16 22:17 22:18 22:19 22:20 22:21
	recs := minutes(85, 90, 79, 85, 86, 88, 75, 78, 65, 85)
	var got []string
	lines := fntest.Run(t, f, recs, 0, time.Unix(0, 0), func(o core.Output) {
		if d, ok := o.(*core.Decision); ok {
			got = append(got, string(d.State)+"@"+d.Window.End.UTC().Format("15:04"))
		}
	})
	want := "firing@22:20,resolved@22:23"
	if strings.Join(got, ",") != want {
		t.Fatalf("decisions %v, want %s", got, want)
	}
	fntest.Splits(t, f, lines, recs, 7, time.Unix(0, 0))
}

func TestRejects(t *testing.T) {
	if _, err := threshold.New(threshold.Config{Field: "temp"}); err == nil {
		t.Error("no key and time accepted")
	}
	bad := 90.0
	c := config()
	c.ClearBelow = &bad
	if _, err := threshold.New(c); err == nil || !strings.Contains(err.Error(), "ClearBelow") {
		t.Errorf("clear level above the fire level: %v", err)
	}
}

func ExampleNew() {
	clear := 70.0
	f, _ := threshold.New(threshold.Config{Key: "device", Time: "ts", Field: "temp", Above: 80, ClearBelow: &clear, For: 3})
	fmt.Println(f.Rules[0].When, "|", f.Rules[0].Clear, "|", f.Rules[0].For.Windows)
	// Output: avg > 80.0 && readings >= 1 | avg < 70.0 | 3
}
