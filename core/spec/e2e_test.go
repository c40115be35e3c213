package spec

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

const e2eSpec = `name: e2e
input:
  key: key
  time: ts
  time_format: unix_ms
window:
  tumbling: 10s
aggregates:
  - {name: avg, avg: value}
  - {name: n, count: true}
rules:
  - name: hot
    when: avg > 50 && n >= 2
    severity: critical
anomalies:
  - {name: jump, aggregate: avg, method: zscore, window: 2, threshold: 3, direction: above}
patterns:
  - name: spike
    steps:
      - {name: high, where: value > 90.0, times: 2}
      - {name: low, where: value < 10.0}
    within: 30s
    contiguity: strict
`

// records makes JSON records of key "a" at the given (seconds, value) pairs.
func records(evs ...[2]float64) []core.Record {
	var out []core.Record
	for i, e := range evs {
		out = append(out, core.Record{ID: fmt.Sprintf("r%d", i), Offset: fmt.Sprint(i),
			Data: fmt.Appendf(nil, `{"key":"a","ts":%d,"value":%g}`, int64(e[0]*1000), e[1])})
	}
	return out
}

// run processes the records in one batch and flushes, returning every output's JSON.
func run(t testing.TB, f *Function, recs []core.Record) []string {
	t.Helper()
	p, err := f.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := p.Process(ctx, core.Batch{Partition: "0", Records: recs, Now: time.Unix(1e9, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) > 0 {
		t.Fatalf("failures: %v", res.Failures[0])
	}
	var out []string
	for _, o := range res.Outputs {
		out = append(out, string(o.AppendJSON(nil)))
	}
	var flushed []core.Output
	if _, err := p.Flush(ctx, func(o core.Output) { flushed = append(flushed, core.CloneOutput(o)) }); err != nil {
		t.Fatal(err)
	}
	for _, o := range flushed {
		out = append(out, string(o.AppendJSON(nil)))
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	f, err := Parse("e2e.yaml", []byte(e2eSpec))
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, f, records(
		[2]float64{0, 10}, [2]float64{1, 20}, // [0s,10s): avg 15
		[2]float64{10, 12}, [2]float64{11, 14}, // [10s,20s): avg 13
		[2]float64{20, 95}, [2]float64{21, 96}, [2]float64{22, 5}, // [20s,30s): avg 65.33, and the pattern
		[2]float64{30, 20}, // [30s,40s): avg 20, hot resolves
	))
	want := []string{
		`{"type":"window","function":"e2e","key":"a","start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:00:10.000Z","revision":0,"values":{"avg":15,"n":2}}`,
		`{"type":"window","function":"e2e","key":"a","start":"1970-01-01T00:00:10.000Z","end":"1970-01-01T00:00:20.000Z","revision":0,"values":{"avg":13,"n":2}}`,
		`{"type":"window","function":"e2e","key":"a","start":"1970-01-01T00:00:20.000Z","end":"1970-01-01T00:00:30.000Z","revision":0,"values":{"avg":65.33333333333333,"n":3}}`,
		`{"type":"decision","id":"89552fc918f148f099badefaa9344bb0","function":"e2e","rule":"hot","key":"a","state":"firing","severity":"critical","time":"1970-01-01T00:00:30.000Z","window":{"start":"1970-01-01T00:00:20.000Z","end":"1970-01-01T00:00:30.000Z"},"values":{"avg":65.33333333333333,"n":3}}`,
		`{"type":"decision","id":"0f1d06727829a523671916a88337949f","function":"e2e","rule":"jump","key":"a","state":"anomaly","time":"1970-01-01T00:00:30.000Z","window":{"start":"1970-01-01T00:00:20.000Z","end":"1970-01-01T00:00:30.000Z"},"values":{"avg":65.33333333333333,"n":3,"anomaly.score":51.33333333333333,"anomaly.mean":14,"anomaly.stddev":1}}`,
		`{"type":"decision","id":"55d259ce9fb90aeddb6f6da2d264b49f","function":"e2e","rule":"spike","key":"a","state":"matched","time":"1970-01-01T00:00:22.000Z","window":{"start":"1970-01-01T00:00:20.000Z","end":"1970-01-01T00:00:22.000Z"},"values":{"count":3,"high.count":2,"high.first.value":95,"high.last.value":96,"low.count":1,"low.value":5}}`,
		`{"type":"window","function":"e2e","key":"a","start":"1970-01-01T00:00:30.000Z","end":"1970-01-01T00:00:40.000Z","revision":0,"values":{"avg":20,"n":1}}`,
		`{"type":"decision","id":"a49fa9a5effea484cb55d0872e88f85d","function":"e2e","rule":"hot","key":"a","state":"resolved","severity":"critical","time":"1970-01-01T00:00:40.000Z","window":{"start":"1970-01-01T00:00:30.000Z","end":"1970-01-01T00:00:40.000Z"},"values":{"avg":20,"n":1}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
