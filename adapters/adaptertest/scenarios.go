package adaptertest

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// eventBase is the event time of the first reading (unix milliseconds): 2026-01-01T00:00:00Z.
const eventBase = 1767225600000

// The partitions of every scenario and the devices (event keys) each carries.
var partitionDevices = []struct {
	partition string
	devices   []device
}{
	{"p1", []device{{"d1", 0, 0}, {"d2", 1500, 30}}},
	{"p2", []device{{"d3", 2500, 60}}},
}

// device is one machine: its first reading's offset from eventBase (ms) and where in the 100 s
// temperature cycle it starts (s).
type device struct {
	name   string
	offset int64
	phase  int64
}

// readingsPerDevice, one every 4 s: 140 s of event time, enough for several alarm cycles.
const (
	readingsPerDevice = 36
	readingEvery      = 4000
)

// item is one payload in a partition's transport order.
type item struct {
	key    string
	ts     int64
	data   []byte
	poison bool
}

// reading renders a device's i-th reading. Temperatures cycle every 100 s: 40 s hot (91 to 95.5,
// so the overheat alarm fires and the spike rule too), one "stopped" reading (the pattern's end),
// then cool (60 to 60.5, so alarms resolve). Values are multiples of 0.25, so sums are exact.
func reading(d device, i int) item {
	ts := eventBase + d.offset + int64(i)*readingEvery
	phase := (int64(i)*readingEvery/1000 + d.phase) % 100
	temp, status := 60+float64(i%3)*0.25, "running"
	switch {
	case phase < 40:
		temp = 91 + float64(i%4)*1.5
	case phase < 44:
		temp, status = 40, "stopped"
	}
	data := fmt.Appendf(nil, `{"device":%q,"ts":%d,"temp":%s,"status":%q}`, d.name, ts, strconv.FormatFloat(temp, 'f', -1, 64), status)
	return item{key: d.name, ts: ts, data: data}
}

// telemetry returns a partition's readings in event-time order, the first n of each device (all
// when n < 0).
func telemetry(devices []device, n int) []item {
	if n < 0 {
		n = readingsPerDevice
	}
	var its []item
	for _, d := range devices {
		for i := range n {
			its = append(its, reading(d, i))
		}
	}
	slices.SortStableFunc(its, func(a, b item) int { return int(a.ts - b.ts) })
	return its
}

// delay moves every k-th item (from the (k/2)-th) back in transport order until after every item
// at most by later in event time: the item arrives late by that much.
func delay(its []item, k int, by int64) []item {
	out := slices.Clone(its)
	for i := k / 2; i < len(its); i += k {
		moved := its[i]
		j := slices.IndexFunc(out, func(x item) bool { return string(x.data) == string(moved.data) })
		out = slices.Delete(out, j, j+1)
		at := j
		for at < len(out) && out[at].ts <= moved.ts+by {
			at++
		}
		out = slices.Insert(out, at, moved)
	}
	return out
}

// swapNeighbours swaps every third pair of neighbours: disorder within the out-of-orderness bound.
func swapNeighbours(its []item) []item {
	out := slices.Clone(its)
	for i := 1; i+1 < len(out); i += 3 {
		out[i], out[i+1] = out[i+1], out[i]
	}
	return out
}

// poisonItems are records no function can process: not JSON, no key, no time, a non-numeric
// temperature. Each is dead-lettered with its field and reason, and the batch goes on.
func poisonItems(partition string) []item {
	return []item{
		{key: "d0", data: []byte("not json " + partition), poison: true},
		{key: "d0", data: fmt.Appendf(nil, `{"ts":%d,"temp":70,"status":"running","p":%q}`, eventBase+5000, partition), poison: true},
		{key: "d1", data: fmt.Appendf(nil, `{"device":"d1","temp":70,"status":"running","p":%q}`, partition), poison: true},
		{key: "d1", data: fmt.Appendf(nil, `{"device":"d1","ts":%d,"temp":"hot","status":"running","p":%q}`, eventBase+9000, partition), poison: true},
	}
}

// withPoison inserts the poison items into its, spread out.
func withPoison(partition string, its []item) []item {
	out := slices.Clone(its)
	for i, p := range poisonItems(partition) {
		out = slices.Insert(out, min(len(out), 3+i*(len(its)/4)+i), p)
	}
	return out
}

type stepKind int

const (
	stepDeliver stepKind = iota
	stepTick
	stepRestart
	stepArm
)

