package metrics

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// PrometheusContentType is the content type of the Prometheus text exposition format.
const PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

// family describes one metric family of the exposition: its name, type, help, and how to read its
// value from a Partition (ok false leaves the partition out).
type family struct {
	name, typ, help string
	value           func(p *Partition) (v float64, ok bool)
}

func counter(name, help string, f func(p *Partition) int64) family {
	return family{name, "counter", help, func(p *Partition) (float64, bool) { return float64(f(p)), true }}
}

// families are the per-partition metrics other than outputs and the commit latency histogram,
// which have labels or series of their own.
var families = []family{
	counter("eddy_batches_total", "Batches of records processed and committed.", func(p *Partition) int64 { return p.Batches }),
	counter("eddy_ticks_total", "Ticks (processing-time advances without records) processed.", func(p *Partition) int64 { return p.Ticks }),
	counter("eddy_batch_errors_total", "Batches and ticks that failed (the transport delivers them again).", func(p *Partition) int64 { return p.Errors }),
	counter("eddy_records_total", "Records handed to the function (events in), including redelivered ones.", func(p *Partition) int64 { return p.Records }),
	counter("eddy_records_skipped_total", "Records skipped as already applied (redeliveries).", func(p *Partition) int64 { return p.Skipped }),
	counter("eddy_events_total", "Records decoded and processed as events.", func(p *Partition) int64 { return p.Events }),
	counter("eddy_late_events_total", "Events beyond the allowed lateness, written to the late output.", func(p *Partition) int64 { return p.Late }),
	counter("eddy_dead_letters_total", "Records that could not be processed, written to the dead-letter output.", func(p *Partition) int64 { return p.DeadLetters }),
	counter("eddy_state_conflicts_total", "Lost races on the partition's state (each costs a reload and a retry).", func(p *Partition) int64 { return p.Conflicts }),
	counter("eddy_store_round_trips_total", "State store calls (one read and one conditional write per committed batch).", func(p *Partition) int64 { return p.StoreRoundTrips }),
	{"eddy_state_bytes", "gauge", "Size of the partition's stored state in bytes.", func(p *Partition) (float64, bool) { return float64(p.StateBytes), true }},
	{"eddy_watermark_lag_seconds", "gauge", "Processing time minus the partition's watermark at its last batch or tick.", func(p *Partition) (float64, bool) {
		if p.WatermarkLagSeconds == nil {
			return 0, false
		}
		return *p.WatermarkLagSeconds, true
	}},
	{"eddy_watermark_timestamp_seconds", "gauge", "The partition's watermark, in Unix seconds.", func(p *Partition) (float64, bool) {
		if p.Watermark.IsZero() {
			return 0, false
		}
		return unixSeconds(p.Watermark), true
	}},
	{"eddy_iterator_age_seconds", "gauge", "Processing time minus the newest record's arrival time at the partition's last batch.", func(p *Partition) (float64, bool) {
		if p.IteratorAgeSeconds == nil {
			return 0, false
		}
		return *p.IteratorAgeSeconds, true
	}},
	{"eddy_last_batch_timestamp_seconds", "gauge", "Processing time of the partition's last batch or tick, in Unix seconds.", func(p *Partition) (float64, bool) {
		if p.Updated.IsZero() {
			return 0, false
		}
		return unixSeconds(p.Updated), true
	}},
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// WritePrometheus writes every partition's metrics in the Prometheus text exposition format
// (version 0.0.4), each series labelled with function and partition.
func (r *Registry) WritePrometheus(w io.Writer) error {
	parts := r.Snapshot()
	bw := bufio.NewWriter(w)
	var b []byte
	header := func(name, typ, help string) {
		b = append(b, "# HELP "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = append(b, help...)
		b = append(b, "\n# TYPE "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = append(b, typ...)
		b = append(b, '\n')
	}
	flush := func() {
		bw.Write(b)
		b = b[:0]
	}
	for _, f := range families {
		header(f.name, f.typ, f.help)
		for i := range parts {
			if v, ok := f.value(&parts[i]); ok {
				b = appendSample(b, f.name, &parts[i], "", "", v)
			}
		}
		flush()
	}
	header("eddy_outputs_total", "counter", "Outputs emitted, by type (window, decision, late).")
	for i := range parts {
		p := &parts[i]
		types := make([]string, 0, len(p.Outputs))
		for t := range p.Outputs {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			b = appendSample(b, "eddy_outputs_total", p, "type", t, float64(p.Outputs[t]))
		}
	}
	flush()
	const h = "eddy_commit_latency_seconds"
	header(h, "histogram", "Latency of the conditional writes that commit the partition's state.")
	for i := range parts {
		p := &parts[i]
		hist := p.CommitLatency
		if hist.Count == 0 {
			continue
		}
		for _, bk := range hist.Buckets {
			b = appendSample(b, h+"_bucket", p, "le", formatFloat(bk.LE), float64(bk.Count))
		}
		b = appendSample(b, h+"_bucket", p, "le", "+Inf", float64(hist.Count))
		b = appendSample(b, h+"_sum", p, "", "", hist.SumSeconds)
		b = appendSample(b, h+"_count", p, "", "", float64(hist.Count))
	}
	flush()
	return bw.Flush()
}

// appendSample appends `name{function="f",partition="p"[,extra="v"]} value`.
func appendSample(b []byte, name string, p *Partition, extraName, extraValue string, v float64) []byte {
	b = append(b, name...)
	b = append(b, `{function="`...)
	b = appendLabelValue(b, p.Function)
	b = append(b, `",partition="`...)
	b = appendLabelValue(b, p.Partition)
	if extraName != "" {
		b = append(b, `",`...)
		b = append(b, extraName...)
		b = append(b, `="`...)
		b = appendLabelValue(b, extraValue)
	}
	b = append(b, `"} `...)
	b = append(b, formatFloat(v)...)
	return append(b, '\n')
}

// appendLabelValue escapes a label value as the text format requires: backslash, double quote and
// line feed. Partitions come from outside (a Pub/Sub ordering key is any string), so invalid UTF-8
// becomes U+FFFD: the exposition must be UTF-8.
func appendLabelValue(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Handler serves the Prometheus text exposition (GET /metrics).
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", PrometheusContentType)
		var sb strings.Builder
		_ = r.WritePrometheus(&sb) // a strings.Builder does not fail
		io.WriteString(w, sb.String())
	})
}

// Snapshot is the JSON document JSONHandler serves.
type Snapshot struct {
	// Time is when the snapshot was taken (wall clock).
	Time time.Time `json:"time"`
	// Partitions are ordered by function, then partition.
	Partitions []Partition `json:"partitions"`
}

// JSONHandler serves a JSON Snapshot of every partition's metrics (GET /metrics.json), for
// dashboards that poll.
func (r *Registry) JSONHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		s := Snapshot{Time: time.Now().UTC(), Partitions: r.Snapshot()}
		enc := json.NewEncoder(w)
		_ = enc.Encode(s)
	})
}
