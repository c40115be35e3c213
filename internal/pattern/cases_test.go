package pattern

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// harness feeds events built from field maps and collects decisions.
type harness struct {
	t     testing.TB
	table *core.FieldTable
	p     *Pattern
	m     *Matcher
	out   []*core.Decision
	n     int
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	table := &core.FieldTable{}
	p, err := Compile(cfg, table)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, table: table, p: p, m: p.NewMatcher()}
}

func (h *harness) emit(d *core.Decision) { h.out = append(h.out, d) }

// add adds an event at t0+at with the given fields (float64, string, bool or nil for null).
func (h *harness) add(key string, at time.Duration, fields map[string]any) *core.Late {
	h.t.Helper()
	vals := make([]core.Value, h.table.Len())
	for name, v := range fields {
		i, ok := h.table.Lookup(name)
		if !ok {
			continue
		}
		switch x := v.(type) {
		case float64:
			vals[i] = core.Value{Kind: core.Number, Num: x}
		case int:
			vals[i] = core.Value{Kind: core.Number, Num: float64(x)}
		case string:
			vals[i] = core.Value{Kind: core.String, Str: x}
		case bool:
			vals[i] = core.Value{Kind: core.Bool, Bool: x}
		case nil:
			vals[i] = core.Value{Kind: core.Null}
		}
	}
	h.n++
	late, err := h.m.Add(&core.Event{ID: key + "-" + at.String(), Key: key, Time: t0.Add(at), Fields: vals})
	if err != nil {
		h.t.Fatal(err)
	}
	return late
}

func (h *harness) advance(at time.Duration) { h.m.Advance(t0.Add(at), h.emit) }
func (h *harness) flush()                   { h.m.Advance(time.Unix(1<<62, 0), h.emit) }

func (h *harness) spans() []string {
	var s []string
	for _, d := range h.out {
		s = append(s, d.Key+":"+string(d.State)+":"+d.Window.Start.Sub(t0).String()+".."+d.Window.End.Sub(t0).String())
	}
	return s
}

func (h *harness) want(spans ...string) {
	h.t.Helper()
	got := h.spans()
	if strings.Join(got, " ") != strings.Join(spans, " ") {
		h.t.Fatalf("decisions %q, want %q", got, spans)
	}
}

func value(d *core.Decision, name string) float64 {
	for _, v := range d.Values {
		if v.Name == name {
			return v.Num
		}
	}
	return math.Inf(-1)
}

// Account takeover: three failed logins then a success, all within a minute.
func TestAccountTakeover(t *testing.T) {
	cfg := Config{
		Name:   "account-takeover",
		Within: time.Minute,
		Steps: []Step{
			{Name: "failed", Where: `status == "failed"`, Times: 3},
			{Name: "success", Where: `status == "success"`},
		},
	}
	h := newHarness(t, cfg)
	s := time.Second
	// alice: three failures, an unrelated event, a success 50 s after the first failure.
	h.add("alice", 0, map[string]any{"status": "failed"})
	h.add("alice", 10*s, map[string]any{"status": "failed"})
	h.add("alice", 20*s, map[string]any{"status": "page_view"})
	h.add("alice", 30*s, map[string]any{"status": "failed"})
	h.add("alice", 50*s, map[string]any{"status": "success"})
	// bob: the success comes 61 s after the first failure: too late.
	h.add("bob", 0, map[string]any{"status": "failed"})
	h.add("bob", 1*s, map[string]any{"status": "failed"})
	h.add("bob", 2*s, map[string]any{"status": "failed"})
	h.add("bob", 61*s, map[string]any{"status": "success"})
	// carol: only two failures before the success.
	h.add("carol", 0, map[string]any{"status": "failed"})
	h.add("carol", 1*s, map[string]any{"status": "failed"})
	h.add("carol", 2*s, map[string]any{"status": "success"})
	// dave: exactly one minute from first failure to success: within is inclusive.
	h.add("dave", 0, map[string]any{"status": "failed"})
	h.add("dave", 20*s, map[string]any{"status": "failed"})
	h.add("dave", 40*s, map[string]any{"status": "failed"})
	h.add("dave", 60*s, map[string]any{"status": "success"})
	h.flush()
	h.want("alice:matched:0s..50s", "dave:matched:0s..1m0s")
	if d := h.out[0]; value(d, "count") != 4 || value(d, "failed.count") != 3 || d.Rule != "account-takeover" {
		t.Fatalf("values %+v", d.Values)
	}
}

