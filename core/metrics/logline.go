package metrics

import (
	"context"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// LogMessage is the "message" of every line a LogExporter writes: log-based metrics and alert
// queries select the lines by it.
const LogMessage = "eddy metrics"

// LogExporter is a runner.Observer that writes one structured JSON log line per Observation: the
// daemon-less way to get metrics out of platforms that turn stdout lines into searchable logs.
// On Cloud Run functions each line becomes a log entry with a jsonPayload (severity, message and
// time are Cloud Logging's special fields), from which log-based metrics extract values; on Azure
// Functions a custom handler's stdout lines become the function's logs (FunctionAppLogs, traces),
// which log search alerts parse with parse_json.
//
// A line:
//
//	{"severity":"INFO","message":"eddy metrics","time":"2026-01-01T00:01:10Z","function":"f",
//	 "partition":"0","kind":"batch","records":6,"skipped":0,"events":5,"windows":2,"decisions":1,
//	 "late":1,"deadLetters":1,"batchErrors":0,"stateConflicts":0,"storeRoundTrips":2,
//	 "loadLatencyMs":0.8,"commitLatencyMs":1.7,"stateBytes":169,"watermark":"2026-01-01T00:01:01.000Z",
//	 "watermarkLagSeconds":9,"iteratorAgeMs":2000}
//
// stateBytes, commitLatencyMs, watermark, watermarkLagSeconds and iteratorAgeMs are left out when
// unknown; "error" is added when the batch failed.
type LogExporter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewLogExporter returns a LogExporter writing to w (os.Stdout in a cloud function).
func NewLogExporter(w io.Writer) *LogExporter { return &LogExporter{w: w} }

// Observe implements runner.Observer. Write errors are dropped: metrics never fail a batch.
func (e *LogExporter) Observe(_ context.Context, o *runner.Observation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = AppendLogLine(e.buf[:0], o)
	_, _ = e.w.Write(e.buf)
}

// AppendLogLine appends o as the LogExporter's JSON line, newline included.
func AppendLogLine(b []byte, o *runner.Observation) []byte {
	st := o.Result.Stats
	num := func(b []byte, name string, v float64) []byte {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `":`...)
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b = append(b, `{"severity":"`...)
	if o.Err != nil {
		b = append(b, "ERROR"...)
	} else {
		b = append(b, "INFO"...)
	}
	b = append(b, `","message":"`+LogMessage+`","time":"`...)
	b = o.Now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","function":`...)
	b = core.AppendString(b, o.Function)
	b = append(b, `,"partition":`...)
	b = core.AppendString(b, o.Partition)
	if o.Tick {
		b = append(b, `,"kind":"tick"`...)
	} else {
		b = append(b, `,"kind":"batch"`...)
	}
	errs := 0.0
	if o.Err != nil {
		errs = 1
	}
	b = num(b, "records", float64(st.Records))
	b = num(b, "skipped", float64(st.Skipped))
	b = num(b, "events", float64(st.Events))
	b = num(b, "windows", float64(st.Windows))
	b = num(b, "decisions", float64(st.Decisions))
	b = num(b, "late", float64(st.Late))
	b = num(b, "deadLetters", float64(len(o.Result.Failures)))
	b = num(b, "batchErrors", errs)
	b = num(b, "stateConflicts", float64(max(o.Attempts-1, 0)))
	b = num(b, "storeRoundTrips", float64(o.StoreCalls))
	b = num(b, "loadLatencyMs", ms(o.LoadLatency))
	if o.Commits > 0 {
		b = num(b, "commitLatencyMs", ms(o.CommitLatency))
	}
	if o.StateBytes > 0 || o.Committed {
		b = num(b, "stateBytes", float64(o.StateBytes))
	}
	if lag, ok := o.Lag(); ok && o.Err == nil {
		b = append(b, `,"watermark":`...)
		b = core.AppendTime(b, o.Result.Watermark)
		b = num(b, "watermarkLagSeconds", lag.Seconds())
	}
	if age, ok := o.IteratorAge(); ok {
		b = num(b, "iteratorAgeMs", ms(age))
	}
	if o.Err != nil {
		b = append(b, `,"error":`...)
		b = core.AppendString(b, o.Err.Error())
	}
	return append(b, "}\n"...)
}