// step is one thing that happens in a scenario.
type step struct {
	kind      stepKind
	partition string
	recs      []Record
	now       time.Time
	mode      FaultMode
	n         int
}

func (s *step) String() string {
	switch s.kind {
	case stepDeliver:
		return fmt.Sprintf("deliver %s seq %d..%d at %s", s.partition, s.recs[0].Seq, s.recs[len(s.recs)-1].Seq, s.now.Format(time.TimeOnly))
	case stepTick:
		return "tick at " + s.now.Format(time.TimeOnly)
	case stepRestart:
		return "restart"
	}
	mode := "outage"
	if s.mode == CrashAfterEmit {
		mode = "crash after emit"
	}
	return fmt.Sprintf("arm %d × %s", s.n, mode)
}

// scenario is a named sequence of steps over the logical streams of its partitions.
type scenario struct {
	name  string
	steps []step
	// poison holds the ids of the records that must be dead-lettered.
	poison map[string]bool
	// check tells whether the reference's results exercise what the scenario is about; a
	// scenario that tests nothing fails the suite.
	check func(r *refStats) error
}

// builder lays out a scenario: it numbers records per partition and keeps the processing clock.
type builder struct {
	sc     *scenario
	now    time.Time
	recs   map[string][]Record // by partition, in Seq order
	cursor map[string]int      // the next record to deliver first
}

func newBuilder(name string, start time.Time) *builder {
	return &builder{sc: &scenario{name: name, poison: map[string]bool{}}, now: start,
		recs: map[string][]Record{}, cursor: map[string]int{}}
}

// load sets a partition's stream: its items in transport order.
func (b *builder) load(partition string, its []item) {
	recs := make([]Record, len(its))
	for i, it := range its {
		seq := int64(i + 1)
		recs[i] = Record{ID: fmt.Sprintf("%s-%04d", partition, seq), Seq: seq, Key: it.key, Data: it.data}
		if it.poison {
			b.sc.poison[recs[i].ID] = true
		}
	}
	b.recs[partition] = recs
}

// next returns up to n records of partition not yet delivered, and moves past them.
func (b *builder) next(partition string, n int) []Record {
	c := b.cursor[partition]
	end := min(c+n, len(b.recs[partition]))
	b.cursor[partition] = end
	return b.recs[partition][c:end]
}

// seqRange returns the records with Seq in [from, to] (already numbered).
func (b *builder) seqRange(partition string, from, to int64) []Record {
	return b.recs[partition][from-1 : to]
}

func (b *builder) remaining() bool {
	for p, recs := range b.recs {
		if b.cursor[p] < len(recs) {
			return true
		}
	}
	return false
}

// deliver adds a delivery at the next second of processing time. The records get that arrival
// time the first time they are delivered.
func (b *builder) deliver(partition string, recs []Record) {
	if len(recs) == 0 {
		return
	}
	b.now = b.now.Add(time.Second)
	out := slices.Clone(recs)
	for i := range out {
		if out[i].Time.IsZero() {
			out[i].Time = b.now
		}
		// Redeliveries carry the first arrival time, as a retained stream does.
		b.recs[partition][out[i].Seq-1].Time = out[i].Time
	}
	b.sc.steps = append(b.sc.steps, step{kind: stepDeliver, partition: partition, recs: out, now: b.now})
}

func (b *builder) tick(after time.Duration) {
	b.now = b.now.Add(after)
	b.sc.steps = append(b.sc.steps, step{kind: stepTick, now: b.now})
}

func (b *builder) restart() { b.sc.steps = append(b.sc.steps, step{kind: stepRestart}) }

func (b *builder) arm(mode FaultMode, n int) {
	b.sc.steps = append(b.sc.steps, step{kind: stepArm, mode: mode, n: n})
}

// roundRobin delivers the remaining records in batches of size, alternating partitions, calling
// before (if set) ahead of the i-th batch.
func (b *builder) roundRobin(size int, before func(i int, partition string)) {
	for i := 0; b.remaining(); {
		for _, pd := range partitionDevices {
			p := pd.partition
			if b.cursor[p] >= len(b.recs[p]) {
				continue
			}
			if before != nil {
				before(i, p)
			}
			b.deliver(p, b.next(p, size))
			i++
		}
	}
}

// finish ends a scenario with a tick long after the idle timeout, which closes every window.
func (b *builder) finish() *scenario {
	b.tick(time.Hour)
	return b.sc
}