// A card used in two countries within ten minutes.
func TestCardInTwoCountries(t *testing.T) {
	cfg := Config{
		Name:   "card-two-countries",
		Within: 10 * time.Minute,
		Steps: []Step{
			{Name: "a"},
			{Name: "b", Where: `country != a.country`},
		},
	}
	h := newHarness(t, cfg)
	m := time.Minute
	h.add("card-1", 0, map[string]any{"country": "US", "amount": 10})
	h.add("card-1", 1*m, map[string]any{"country": "US", "amount": 12})
	h.add("card-1", 5*m, map[string]any{"country": "FR", "amount": 900})
	h.add("card-2", 0, map[string]any{"country": "DE"})
	h.add("card-2", 11*m, map[string]any{"country": "IT"}) // 11 minutes later: no
	h.add("card-3", 0, map[string]any{"country": "DE"})
	h.add("card-3", 2*m, map[string]any{"country": "DE"})
	h.add("card-3", 12*m, map[string]any{"country": "PL"}) // 10 min after the second DE: yes
	h.flush()
	h.want("card-1:matched:0s..5m0s", "card-3:matched:2m0s..12m0s")
	if h.m.Stats().EvalErrors != 0 {
		t.Fatalf("eval errors: %+v", h.m.Stats())
	}
}

// A sensor above its threshold three times in a row, then silent for 30 s.
func sensorSilent(lag time.Duration) Config {
	return Config{
		Name:    "hot-then-silent",
		IdleLag: lag,
		Steps: []Step{
			{Name: "hot", Where: `value > threshold`, Times: 3, Contiguity: Strict},
			{Name: "silence", Absent: true, Within: 30 * time.Second},
		},
	}
}

func TestSensorHotThenSilent(t *testing.T) {
	h := newHarness(t, sensorSilent(0))
	s := time.Second
	hot := func(key string, at time.Duration) {
		h.add(key, at, map[string]any{"value": 95, "threshold": 80})
	}
	// s1: three hot readings, then nothing: fires at the deadline 2s+30s.
	hot("s1", 0)
	hot("s1", 1*s)
	hot("s1", 2*s)
	// s2: three hot readings, then a reading 20 s later: no silence.
	hot("s2", 0)
	hot("s2", 1*s)
	hot("s2", 2*s)
	h.add("s2", 22*s, map[string]any{"value": 10, "threshold": 80})
	// s3: a reading exactly at the deadline still breaks the silence.
	hot("s3", 0)
	hot("s3", 1*s)
	hot("s3", 2*s)
	h.add("s3", 32*s, map[string]any{"value": 10, "threshold": 80})
	// s4: a cold reading between the hot ones breaks the strict chain.
	hot("s4", 0)
	h.add("s4", 1*s, map[string]any{"value": 10, "threshold": 80})
	hot("s4", 2*s)
	hot("s4", 3*s)

	h.advance(32 * s) // passes nothing at 32 s yet
	h.want()
	h.advance(32*s + 1)
	h.want("s1:absent:0s..2s")
	if d := h.out[0]; !d.Time.Equal(t0.Add(32*s)) || value(d, "hot.count") != 3 || value(d, "hot.last.value") != 95 {
		t.Fatalf("decision %+v", d)
	}
	h.flush()
	h.want("s1:absent:0s..2s")
}

