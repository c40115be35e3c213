package pattern

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/reftable"
)

// CompileError reports what is wrong with a Config, naming the pattern, the step (if any) and the
// field.
type CompileError struct {
	Pattern string
	// Step is the index of the step at fault, or -1 for the pattern itself.
	Step     int
	StepName string
	// Field names the Config or Step field at fault ("where", "times", "within"...).
	Field string
	Err   error
}

// Error implements error.
func (e *CompileError) Error() string {
	s := "pattern " + strconv.Quote(e.Pattern)
	if e.Step >= 0 {
		s += " step " + strconv.Itoa(e.Step)
		if e.StepName != "" {
			s += " (" + strconv.Quote(e.StepName) + ")"
		}
	}
	if e.Field != "" {
		s += " field " + strconv.Quote(e.Field)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *CompileError) Unwrap() error { return e.Err }

// Pattern is a compiled Config. It is immutable and safe for concurrent use; each partition gets its
// own Matcher from NewMatcher.
type Pattern struct {
	name     string
	function string
	severity string
	within   int64 // ns, 0 = unbounded
	skip     Skip
	steps    []step // positive steps
	absent   *step  // the absence step, if any
	absentNS int64

	// refTables are the reference tables the predicates read (sorted), refHandles their slots.
	refTables  []string
	refHandles []reftable.Handle

	maxPartials int
	maxBuffered int
	keyTTL      int64
	idleLag     int64

	// retained lists the field-table indexes an event keeps while buffered and when captured; slot
	// i of a buffered event's values holds field retained[i].
	retained []int
	slotOf   map[int]int
	eager    []*pred // predicates evaluated on Add (no step references), bit i of the event mask
	capture  []captureField
	fp       uint64 // fingerprint of the definition, checked by UnmarshalBinary
	valueLen int    // number of decision values
}

type step struct {
	name       string
	min, max   int // max < 0: unbounded
	relaxed    bool
	pred       *pred
	countName  string
	valueNames []string // per capture field: name, or first/last names for repeated steps
}

type captureField struct {
	path string
	slot int
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var reserved = map[string]bool{
	"key": true, "time": true, "event": true,
	// CEL's reserved words and literals.
	"as": true, "break": true, "const": true, "continue": true, "else": true, "for": true,
	"function": true, "if": true, "import": true, "let": true, "loop": true, "package": true,
	"namespace": true, "return": true, "var": true, "void": true, "while": true, "in": true,
	"null": true, "true": true, "false": true,
}

// maxSteps keeps a step's eager predicate result in one bit of a uint64 mask.
const maxSteps = 63

// Compile checks cfg and compiles its predicates. It registers in table every payload field the
// predicates and Capture reference, so the decoder extracts them into Event.Fields.
func Compile(cfg Config, table *core.FieldTable) (*Pattern, error) {
	perr := func(field string, err error) error {
		return &CompileError{Pattern: cfg.Name, Step: -1, Field: field, Err: err}
	}
	serr := func(i int, field string, err error) error {
		return &CompileError{Pattern: cfg.Name, Step: i, StepName: cfg.Steps[i].Name, Field: field, Err: err}
	}
	if table == nil {
		return nil, perr("", errors.New("nil field table"))
	}
	if strings.TrimSpace(cfg.Name) == "" {
		return nil, perr("name", errors.New("a pattern needs a name"))
	}
	if len(cfg.Steps) == 0 {
		return nil, perr("steps", errors.New("a pattern needs at least one step"))
	}
	if len(cfg.Steps) > maxSteps {
		return nil, perr("steps", fmt.Errorf("%d steps, at most %d", len(cfg.Steps), maxSteps))
	}
	if cfg.Within < 0 {
		return nil, perr("within", fmt.Errorf("negative duration %v", cfg.Within))
	}
	defaultRelaxed, err := parseContiguity(cfg.Contiguity, true)
	if err != nil {
		return nil, perr("contiguity", err)
	}
	p := &Pattern{
		name:        cfg.Name,
		function:    cfg.Function,
		severity:    cfg.Severity,
		within:      int64(cfg.Within),
		skip:        cfg.Skip,
		maxPartials: cfg.MaxPartials,
		maxBuffered: cfg.MaxBuffered,
		keyTTL:      int64(cfg.KeyTTL),
		idleLag:     int64(cfg.IdleLag),
		slotOf:      make(map[int]int),
	}
	switch cfg.Skip {
	case "":
		p.skip = SkipPastLastEvent
	case SkipPastLastEvent, SkipToNext, NoSkip:
	default:
		return nil, perr("skip", fmt.Errorf("unknown skip strategy %q (want %q, %q or %q)", cfg.Skip, SkipPastLastEvent, SkipToNext, NoSkip))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"max_partials", int64(cfg.MaxPartials)}, {"max_buffered", int64(cfg.MaxBuffered)}, {"key_ttl", int64(cfg.KeyTTL)}, {"idle_lag", int64(cfg.IdleLag)}} {
		if f.v < 0 {
			return nil, perr(f.name, fmt.Errorf("negative value %d", f.v))
		}
	}
	if p.maxPartials == 0 {
		p.maxPartials = DefaultMaxPartials
	}
	if p.maxBuffered == 0 {
		p.maxBuffered = DefaultMaxBuffered
	}
	cost := cfg.CostLimit
	if cost == 0 {
		cost = DefaultCostLimit
	}

	names := make(map[string]int)
	for i, s := range cfg.Steps {
		if !identRE.MatchString(s.Name) {
			return nil, serr(i, "name", fmt.Errorf("step name %q is not an identifier (letters, digits, _)", s.Name))
		}
		if reserved[s.Name] {
			return nil, serr(i, "name", fmt.Errorf("step name %q is reserved", s.Name))
		}
		if j, dup := names[s.Name]; dup {
			return nil, serr(i, "name", fmt.Errorf("step name %q already names step %d", s.Name, j))
		}
		names[s.Name] = i
		if s.Absent {
			if i != len(cfg.Steps)-1 {
				return nil, serr(i, "absent", errors.New("only the last step may be absent"))
			}
			if i == 0 {
				return nil, serr(i, "absent", errors.New("an absent step needs a positive step before it"))
			}
			if s.Within <= 0 {
				return nil, serr(i, "within", errors.New("an absent step needs a positive within (the absence window)"))
			}
			if s.Times != 0 || s.MinTimes != 0 || s.MaxTimes != 0 || s.OneOrMore {
				return nil, serr(i, "times", errors.New("an absent step cannot repeat"))
			}
			if s.Contiguity == Strict {
				return nil, serr(i, "contiguity", errors.New("an absent step is always relaxed"))
			}
		} else if s.Within != 0 {
			return nil, serr(i, "within", errors.New("within on a step is the absence window: only for absent steps (use the pattern's within)"))
		}
	}

	cc, err := newCELCompiler(cost)
	if err != nil {
		return nil, perr("", err)
	}
	cc.ref = cfg.Reference
	// First pass: parse every predicate, collecting the fields it needs.
	preds := make([]*pred, len(cfg.Steps))
	for i, s := range cfg.Steps {
		pr, err := cc.compile(s.Where, cfg.Steps[:i], names, table)
		if err != nil {
			return nil, serr(i, "where", err)
		}
		pr.bit = uint(i)
		preds[i] = pr
		for _, v := range pr.vars {
			if v.kind == varTable || v.kind == varLookup {
				if !slices.Contains(p.refTables, v.tableName) {
					p.refTables = append(p.refTables, v.tableName)
				}
			}
		}
	}
	slices.Sort(p.refTables)
	for _, n := range p.refTables {
		h, _ := cfg.Reference.Handle(n)
		p.refHandles = append(p.refHandles, h)
	}

	// Retained fields: whatever a predicate evaluated after buffering, or a captured event, needs.
	retain := func(idx int) int {
		if s, ok := p.slotOf[idx]; ok {
			return s
		}
		p.slotOf[idx] = len(p.retained)
		p.retained = append(p.retained, idx)
		return len(p.retained) - 1
	}
	capture := cfg.Capture
	if len(capture) == 0 {
		seen := map[string]bool{}
		for _, pr := range preds {
			for _, path := range pr.ownPaths {
				if !seen[path] {
					seen[path] = true
					capture = append(capture, path)
				}
			}
			for _, path := range pr.stepPaths {
				if !seen[path] {
					seen[path] = true
					capture = append(capture, path)
				}
			}
		}
	}
	for _, path := range capture {
		if err := checkPath(path); err != nil {
			return nil, perr("capture", err)
		}
		p.capture = append(p.capture, captureField{path: path, slot: retain(table.Index(path))})
	}
	for _, pr := range preds {
		for _, path := range pr.stepPaths {
			retain(table.Index(path))
		}
		if !pr.eager {
			for _, path := range pr.ownPaths {
				retain(table.Index(path))
			}
		}
	}
	for _, pr := range preds {
		pr.bind(table, p.slotOf)
		if pr.eager {
			p.eager = append(p.eager, pr)
		}
	}

	for i, s := range cfg.Steps {
		relaxed, err := parseContiguity(s.Contiguity, defaultRelaxed)
		if err != nil {
			return nil, serr(i, "contiguity", err)
		}
		if s.Absent {
			p.absent = &step{name: s.Name, min: 1, max: 1, relaxed: true, pred: preds[i]}
			p.absentNS = int64(s.Within)
			continue
		}
		lo, hi, err := repetition(s)
		if err != nil {
			return nil, serr(i, "times", err)
		}
		st := step{name: s.Name, min: lo, max: hi, relaxed: relaxed, pred: preds[i], countName: s.Name + ".count"}
		for _, c := range p.capture {
			if hi == 1 {
				st.valueNames = append(st.valueNames, s.Name+"."+c.path)
			} else {
				st.valueNames = append(st.valueNames, s.Name+".first."+c.path, s.Name+".last."+c.path)
			}
		}
		p.valueLen += 1 + len(st.valueNames)
		p.steps = append(p.steps, st)
	}
	p.valueLen++ // count
	p.fp = fingerprint(cfg, p)
	return p, nil
}

// Name returns the pattern's name.
func (p *Pattern) Name() string { return p.name }

func parseContiguity(c Contiguity, def bool) (relaxed bool, err error) {
	switch c {
	case "":
		return def, nil
	case Relaxed:
		return true, nil
	case Strict:
		return false, nil
	}
	return false, fmt.Errorf("unknown contiguity %q (want %q or %q)", c, Strict, Relaxed)
}

func repetition(s Step) (lo, hi int, err error) {
	ranged := s.MinTimes != 0 || s.MaxTimes != 0
	switch {
	case s.Times < 0 || s.MinTimes < 0 || s.MaxTimes < 0:
		return 0, 0, errors.New("negative repetition")
	case s.Times != 0 && (ranged || s.OneOrMore):
		return 0, 0, errors.New("times is exclusive with min/max and one_or_more")
	case s.OneOrMore && ranged:
		return 0, 0, errors.New("one_or_more is exclusive with min/max")
	case s.OneOrMore:
		return 1, -1, nil
	case s.Times != 0:
		return s.Times, s.Times, nil
	case ranged:
		lo, hi = s.MinTimes, s.MaxTimes
		if lo == 0 {
			return 0, 0, errors.New("min must be at least 1 (optional steps are not supported)")
		}
		if hi == 0 {
			hi = -1
		} else if hi < lo {
			return 0, 0, fmt.Errorf("max %d below min %d", hi, lo)
		}
		return lo, hi, nil
	}
	return 1, 1, nil
}

func checkPath(path string) error {
	if path == "" {
		return errors.New("empty field path")
	}
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			return fmt.Errorf("field path %q has an empty segment", path)
		}
	}
	return nil
}

