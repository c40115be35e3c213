package pattern

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/predicate"
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
	if table == nil {
		return nil, patternErr(cfg, "", errors.New("nil field table"))
	}
	sh, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	p := &Pattern{
		name:        cfg.Name,
		function:    cfg.Function,
		severity:    cfg.Severity,
		within:      int64(cfg.Within),
		skip:        cfg.Skip,
		maxPartials: cmp.Or(cfg.MaxPartials, DefaultMaxPartials),
		maxBuffered: cmp.Or(cfg.MaxBuffered, DefaultMaxBuffered),
		keyTTL:      int64(cfg.KeyTTL),
		idleLag:     int64(cfg.IdleLag),
		slotOf:      make(map[int]int),
	}
	if p.skip == "" {
		p.skip = SkipPastLastEvent
	}
	preds, err := p.compilePredicates(cfg, sh.names, table)
	if err != nil {
		return nil, err
	}
	p.retainFields(cfg, preds, table)
	p.buildSteps(cfg, sh, preds)
	p.fp = fingerprint(cfg, p)
	return p, nil
}

// shape is what validate derives from a Config's steps: their indexes by name, and per step its
// contiguity and repetition bounds.
type shape struct {
	names   map[string]int
	relaxed []bool
	lo, hi  []int
}

func patternErr(cfg Config, field string, err error) error {
	return &CompileError{Pattern: cfg.Name, Step: -1, Field: field, Err: err}
}

func stepErr(cfg Config, i int, field string, err error) error {
	return &CompileError{Pattern: cfg.Name, Step: i, StepName: cfg.Steps[i].Name, Field: field, Err: err}
}

// validate checks what cfg says apart from its where conditions (which compiling checks): the
// pattern's settings, then each step's.
func validate(cfg Config) (shape, error) {
	perr := func(field string, err error) (shape, error) { return shape{}, patternErr(cfg, field, err) }
	if strings.TrimSpace(cfg.Name) == "" {
		return perr("name", errors.New("a pattern needs a name"))
	}
	if len(cfg.Steps) == 0 {
		return perr("steps", errors.New("a pattern needs at least one step"))
	}
	if len(cfg.Steps) > maxSteps {
		return perr("steps", fmt.Errorf("%d steps, at most %d", len(cfg.Steps), maxSteps))
	}
	if cfg.Within < 0 {
		return perr("within", fmt.Errorf("negative duration %v", cfg.Within))
	}
	defaultRelaxed, err := parseContiguity(cfg.Contiguity, true)
	if err != nil {
		return perr("contiguity", err)
	}
	switch cfg.Skip {
	case "", SkipPastLastEvent, SkipToNext, NoSkip:
	default:
		return perr("skip", fmt.Errorf("unknown skip strategy %q (want %q, %q or %q)", cfg.Skip, SkipPastLastEvent, SkipToNext, NoSkip))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"max_partials", int64(cfg.MaxPartials)}, {"max_buffered", int64(cfg.MaxBuffered)}, {"key_ttl", int64(cfg.KeyTTL)}, {"idle_lag", int64(cfg.IdleLag)}} {
		if f.v < 0 {
			return perr(f.name, fmt.Errorf("negative value %d", f.v))
		}
	}
	for _, path := range cfg.Capture {
		if err := checkPath(path); err != nil {
			return perr("capture", err)
		}
	}
	sh := shape{names: make(map[string]int), relaxed: make([]bool, len(cfg.Steps)),
		lo: make([]int, len(cfg.Steps)), hi: make([]int, len(cfg.Steps))}
	for i, s := range cfg.Steps {
		field, err := validateStep(cfg, i, sh.names)
		if err != nil {
			return shape{}, stepErr(cfg, i, field, err)
		}
		sh.names[s.Name] = i
		if sh.relaxed[i], err = parseContiguity(s.Contiguity, defaultRelaxed); err != nil {
			return shape{}, stepErr(cfg, i, "contiguity", err)
		}
		if s.Absent {
			continue
		}
		if sh.lo[i], sh.hi[i], err = repetition(s); err != nil {
			return shape{}, stepErr(cfg, i, "times", err)
		}
	}
	return sh, nil
}