func TestSensorSilenceByProcessingTime(t *testing.T) {
	h := newHarness(t, sensorSilent(5*time.Second))
	s := time.Second
	for i := 0; i < 3; i++ {
		h.add("s1", time.Duration(i)*s, map[string]any{"value": 95, "threshold": 80})
	}
	h.advance(3 * s)
	h.m.Tick(t0.Add(36*s), h.emit) // watermark 31 s: the deadline (32 s) has not passed
	h.want()
	h.m.Tick(t0.Add(38*s), h.emit) // watermark 33 s
	h.want("s1:absent:0s..2s")
	if st := h.m.Stats(); st.Keys != 0 || st.Partials != 0 || st.Absences != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSkipStrategies(t *testing.T) {
	for _, tc := range []struct {
		skip Skip
		want []string
	}{
		{SkipPastLastEvent, []string{"k:matched:1s..2s"}},
		{SkipToNext, []string{"k:matched:1s..2s", "k:matched:2s..3s"}},
		{NoSkip, []string{"k:matched:1s..2s", "k:matched:1s..3s", "k:matched:2s..3s"}},
	} {
		t.Run(string(tc.skip), func(t *testing.T) {
			h := newHarness(t, Config{Name: "p", Skip: tc.skip, Steps: []Step{
				{Name: "a", Where: "value > 0"},
				{Name: "b", Where: "value > 0", OneOrMore: true},
			}})
			for i := 1; i <= 3; i++ {
				h.add("k", time.Duration(i)*time.Second, map[string]any{"value": i})
			}
			h.flush()
			h.want(tc.want...)
			ids := map[string]bool{}
			for _, d := range h.out {
				if ids[d.ID] {
					t.Fatalf("duplicate id %s", d.ID)
				}
				ids[d.ID] = true
			}
		})
	}
}

func TestRelaxedVersusStrict(t *testing.T) {
	for _, c := range []struct {
		contiguity Contiguity
		want       []string
	}{
		{Relaxed, []string{"k:matched:0s..3s"}},
		{Strict, nil},
	} {
		h := newHarness(t, Config{Name: "p", Contiguity: c.contiguity, Steps: []Step{
			{Name: "a", Where: "value == 1"},
			{Name: "b", Where: "value == 2"},
		}})
		for i, v := range []int{1, 5, 5, 2} {
			h.add("k", time.Duration(i)*time.Second, map[string]any{"value": v})
		}
		h.flush()
		h.want(c.want...)
	}
}

func TestOutOfOrderAndTies(t *testing.T) {
	h := newHarness(t, Config{Name: "p", Contiguity: Strict, Steps: []Step{
		{Name: "a", Where: "value == 1"},
		{Name: "b", Where: "value == 2"},
	}})
	s := time.Second
	h.add("k", 2*s, map[string]any{"value": 2}) // arrives first, sorts after the 1
	h.add("k", 1*s, map[string]any{"value": 1})
	h.add("k", 3*s, map[string]any{"value": 1}) // tie at 3 s: arrival order 1 then 2
	h.add("k", 3*s, map[string]any{"value": 2})
	h.add("k", 4*s, map[string]any{"value": 2}) // tie at 4 s: 2 then 1 - no match
	h.add("k", 4*s, map[string]any{"value": 1})
	h.flush()
	h.want("k:matched:1s..2s", "k:matched:3s..3s")
}

func TestLateEventsAreReturned(t *testing.T) {
	h := newHarness(t, w4Config())
	h.add("k", 10*time.Second, map[string]any{"value": 95})
	h.advance(10 * time.Second)
	if l := h.add("k", 10*time.Second, map[string]any{"value": 95}); l != nil {
		t.Fatalf("an event at the watermark is not late: %+v", l)
	}
	l := h.add("k", 9*time.Second, map[string]any{"value": 95})
	if l == nil || l.Key != "k" || !l.Time.Equal(t0.Add(9*time.Second)) || !l.Watermark.Equal(t0.Add(10*time.Second)) || l.Reason != LateReason || l.Function != "w4" {
		t.Fatalf("late = %+v", l)
	}
	if st := h.m.Stats(); st.Late != 1 || st.Buffered != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxPartialsDropsOldest(t *testing.T) {
	h := newHarness(t, Config{Name: "p", MaxPartials: 3, Steps: []Step{
		{Name: "a", Where: "value == 1"},
		{Name: "b", Where: "value == 2"},
	}})
	for i := 0; i < 5; i++ {
		h.add("k", time.Duration(i)*time.Second, map[string]any{"value": 1})
	}
	h.add("k", 10*time.Second, map[string]any{"value": 2})
	h.flush()
	// The runs started at 0 s and 1 s were dropped; the oldest survivor starts at 2 s.
	h.want("k:matched:2s..10s")
	if st := h.m.Stats(); st.DroppedPartials != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBufferBudget(t *testing.T) {
	h := newHarness(t, Config{Name: "p", MaxBuffered: 2, Steps: []Step{{Name: "a", Where: "value == 1"}}})
	h.add("k", 0, map[string]any{"value": 1})
	h.add("k", 1, map[string]any{"value": 1})
	_, err := h.m.Add(&core.Event{ID: "third", Key: "k", Time: t0})
	if err == nil || !strings.Contains(err.Error(), `key "k" event "third"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestTickExpiresPartialsAndKeys(t *testing.T) {
	h := newHarness(t, Config{Name: "p", Within: time.Minute, Steps: []Step{
		{Name: "a", Where: "value == 1"},
		{Name: "b", Where: "value == 2"},
	}})
	h.add("k", 0, map[string]any{"value": 1})
	h.advance(time.Second)
	if st := h.m.Stats(); st.Keys != 1 || st.Partials != 1 {
		t.Fatalf("stats %+v", st)
	}
	h.m.Tick(time.Time{}, h.emit)
	if st := h.m.Stats(); st.Partials != 1 {
		t.Fatalf("within has not passed, stats %+v", st)
	}
	h.advance(time.Minute + time.Second)
	h.m.Tick(time.Time{}, h.emit)
	if st := h.m.Stats(); st.Keys != 0 || st.Partials != 0 || st.ExpiredPartials != 1 {
		t.Fatalf("stats %+v", st)
	}

	// Without within, KeyTTL ends idle partial matches.
	h = newHarness(t, Config{Name: "p", KeyTTL: time.Hour, Steps: []Step{
		{Name: "a", Where: "value == 1"},
		{Name: "b", Where: "value == 2"},
	}})
	h.add("k", 0, map[string]any{"value": 1})
	h.advance(time.Hour)
	h.m.Tick(time.Time{}, h.emit)
	if st := h.m.Stats(); st.Partials != 1 {
		t.Fatalf("stats %+v", st)
	}
	h.advance(time.Hour + time.Second)
	h.m.Tick(time.Time{}, h.emit)
	if st := h.m.Stats(); st.Keys != 0 || st.ExpiredPartials != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMissingFieldsAndTypeMismatches(t *testing.T) {
	h := newHarness(t, Config{Name: "p", Steps: []Step{{Name: "a", Where: `value > 5 || value == "high"`}}})
	h.add("k", 0, map[string]any{})                 // missing: error, false
	h.add("k", 1, map[string]any{"value": "high"})  // string: matches the second term
	h.add("k", 2, map[string]any{"value": 7})       // number
	h.add("k", 3, map[string]any{"value": true})    // bool: false
	h.add("k", 4, map[string]any{"value": nil})     // null: false
	h.add("k", 5, map[string]any{"value": "hello"}) // neither
	h.flush()
	h.want("k:matched:1ns..1ns", "k:matched:2ns..2ns")
	if st := h.m.Stats(); st.EvalErrors == 0 {
		t.Fatalf("a missing field should count as an evaluation error: %+v", st)
	}
}

func TestNestedFieldsKeyAndTime(t *testing.T) {
	table := &core.FieldTable{}
	p, err := Compile(Config{Name: "p", Steps: []Step{
		{Name: "a", Where: `device.temp > 40.0 && key.startsWith("s") && time > timestamp("2025-01-01T00:00:00Z")`},
		{Name: "b", Where: `device.temp > a.device.temp + 1.0 && event.key == "payload-key"`},
	}}, table)
	if err != nil {
		t.Fatal(err)
	}
	paths := strings.Join(table.Paths(), ",")
	if paths != "device.temp,key" {
		t.Fatalf("registered paths %q", paths)
	}
	m := p.NewMatcher()
	var out []*core.Decision
	ev := func(at time.Duration, temp float64) {
		f := []core.Value{{Kind: core.Number, Num: temp}, {Kind: core.String, Str: "payload-key"}}
		if _, err := m.Add(&core.Event{Key: "s1", Time: t0.Add(at), Fields: f}); err != nil {
			t.Fatal(err)
		}
	}
	ev(0, 41)
	ev(time.Second, 41.5)
	ev(2*time.Second, 43)
	m.Advance(time.Unix(1<<62, 0), func(d *core.Decision) { out = append(out, d) })
	if len(out) != 1 || !out[0].Window.Start.Equal(t0) || !out[0].Window.End.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("decisions %+v", out)
	}
	if v := value(out[0], "b.device.temp"); v != 43 {
		t.Fatalf("b.device.temp = %v", v)
	}
}

func TestCompileErrors(t *testing.T) {
	ok := []Step{{Name: "a", Where: "value > 1"}}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no name", Config{Steps: ok}, `pattern "" field "name"`},
		{"no steps", Config{Name: "p"}, `pattern "p" field "steps"`},
		{"bad cel", Config{Name: "p", Steps: []Step{{Name: "a", Where: "value >"}}}, `pattern "p" step 0 ("a") field "where"`},
		{"not bool", Config{Name: "p", Steps: []Step{{Name: "a", Where: `"x" + "y"`}}}, `want bool`},
		// The wording of each stage of package predicate's compiler, as steps always had it.
		{"parse wording", Config{Name: "p", Steps: []Step{{Name: "a", Where: "value >"}}}, `field "where": parse "value >": ERROR: <input>:1:8`},
		{"check wording", Config{Name: "p", Steps: []Step{{Name: "a", Where: "nosuch(value)"}}}, `field "where": check "nosuch(value)": ERROR: <input>:1:7: undeclared reference to 'nosuch'`},
		{"type wording", Config{Name: "p", Steps: []Step{{Name: "a", Where: "1 + 2"}}}, `field "where": "1 + 2" yields int, want bool`},
		{"later step", Config{Name: "p", Steps: []Step{{Name: "a", Where: "value > b.value"}, {Name: "b"}}}, `step 0 ("a") field "where": "b" refers to step 1`},
		{"self", Config{Name: "p", Steps: []Step{{Name: "a", Where: "value > a.value"}}}, `refers to step 0`},
		{"bare step", Config{Name: "p", Steps: []Step{{Name: "a"}, {Name: "b", Where: "a == 1"}}}, `step "a" must be followed by a field path`},
		{"dup", Config{Name: "p", Steps: []Step{{Name: "a"}, {Name: "a"}}}, `step 1 ("a") field "name"`},
		{"reserved", Config{Name: "p", Steps: []Step{{Name: "time"}}}, `reserved`},
		{"ident", Config{Name: "p", Steps: []Step{{Name: "a-b"}}}, `not an identifier`},
		{"times", Config{Name: "p", Steps: []Step{{Name: "a", Times: 2, OneOrMore: true}}}, `field "times"`},
		{"max<min", Config{Name: "p", Steps: []Step{{Name: "a", MinTimes: 3, MaxTimes: 2}}}, `max 2 below min 3`},
		{"absent first", Config{Name: "p", Steps: []Step{{Name: "a", Absent: true, Within: time.Second}}}, `field "absent"`},
		{"absent middle", Config{Name: "p", Steps: []Step{{Name: "a"}, {Name: "b", Absent: true, Within: time.Second}, {Name: "c"}}}, `only the last step`},
		{"absent no within", Config{Name: "p", Steps: []Step{{Name: "a"}, {Name: "b", Absent: true}}}, `step 1 ("b") field "within"`},
		{"within on positive", Config{Name: "p", Steps: []Step{{Name: "a", Within: time.Second}}}, `field "within"`},
		{"skip", Config{Name: "p", Skip: "sometimes", Steps: ok}, `field "skip"`},
		{"contiguity", Config{Name: "p", Contiguity: "loose", Steps: ok}, `field "contiguity"`},
		{"step contiguity", Config{Name: "p", Steps: []Step{{Name: "a", Contiguity: "x"}}}, `step 0 ("a") field "contiguity"`},
		{"negative within", Config{Name: "p", Within: -1, Steps: ok}, `field "within"`},
		{"bare event", Config{Name: "p", Steps: []Step{{Name: "a", Where: "event == 1"}}}, `event must be followed`},
		{"capture", Config{Name: "p", Capture: []string{"a..b"}, Steps: ok}, `field "capture"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.cfg, &core.FieldTable{})
			var ce *CompileError
			if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a CompileError containing %q", err, tc.want)
			}
		})
	}
}