func loadAll(b *builder, transform func(partition string, its []item) []item) {
	for _, pd := range partitionDevices {
		its := telemetry(pd.devices, -1)
		if transform != nil {
			its = transform(pd.partition, its)
		}
		b.load(pd.partition, its)
	}
}

// scenarios builds the suite's scenarios with processing time starting at start.
func scenarios(start time.Time) []*scenario {
	var scs []*scenario

	// In order: event time ascending, batches of 8.
	b := newBuilder("in-order", start)
	loadAll(b, nil)
	b.roundRobin(8, nil)
	b.sc.check = needs(decisions)
	scs = append(scs, b.finish())

	// Out of order within the bounds: neighbours swapped (within out_of_order) and every 7th
	// reading 8 s late (within allowed_lateness of the tumbling function: its window is revised).
	b = newBuilder("out-of-order", start)
	loadAll(b, func(_ string, its []item) []item { return delay(swapNeighbours(its), 7, 8000) })
	b.roundRobin(8, nil)
	b.sc.check = needs(decisions, revisionsOrLate)
	scs = append(scs, b.finish())

	// Late beyond the allowed lateness: every 9th reading 40 s late goes to the late output.
	b = newBuilder("late", start)
	loadAll(b, func(_ string, its []item) []item { return delay(its, 9, 40000) })
	b.roundRobin(8, nil)
	b.sc.check = needs(decisions, late)
	scs = append(scs, b.finish())

	// Duplicated deliveries: every batch twice, and every third batch delivered again with the
	// previous batch's tail (a redelivered prefix overlapping new records).
	b = newBuilder("duplicates", start)
	loadAll(b, nil)
	for i := 0; b.remaining(); i++ {
		for _, pd := range partitionDevices {
			p := pd.partition
			from := b.cursor[p]
			recs := b.next(p, 7)
			if len(recs) == 0 {
				continue
			}
			if i%3 == 2 && from >= 4 {
				b.deliver(p, b.seqRange(p, int64(from-3), recs[len(recs)-1].Seq))
			} else {
				b.deliver(p, recs)
			}
			b.deliver(p, recs)
		}
	}
	b.sc.check = needs(decisions)
	scs = append(scs, b.finish())

	// Poison records among good ones: dead-lettered with id, field and reason; the rest of the
	// batch is processed.
	b = newBuilder("poison", start)
	loadAll(b, withPoison)
	b.roundRobin(8, nil)
	b.sc.check = needs(decisions, deadLetters(8))
	scs = append(scs, b.finish())

	// Failures mid-stream: an output outage fails one invocation, and an instance crash between
	// emit and commit fails two in a row; the platform delivers again from its retry point. The
	// batches carry poison records too, so retries must not dead-letter them twice.
	b = newBuilder("failure-redelivery", start)
	loadAll(b, withPoison)
	b.roundRobin(8, func(i int, _ string) {
		switch i {
		case 4:
			b.arm(Outage, 1)
		case 9:
			b.arm(CrashAfterEmit, 2)
		case 13:
			b.arm(Outage, 2)
		}
	})
	b.sc.check = needs(decisions, deadLetters(8))
	scs = append(scs, b.finish())

	// Restarts: a cold instance takes over between batches, after a crash, and before a
	// redelivery of what the old instance applied; its state comes from the store alone.
	b = newBuilder("restart", start)
	loadAll(b, nil)
	b.roundRobin(8, func(i int, p string) {
		switch i {
		case 3:
			b.restart()
		case 6:
			b.arm(CrashAfterEmit, 1)
		case 7:
			b.restart()
		case 10:
			b.restart()
			if c := b.cursor[p]; c > 0 {
				b.deliver(p, b.seqRange(p, 1, int64(c)))
			}
		}
	})
	b.sc.check = needs(decisions)
	scs = append(scs, b.finish())

	// Idle ticks: p2 goes quiet after a third of its readings while p1 goes on. A tick before
	// the idle timeout changes nothing; one after it closes p2's (and p1's) open windows.
	b = newBuilder("idle-tick", start)
	for _, pd := range partitionDevices {
		n := -1
		if pd.partition == "p2" {
			n = readingsPerDevice / 3
		}
		b.load(pd.partition, telemetry(pd.devices, n))
	}
	b.roundRobin(8, nil)
	b.tick(time.Minute)
	b.tick(10 * time.Minute)
	b.sc.check = needs(decisions, tickOutputs)
	// No finish: the last tick is the one under test.
	scs = append(scs, b.sc)
	return scs
}
