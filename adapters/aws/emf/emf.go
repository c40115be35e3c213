// Package emf writes eddy's per-partition metrics as CloudWatch embedded metric format (EMF)
// documents: one JSON line per invocation per partition on the function's standard output, which
// Lambda sends to CloudWatch Logs, where CloudWatch extracts the metrics. No agent, no daemon, no
// PutMetricData call on the batch's path.
//
// Each document carries the metrics under the namespace (default "eddy") with two dimension sets,
// [Function] and [Function, Partition], so that alarms can watch a function as a whole and
// dashboards can drill into a shard.
package emf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// DefaultNamespace is the CloudWatch namespace of the metrics unless Options say otherwise.
const DefaultNamespace = "eddy"

// Options tune an Exporter.
type Options struct {
	// Namespace is the CloudWatch metrics namespace (default DefaultNamespace).
	Namespace string
	// NoPartitionDimension leaves out the [Function, Partition] dimension set: CloudWatch bills each
	// metric per distinct dimension values, so a stream with many shards costs a metric per shard.
	NoPartitionDimension bool
}

// Exporter is a runner.Observer that writes one EMF document per Observation to w.
type Exporter struct {
	mu   sync.Mutex
	w    io.Writer
	ns   string
	dims string // the Dimensions array, pre-encoded
	buf  []byte
}

// namespaceRE is what CloudWatch accepts in an EMF namespace, up to 255 of them. (A bounded repetition ({m,n}) compiles to n copies of its class, a few hundred kilobytes held
// from init for the life of every process that links the package; the length is checked apart.)
var namespaceRE = regexp.MustCompile(`^[a-zA-Z0-9._#:/-]+$`)

// New returns an Exporter writing to w (os.Stdout in a Lambda function).
func New(w io.Writer, opts *Options) (*Exporter, error) {
	if w == nil {
		return nil, errors.New("emf: nil writer")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if len(o.Namespace) > 255 || !namespaceRE.MatchString(o.Namespace) {
		return nil, fmt.Errorf("emf: namespace %q: want 1 to 255 of letters, digits and . _ # : / -", o.Namespace)
	}
	dims := `[["Function"],["Function","Partition"]]`
	if o.NoPartitionDimension {
		dims = `[["Function"]]`
	}
	return &Exporter{w: w, ns: o.Namespace, dims: dims}, nil
}

// Metric names and units. The names are what alarms and dashboards refer to.
const (
	Records         = "Records"         // records handed in (Count)
	Skipped         = "RecordsSkipped"  // records skipped as already applied (Count)
	Events          = "Events"          // records decoded and processed (Count)
	Windows         = "WindowResults"   // window results emitted (Count)
	Decisions       = "Decisions"       // decisions emitted (Count)
	Late            = "LateEvents"      // events beyond the allowed lateness (Count)
	DeadLetters     = "DeadLetters"     // records sent to the dead-letter output (Count)
	BatchErrors     = "BatchErrors"     // 1 when the batch or tick failed (Count)
	Conflicts       = "StateConflicts"  // lost races on the partition state (Count)
	StoreRoundTrips = "StoreRoundTrips" // state store calls (Count)
	StateBytes      = "StateBytes"      // size of the partition's stored state (Bytes)
	CommitLatency   = "CommitLatency"   // the commit's conditional write (Milliseconds)
	LoadLatency     = "LoadLatency"     // the state read(s) (Milliseconds)
	WatermarkLag    = "WatermarkLag"    // processing time minus the watermark (Seconds)
	IteratorAge     = "IteratorAge"     // processing time minus the newest record's arrival (Milliseconds)
)

// Observe implements runner.Observer: it writes one line. A write error is dropped: metrics must
// never fail a batch, and a Lambda function's stdout does not fail.
func (e *Exporter) Observe(_ context.Context, o *runner.Observation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = e.appendDoc(e.buf[:0], o)
	_, _ = e.w.Write(e.buf)
}

type metric struct {
	name, unit string
	v          float64
}

// appendDoc appends the EMF document of o and a newline.
func (e *Exporter) appendDoc(b []byte, o *runner.Observation) []byte {
	st := o.Result.Stats
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	var ok bool
	errs := 0.0
	if o.Err != nil {
		errs = 1
	}
	mets := []metric{
		{Records, "Count", float64(st.Records)},
		{Skipped, "Count", float64(st.Skipped)},
		{Events, "Count", float64(st.Events)},
		{Windows, "Count", float64(st.Windows)},
		{Decisions, "Count", float64(st.Decisions)},
		{Late, "Count", float64(st.Late)},
		{DeadLetters, "Count", float64(len(o.Result.Failures))},
		{BatchErrors, "Count", errs},
		{Conflicts, "Count", float64(max(o.Attempts-1, 0))},
		{StoreRoundTrips, "Count", float64(o.StoreCalls)},
		{LoadLatency, "Milliseconds", ms(o.LoadLatency)},
	}
	if o.StateBytes > 0 || o.Committed {
		mets = append(mets, metric{StateBytes, "Bytes", float64(o.StateBytes)})
	}
	if o.Commits > 0 {
		mets = append(mets, metric{CommitLatency, "Milliseconds", ms(o.CommitLatency)})
	}
	var lag, age time.Duration
	if lag, ok = o.Lag(); ok && o.Err == nil {
		mets = append(mets, metric{WatermarkLag, "Seconds", lag.Seconds()})
	}
	if age, ok = o.IteratorAge(); ok {
		mets = append(mets, metric{IteratorAge, "Milliseconds", ms(age)})
	}

	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, o.Now.UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
	b = strconv.AppendQuote(b, e.ns)
	b = append(b, `,"Dimensions":`...)
	b = append(b, e.dims...)
	b = append(b, `,"Metrics":[`...)
	for i, m := range mets {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":"`...)
		b = append(b, m.name...)
		b = append(b, `","Unit":"`...)
		b = append(b, m.unit...)
		b = append(b, `"}`...)
	}
	b = append(b, `]}]},"Function":`...)
	b = core.AppendString(b, dimValue(o.Function))
	b = append(b, `,"Partition":`...)
	b = core.AppendString(b, dimValue(o.Partition))
	kind := "batch"
	if o.Tick {
		kind = "tick"
	}
	b = append(b, `,"Kind":"`...)
	b = append(b, kind...)
	b = append(b, '"')
	if !o.Result.Watermark.IsZero() {
		b = append(b, `,"Watermark":`...)
		b = core.AppendTime(b, o.Result.Watermark)
	}
	if o.Err != nil {
		b = append(b, `,"Error":`...)
		b = core.AppendString(b, o.Err.Error())
	}
	for _, m := range mets {
		b = append(b, `,"`...)
		b = append(b, m.name...)
		b = append(b, `":`...)
		b = strconv.AppendFloat(b, m.v, 'g', -1, 64)
	}
	return append(b, "}\n"...)
}

// dimValue makes a dimension value CloudWatch accepts: 1 to 1024 characters (an empty partition, as
// a Pub/Sub message without an ordering key has, becomes "-").
func dimValue(s string) string {
	if s == "" {
		return "-"
	}
	if len(s) > 1024 {
		s = strings.ToValidUTF8(s[:1024], "")
	}
	return s
}