// validateStep checks step i's name (against names, the steps before it) and what makes it an
// absent step, returning the field at fault.
func validateStep(cfg Config, i int, names map[string]int) (field string, err error) {
	s := cfg.Steps[i]
	if !identRE.MatchString(s.Name) {
		return "name", fmt.Errorf("step name %q is not an identifier (letters, digits, _)", s.Name)
	}
	if reserved[s.Name] {
		return "name", fmt.Errorf("step name %q is reserved", s.Name)
	}
	if j, dup := names[s.Name]; dup {
		return "name", fmt.Errorf("step name %q already names step %d", s.Name, j)
	}
	if !s.Absent {
		if s.Within != 0 {
			return "within", errors.New("within on a step is the absence window: only for absent steps (use the pattern's within)")
		}
		return "", nil
	}
	switch {
	case i != len(cfg.Steps)-1:
		return "absent", errors.New("only the last step may be absent")
	case i == 0:
		return "absent", errors.New("an absent step needs a positive step before it")
	case s.Within <= 0:
		return "within", errors.New("an absent step needs a positive within (the absence window)")
	case s.Times != 0 || s.MinTimes != 0 || s.MaxTimes != 0 || s.OneOrMore:
		return "times", errors.New("an absent step cannot repeat")
	case s.Contiguity == Strict:
		return "contiguity", errors.New("an absent step is always relaxed")
	}
	return "", nil
}

// compilePredicates compiles every step's where condition and notes the reference tables they
// read.
func (p *Pattern) compilePredicates(cfg Config, names map[string]int, table *core.FieldTable) ([]*pred, error) {
	cost := cmp.Or(cfg.CostLimit, DefaultCostLimit)
	preds := make([]*pred, len(cfg.Steps))
	for i, s := range cfg.Steps {
		pr, err := compilePred(s.Where, i, names, table, cost, cfg.Reference)
		if err != nil {
			return nil, stepErr(cfg, i, "where", err)
		}
		pr.bit = uint(i)
		preds[i] = pr
		for _, v := range pr.vars {
			if (v.Kind == predicate.VarTable || v.Kind == predicate.VarLookup) && !slices.Contains(p.refTables, v.TableName) {
				p.refTables = append(p.refTables, v.TableName)
			}
		}
	}
	slices.Sort(p.refTables)
	for _, n := range p.refTables {
		h, _ := cfg.Reference.Handle(n)
		p.refHandles = append(p.refHandles, h)
	}
	return preds, nil
}

// retainFields picks the fields a buffered event keeps: whatever a predicate evaluated after
// buffering, or a captured event, needs. Without Capture, a decision captures every field the
// predicates read.
func (p *Pattern) retainFields(cfg Config, preds []*pred, table *core.FieldTable) {
	capture := cfg.Capture
	if len(capture) == 0 {
		seen := map[string]bool{}
		for _, pr := range preds {
			for _, path := range slices.Concat(pr.ownPaths, pr.stepPaths) {
				if !seen[path] {
					seen[path] = true
					capture = append(capture, path)
				}
			}
		}
	}
	for _, path := range capture {
		p.capture = append(p.capture, captureField{path: path, slot: p.retain(table.Index(path))})
	}
	for _, pr := range preds {
		for _, path := range pr.stepPaths {
			p.retain(table.Index(path))
		}
		if !pr.eager {
			for _, path := range pr.ownPaths {
				p.retain(table.Index(path))
			}
		}
	}
	for _, pr := range preds {
		pr.bind(p.slotOf)
		if pr.eager {
			p.eager = append(p.eager, pr)
		}
	}
}

// retain returns the slot of field idx in a buffered event's values, giving it one if it has none.
func (p *Pattern) retain(idx int) int {
	if s, ok := p.slotOf[idx]; ok {
		return s
	}
	p.slotOf[idx] = len(p.retained)
	p.retained = append(p.retained, idx)
	return len(p.retained) - 1
}

// buildSteps makes the positive steps and the absence step, with the names of their decision
// values.
func (p *Pattern) buildSteps(cfg Config, sh shape, preds []*pred) {
	for i, s := range cfg.Steps {
		if s.Absent {
			p.absent = &step{name: s.Name, min: 1, max: 1, relaxed: true, pred: preds[i]}
			p.absentNS = int64(s.Within)
			continue
		}
		lo, hi := sh.lo[i], sh.hi[i]
		st := step{name: s.Name, min: lo, max: hi, relaxed: sh.relaxed[i], pred: preds[i], countName: s.Name + ".count"}
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