// fingerprint identifies the compiled definition, so state saved by one definition is not restored
// into another whose steps would misread it.
func fingerprint(cfg Config, p *Pattern) uint64 {
	h := newHash()
	h.str(cfg.Name)
	h.int(p.within)
	h.str(string(p.skip))
	h.int(p.absentNS)
	for _, s := range cfg.Steps {
		h.str(s.Name)
		h.str(s.Where)
		h.int(int64(s.Times))
		h.int(int64(s.MinTimes))
		h.int(int64(s.MaxTimes))
		if s.OneOrMore {
			h.int(1)
		}
		if s.Absent {
			h.int(2)
		}
	}
	for _, idx := range p.retained {
		h.int(int64(idx))
	}
	return h.sum
}

// hash64 is FNV-1a, used for fingerprints and to fold matched events into decision ids.
type hash64 struct{ sum uint64 }

func newHash() hash64 { return hash64{sum: 14695981039346656037} }

func (h *hash64) byte(b byte) {
	h.sum ^= uint64(b)
	h.sum *= 1099511628211
}

func (h *hash64) int(v int64) {
	for i := 0; i < 8; i++ {
		h.byte(byte(v >> (8 * i)))
	}
}

// payloadHash is the FNV-1a hash of an event's payload.
func payloadHash(data []byte) uint64 {
	h := newHash()
	for _, c := range data {
		h.byte(c)
	}
	return h.sum
}

// eventHash fingerprints an event by its payload, or by its id when it has none (events built in Go
// rather than decoded).
func eventHash(e *core.Event) uint64 {
	if len(e.Data) == 0 {
		return payloadHash([]byte(e.ID))
	}
	return payloadHash(e.Data)
}

func (h *hash64) str(s string) {
	h.int(int64(len(s)))
	for i := 0; i < len(s); i++ {
		h.byte(s[i])
	}
}