func TestRestoreRejectsOtherPatternsAndGarbage(t *testing.T) {
	h := newHarness(t, w4Config())
	h.add("k", 0, map[string]any{"value": 95})
	b, err := h.m.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	other := w4Config()
	other.Steps[0].Where = "value > 80.0"
	p2, err := Compile(other, &core.FieldTable{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.NewMatcher().UnmarshalBinary(b); err == nil || !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "different definition") {
		t.Fatalf("restore into another pattern: %v", err)
	}
	for i := 0; i < len(b); i++ {
		m := h.p.NewMatcher()
		if err := m.UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("a snapshot truncated to %d of %d bytes restored", i, len(b))
		}
	}
	m := h.p.NewMatcher()
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Buffered != 1 || st.Keys != 1 {
		t.Fatalf("restored stats %+v", st)
	}
	b2, _ := m.AppendBinary(nil)
	if string(b2) != string(b) {
		t.Fatal("snapshot of a restored matcher differs")
	}
}

// One Pattern serves many partitions at once (run with -race).
func TestPatternSharedAcrossMatchers(t *testing.T) {
	table := &core.FieldTable{}
	p, err := Compile(Config{Name: "p", Steps: []Step{
		{Name: "a", Where: "value > threshold"},
		{Name: "b", Where: "value < a.value - 10.0"},
	}}, table)
	if err != nil {
		t.Fatal(err)
	}
	vi, _ := table.Lookup("value")
	ti, _ := table.Lookup("threshold")
	counts := make(chan int, 4)
	for g := 0; g < 4; g++ {
		go func() {
			m := p.NewMatcher()
			n := 0
			for i := 0; i < 500; i++ {
				f := make([]core.Value, table.Len())
				f[vi] = core.Value{Kind: core.Number, Num: float64((i * 37) % 100)}
				f[ti] = core.Value{Kind: core.Number, Num: 50}
				if _, err := m.Add(&core.Event{Key: "k", Time: t0.Add(time.Duration(i) * time.Second), Fields: f}); err != nil {
					panic(err)
				}
				m.Advance(t0.Add(time.Duration(i)*time.Second), func(*core.Decision) { n++ })
			}
			m.Advance(time.Unix(1<<62, 0), func(*core.Decision) { n++ })
			counts <- n
		}()
	}
	first := <-counts
	for g := 1; g < 4; g++ {
		if n := <-counts; n != first || n == 0 {
			t.Fatalf("matchers disagree or found nothing: %d vs %d", n, first)
		}
	}
}
