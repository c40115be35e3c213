package spec

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/predicate"
	"github.com/eddyhq/eddy/core/rule"
	"github.com/eddyhq/eddy/internal/aggregate"
	"github.com/eddyhq/eddy/internal/pattern"
	"github.com/eddyhq/eddy/internal/window"
)

// Validate checks f as Compile with no Options would, without compiling a pipeline. The error is an
// Errors naming each field at fault by its path.
func (f *Function) Validate() error { return f.validate(Options{}, nil).err() }

// verr builds a validation error (no position yet).
func verr(path, msg, hint string) *Error { return &Error{Path: path, Msg: msg, Hint: hint} }

// functionNameRE is a function name's form; at most 128 characters. A bounded repetition ({m,n}) compiles to n copies of its class, a few hundred kilobytes held
// from init for the life of every process that links the package; the length is checked apart.
var functionNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// validate checks everything; d, when the spec came from YAML, holds the decode errors so the same
// problem is not reported twice.
func (f *Function) validate(opts Options, d *decoder) Errors {
	v := &validator{f: f, opts: opts}
	if d != nil {
		for _, e := range d.errs {
			v.decodeErrs = append(v.decodeErrs, e.Path)
		}
		v.decodeErrs = append(v.decodeErrs, d.covered...)
	}
	v.walk(reflect.ValueOf(f).Elem(), "")
	if f.Name != "" && (len(f.Name) > 128 || !functionNameRE.MatchString(f.Name)) {
		v.add(verr("name", fmt.Sprintf("%q is not a function name", f.Name),
			"letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters"))
	}
	v.input()
	v.window()
	celOK := v.aggregates()
	v.rules(celOK)
	v.anomalies()
	v.crossovers()
	v.patterns()
	v.outputs()
	v.views()
	v.reference()
	if len(f.Aggregates) == 0 && len(f.Patterns) == 0 {
		v.add(verr("", "the function computes nothing", "add aggregates: (with a window:) or patterns:"))
	}
	if len(opts.Handlers) > 0 && len(f.Aggregates) == 0 {
		v.add(verr("aggregates", "Options.Handlers need window results, and there are no aggregates", ""))
	}
	return v.errs
}

type validator struct {
	f          *Function
	opts       Options
	errs       Errors
	decodeErrs []string
	// names maps rule, anomaly and pattern names to the path that declared them first.
	names map[string]string
}

// add records e unless a decode error already covers its path (a bad value left a zero behind).
func (v *validator) add(e *Error) {
	for _, p := range v.decodeErrs {
		if related(p, e.Path) {
			return
		}
	}
	v.errs = append(v.errs, e)
}

// related reports whether one path is the other or contains it.
func related(a, b string) bool {
	in := func(parent, child string) bool {
		return parent == "" || child == parent || strings.HasPrefix(child, parent+".") || strings.HasPrefix(child, parent+"[")
	}
	return in(a, b) || in(b, a)
}

// walk checks what the struct tags say: required fields, enumerations, no negative numbers.
func (v *validator) walk(val reflect.Value, path string) {
	t := val.Type()
	switch {
	case t == durationType:
		if val.Int() < 0 {
			v.add(verr(path, fmt.Sprintf("%s is negative", time.Duration(val.Int())), ""))
		}
		return
	case t == holdType:
		h := val.Interface().(Hold)
		switch {
		case h.Windows < 0 || h.Duration < 0:
			v.add(verr(path, "must not be negative", ""))
		case h.Windows > 0 && h.Duration > 0:
			v.add(verr(path, "set either Windows or Duration, not both", ""))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if !val.IsNil() {
			v.walk(val.Elem(), path)
		}
	case reflect.Slice:
		for i := range val.Len() {
			v.walk(val.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Int, reflect.Int64:
		if val.Int() < 0 {
			v.add(verr(path, fmt.Sprintf("%d is negative", val.Int()), ""))
		}
	case reflect.Struct:
		for _, fi := range fieldsOf(t) {
			fv := val.Field(fi.index)
			fp := joinPath(path, fi.name)
			if fi.required && fv.IsZero() {
				v.add(verr(fp, "missing", requiredHint(t, fi.name)))
				continue
			}
			if len(fi.enum) > 0 {
				switch fv.Kind() {
				case reflect.String:
					v.enum(fp, fv.String(), fi)
				case reflect.Slice:
					for i := range fv.Len() {
						v.enum(fmt.Sprintf("%s[%d]", fp, i), fv.Index(i).String(), fi)
					}
					continue
				}
			}
			v.walk(fv, fp)
		}
	}
}

func (v *validator) enum(path, s string, fi fieldInfo) {
	if s == "" {
		return
	}
	for _, e := range fi.enum {
		if s == e {
			return
		}
	}
	hint := ""
	if sug := suggest(s, fi.enum); sug != "" {
		hint = "did you mean " + sug + "?"
	}
	v.add(verr(path, fmt.Sprintf("%q is not one of %s", s, oneOf(fi.enum)), hint))
}

// requiredHint explains a missing required field.
func requiredHint(t reflect.Type, field string) string {
	switch t.Name() + "." + field {
	case "Function.name":
		return "every function has a name: name: machine-alarms"
	case "Function.input":
		return "say where the key and the time come from: input: {key: device.id, time: ts}"
	case "Rule.when":
		return "the CEL condition that fires the rule, e.g. when: avg_temp > 80"
	case "Pattern.steps":
		return "e.g. steps: [{name: high, where: value > 90.0}]"
	case "Anomaly.method":
		return "zscore or ewma"
	case "Crossover.of":
		return "the aggregate to average, e.g. of: price with {name: price, op: last, field: price}"
	case "Crossover.fast", "Crossover.slow":
		return "the lengths of the averages in windows, e.g. fast: 5, slow: 20"
	case "Anomaly.threshold":
		return "the score that flags a value, e.g. threshold: 3"
	}
	return ""
}

func (v *validator) input() {
	in := &v.f.Input
	format := in.Format
	if format == "" {
		format = codec.FormatJSON
	}
	checkPath := func(path, s string) {
		p, err := codec.ParsePath(s)
		if err != nil {
			v.add(verr(path, err.Error(), `use a dotted path (device.id), a["x.y"], $key, $time, $id or $attr.NAME`))
			return
		}
		switch {
		case p.Source == codec.CloudEvent && format != codec.FormatCloudEvents:
			v.add(verr(path, fmt.Sprintf("%s addresses a CloudEvents attribute, and the input format is %s", s, format), "set input.format: cloudevents"))
		case p.Source == codec.Payload && format == codec.FormatRaw:
			v.add(verr(path, fmt.Sprintf("%s is a payload field, and format raw has none", s), "use $key, $time, $id or $attr.NAME, or another format"))
		}
	}
	if in.Key != "" {
		if v.opts.KeyFunc != nil {
			v.add(verr("input.key", "set, and Options.KeyFunc computes the key too", "keep one"))
		}
		checkPath("input.key", in.Key)
	}
	nt := 0
	for _, set := range []bool{in.Time != "", in.ProcessingTime, v.opts.TimeFunc != nil} {
		if set {
			nt++
		}
	}
	switch {
	case nt == 0:
		v.add(verr("input.time", "missing: events need a time", "time: <field path> for event time, or processing_time: true"))
	case nt > 1 && in.ProcessingTime:
		v.add(verr("input.processing_time", "exclusive with time (and Options.TimeFunc)", "keep one"))
	case nt > 1:
		v.add(verr("input.time", "set, and Options.TimeFunc computes the time too", "keep one"))
	}
	if in.Time != "" {
		checkPath("input.time", in.Time)
	}
	if in.TimeFormat != "" && in.TimeFormat != "auto" && in.Time == "" {
		v.add(verr("input.time_format", "applies to the time field, and there is none", "remove it"))
	}
	for i, a := range v.f.Aggregates {
		if a.Field != "" {
			checkPath(fmt.Sprintf("aggregates[%d].field", i), a.Field)
		}
	}
}

// kinds lists the window kinds set, as (path, name) pairs.
func (w *Window) kinds() []string {
	var out []string
	if w.Tumbling != 0 {
		out = append(out, "tumbling")
	}
	if w.Sliding != nil {
		out = append(out, "sliding")
	}
	if w.Session != nil {
		out = append(out, "session")
	}
	if w.Count != nil {
		out = append(out, "count")
	}
	if w.Global != nil {
		out = append(out, "global")
	}
	return out
}

const kindHint = "tumbling: 1m, sliding: {size: 5m, slide: 1s}, session: {gap: 30s}, count: {size: 100} or global: {}"

func (v *validator) window() {
	w := &v.f.Window
	kinds := w.kinds()
	if len(v.f.Aggregates) == 0 {
		if len(kinds) > 0 {
			v.add(verr("window."+kinds[0], "a window without aggregates computes nothing", "add aggregates:, or remove the window kind (patterns need none)"))
		}
		if w.AllowedLateness > 0 {
			v.add(verr("window.allowed_lateness", "applies to windows, and there are no aggregates", "patterns treat events behind the watermark as late"))
		}
		return
	}
	switch len(kinds) {
	case 0:
		v.add(verr("window", "no window kind", kindHint))
		return
	case 1:
	default:
		for _, k := range kinds[1:] {
			v.add(verr("window."+k, fmt.Sprintf("a window has one kind, and %s is set too", kinds[0]), "keep one"))
		}
		return
	}
	n := len(v.errs)
	switch kinds[0] {
	case "tumbling":
		if w.Tumbling < 0 {
			return // walk reported it
		}
	case "sliding":
		s := w.Sliding
		switch {
		case s.Size == 0 || s.Slide == 0:
			// walk reported the missing one
		case s.Slide > s.Size:
			v.add(verr("window.sliding.slide", fmt.Sprintf("%s is longer than the size %s", FormatDuration(s.Slide), FormatDuration(s.Size)),
				"a window starts every slide and lasts size: slide must not exceed size"))
		case s.Slide == s.Size:
			// Legal, but it is a tumbling window; no error.
		default:
			// Each key keeps one partial per slice (the greatest common divisor of size and slide)
			// and each window result combines them: bound the count so that one spec cannot ask
			// for billions of partials and results.
			if n := sliceCount(s.Size, s.Slide); n > MaxWindowSlices {
				slice := time.Duration(int64(s.Size) / n)
				hint := fmt.Sprintf("keep size/slide at most %d: a slide of %s or more", MaxWindowSlices, FormatDuration(minSlide(s.Size)))
				v.add(verr("window.sliding", fmt.Sprintf("a %s window sliding every %s is %d slices of %s per key, more than the %d allowed", FormatDuration(s.Size), FormatDuration(s.Slide), n, FormatDuration(slice), MaxWindowSlices), hint))
			}
		}
	case "session":
		s := w.Session
		if s.MaxDuration > 0 && s.MaxDuration < s.Gap {
			v.add(verr("window.session.max_duration", fmt.Sprintf("%s is shorter than the gap %s", FormatDuration(s.MaxDuration), FormatDuration(s.Gap)), "a session lasts at least one gap"))
		}
	case "count":
		c := w.Count
		if c.Slide > 0 && c.Size > 0 && (c.Slide > c.Size || c.Size%c.Slide != 0) {
			v.add(verr("window.count.slide", fmt.Sprintf("the size %d is not a multiple of the slide %d", c.Size, c.Slide), "e.g. size: 100, slide: 10"))
		}
	}
	if len(v.errs) != n {
		return
	}
	v.early(kinds[0])
	if ws := v.f.windowSpec(); ws.Validate() != nil && !v.hasErrUnder("window") {
		v.add(verr("window."+kinds[0], ws.Validate().Error(), ""))
	}
}

// early checks window.early for a window of kind.
func (v *validator) early(kind string) {
	w := &v.f.Window
	e := w.Early
	if e == nil {
		return
	}
	switch {
	case e.Every == 0 && e.Count == 0:
		v.add(verr("window.early", "no trigger", "early: {every: 10s} (processing time), {count: 1000} (events of a key) or both"))
	case kind == "global" && e.Every > 0 && w.IdleTimeout == 0:
		v.add(verr("window.early.every", "a global window's early firings by processing time need ticks, and window.idle_timeout is not set",
			"set window.idle_timeout (and schedule ticks), or fire by count: early: {count: 1000}"))
	}
}

func (v *validator) hasErrUnder(path string) bool {
	for _, e := range v.errs {
		if related(path, e.Path) {
			return true
		}
	}
	for _, p := range v.decodeErrs {
		if related(path, p) {
			return true
		}
	}
	return false
}

// aggregates checks the aggregates; it reports whether their names make a valid CEL environment.
func (v *validator) aggregates() (celOK bool) {
	celOK = true
	needCEL := len(v.f.Rules) > 0 || len(v.f.Anomalies) > 0 || len(v.f.Crossovers) > 0
	seen := map[string]int{}
	conds := map[string]bool{}
	for i, a := range v.f.Aggregates {
		p := fmt.Sprintf("aggregates[%d]", i)
		if a.Op == "" {
			v.add(verr(p, "no function", "name it by its key (avg: temp, count: true, p99: latency) or with op: and field:"))
			celOK = false
			continue
		}
		if !validOp(a.Op) {
			// walk reported the enum error
			celOK = false
			continue
		}
		if a.Op == aggregate.Custom && v.opts.Aggregates[a.name()] == nil {
			v.add(verr(p+".op", fmt.Sprintf("custom aggregate %q has no Go function", a.name()),
				fmt.Sprintf("give it in Go: eddy.Options{Aggregates: map[string]core.AggregateFunc{%q: ...}}", a.name())))
			celOK = false
			continue
		}
		if a.Field == "" && a.Op != aggregate.Count && !v.hasErrUnder(p) {
			v.add(verr(p+".field", fmt.Sprintf("%s needs a field", a.Op), fmt.Sprintf("e.g. %s: temp", a.Op)))
		}
		only := func(field string, set bool, op ...aggregate.Op) {
			if !set {
				return
			}
			for _, o := range op {
				if a.Op == o {
					return
				}
			}
			v.add(verr(p+"."+field, fmt.Sprintf("applies to %s, not %s", op[0], a.Op), "remove it"))
		}
		only("q", a.Q != 0, aggregate.Quantile)
		only("relative_accuracy", a.RelativeAccuracy != 0, aggregate.Quantile)
		only("k", a.K != 0, aggregate.TopK)
		only("precision", a.Precision != 0, aggregate.Distinct)
		if a.Op == aggregate.Quantile && !(a.Q >= 0 && a.Q <= 1) {
			v.add(verr(p+".q", fmt.Sprintf("%v is outside [0, 1]", a.Q), "0.99 is the 99th percentile"))
		}
		if a.RelativeAccuracy != 0 && !(a.RelativeAccuracy > 0 && a.RelativeAccuracy < 1) {
			v.add(verr(p+".relative_accuracy", fmt.Sprintf("%v is outside (0, 1)", a.RelativeAccuracy), "0.01 keeps quantiles within 1%"))
		}
		if a.Precision != 0 && (a.Precision < 4 || a.Precision > 18) {
			v.add(verr(p+".precision", fmt.Sprintf("%d is outside 4..18", a.Precision), "14 gives about 0.8% error"))
		}
		name := a.name()
		if j, dup := seen[name]; dup {
			where := p + ".name"
			hint := "give each aggregate its own name"
			if a.Name == "" {
				where = p
				hint = "it defaults to its function: give it a name:"
			}
			v.add(verr(where, fmt.Sprintf("%q is also the name of aggregates[%d]", name, j), hint))
			celOK = false
			continue
		}
		seen[name] = i
		if needCEL {
			if err := celIdent(name); err != "" {
				where := p + ".name"
				if a.Name == "" {
					where = p
				}
				v.add(verr(where, fmt.Sprintf("%q %s, and rules refer to aggregates by name", name, err), "rename it, e.g. "+identFrom(name)))
				celOK = false
			}
		}
		if a.Op != "" && a.Field != "" || a.Op == aggregate.Count {
			if err := a.spec(v.opts).Validate(); err != nil && !v.hasErrUnder(p) {
				v.add(verr(p, err.Error(), ""))
			}
		}
		if w := strings.TrimSpace(a.Where); w != "" && !conds[w] {
			conds[w] = true
			if len(conds) > aggregate.MaxConditions {
				v.add(verr(p+".where", fmt.Sprintf("more than %d distinct where conditions", aggregate.MaxConditions), "aggregates with the same condition share it: reuse conditions"))
			}
		}
		if strings.TrimSpace(a.Where) != "" && !v.hasErrUnder(p+".where") {
			var table core.FieldTable
			ref, _ := v.f.declaredReference()
			if _, err := predicate.CompileRef(a.Where, &table, 0, ref); err != nil {
				e := celError(p+".where", err.Error(), "")
				if e.Hint == "CEL syntax: avg_temp > 80 && n >= 10" {
					e.Hint = `CEL syntax: outcome == "fail" && amount > 100.0`
				}
				if e.Hint == "" && strings.Contains(e.Msg, "undeclared reference") {
					e.Hint = "where sees the payload fields by name, event.<path>, key and time, and CEL's standard functions"
				}
				v.add(e)
			}
		}
	}
	return celOK
}

func validOp(op aggregate.Op) bool {
	if op == aggregate.Custom {
		return true
	}
	for _, o := range aggregate.Ops {
		if o == op {
			return true
		}
	}
	return false
}

func (a *Aggregate) name() string {
	if a.Name != "" {
		return a.Name
	}
	return string(a.Op)
}

func (a *Aggregate) spec(opts Options) aggregate.Spec {
	s := aggregate.Spec{Name: a.name(), Op: a.Op, Field: a.Field, Q: a.Q, RelativeAccuracy: a.RelativeAccuracy,
		K: a.K, Precision: uint8(min(a.Precision, 255)), Where: a.Where}
	if a.Op == aggregate.Custom {
		s.Func = opts.Aggregates[a.name()]
	}
	return s
}

// celReserved are CEL's reserved words and the variables the rule package defines.
var celReserved = map[string]bool{
	"true": true, "false": true, "null": true, "in": true, "as": true, "break": true, "const": true,
	"continue": true, "else": true, "for": true, "function": true, "if": true, "import": true, "let": true,
	"loop": true, "package": true, "namespace": true, "return": true, "var": true, "void": true, "while": true,
	"key": true, "window": true, "revision": true, "first": true, "prev": true, "attrs": true,
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// celIdent says why name cannot be a rule variable ("" if it can).
func celIdent(name string) string {
	if !identRE.MatchString(name) {
		return "is not a CEL identifier (letters, digits and _, not starting with a digit)"
	}
	if celReserved[name] {
		return "is reserved in rule conditions"
	}
	return ""
}

// identFrom turns name into a plausible CEL identifier for a hint.
func identFrom(name string) string {
	var b strings.Builder
	for i, c := range name {
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			b.WriteRune(c)
		case c >= '0' && c <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || celReserved[s] {
		s += "_value"
	}
	return s
}

// claim registers a decision-producing name, reporting a clash.
func (v *validator) claim(name, path string) {
	if name == "" {
		return
	}
	if v.names == nil {
		v.names = map[string]string{}
	}
	if first, dup := v.names[name]; dup {
		v.add(verr(path, fmt.Sprintf("%q is also the name of %s", name, first), "rules, anomalies, crossovers and patterns need distinct names: decisions carry them"))
		return
	}
	v.names[name] = strings.TrimSuffix(path, ".name")
}

// celErrRE finds a CEL error's position and message: "ERROR: <src>:1:5: message".
var celErrRE = regexp.MustCompile(`ERROR: [^\n]*?:(\d+):(\d+): ([^\n]*)`)

// celError turns a CEL compile error into a spec error at path, with the position inside the
// expression so Parse can point at the exact column.
func celError(path, msg, aggHint string) *Error {
	e := verr(path, msg, "")
	all := celErrRE.FindAllStringSubmatch(msg, -1)
	if len(all) == 0 {
		return e
	}
	m := all[0]
	e.celLine, _ = strconv.Atoi(m[1])
	e.celCol, _ = strconv.Atoi(m[2])
	e.Msg = m[3]
	if len(all) > 1 {
		e.Msg += fmt.Sprintf(" (and %d more)", len(all)-1)
	}
	switch {
	case strings.Contains(e.Msg, "no matching overload") && strings.Contains(e.Msg, "double, int"):
		e.Hint = "aggregates are doubles: write 80.0, not 80, in == and arithmetic"
	case strings.Contains(e.Msg, "undeclared reference") && aggHint != "":
		e.Hint = aggHint
	case strings.Contains(e.Msg, "Syntax error"):
		e.Hint = "CEL syntax: avg_temp > 80 && n >= 10"
	}
	return e
}

func (v *validator) rules(celOK bool) {
	f := v.f
	for i, r := range f.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		v.claim(r.Name, p+".name")
		if r.Early && f.Window.Early == nil && len(f.Aggregates) > 0 {
			v.add(verr(p+".early", "the window has no early firings, so there are no early results to see",
				"add window.early: {every: 10s} or {count: 1000}, or remove early: true"))
		}
		if len(f.Aggregates) == 0 {
			if i == 0 {
				v.add(verr("rules", "rules need aggregates", "rules test window results: add aggregates: and a window:"))
			}
			continue
		}
		if !celOK || r.When == "" || r.Name == "" || v.hasErrUnder(p) {
			continue
		}
		cfg := f.ruleConfig(Options{})
		if ref, err := f.declaredReference(); err == nil {
			cfg.Reference = ref
		}
		cfg.Thresholds = cfg.Thresholds[i : i+1]
		cfg.Anomalies = nil
		cfg.Crossovers = nil
		set, err := rule.Compile(cfg)
		if err != nil {
			v.add(ruleError(p, err.Error(), f.aggHint()))
			continue
		}
		if err := set.CheckCost(); err != nil {
			for _, e := range unjoin(err) {
				v.add(ruleError(p, e.Error(), ""))
			}
		}
	}
}

// aggHint lists the aggregates rules can refer to.
func (f *Function) aggHint() string {
	names := make([]string, len(f.Aggregates))
	for i := range f.Aggregates {
		names[i] = f.Aggregates[i].name()
	}
	return "the aggregates are " + oneOf(names)
}

// ruleFields maps the field names rule errors use to YAML keys.
var ruleFields = map[string]string{"condition": "when", "clear": "clear", "for": "for",
	"keep_firing_for": "keep_firing_for", "name": "name", "aggregate": "aggregate", "method": "method",
	"window": "window", "threshold": "threshold", "alpha": "alpha", "warmup": "warmup", "direction": "direction",
	"of": "of", "fast": "fast", "slow": "slow", "average": "average", "min_spread": "min_spread"}

var ruleErrRE = regexp.MustCompile(`^rule "(?:[^"\\]|\\.)*": field (\w+): (?s)(.*)$`)

func ruleError(path, msg, aggHint string) *Error {
	m := ruleErrRE.FindStringSubmatch(msg)
	if m == nil {
		return verr(path, msg, "")
	}
	field := ruleFields[m[1]]
	if field == "" {
		field = m[1]
	}
	fp := path + "." + field
	if field == "when" || field == "clear" {
		return celError(fp, m[2], aggHint)
	}
	return verr(fp, m[2], "")
}

// numericAggregate checks that ref, at path, names one of the function's aggregates and that the
// aggregate is a number an anomaly detector or a crossover can follow from window to window, not a
// top-k list; instead is the hint for a top-k one.
func (v *validator) numericAggregate(path, ref, instead string) {
	var names []string
	found, topK := false, false
	for i := range v.f.Aggregates {
		a := &v.f.Aggregates[i]
		names = append(names, a.name())
		if a.name() == ref {
			found, topK = true, a.Op == aggregate.TopK
		}
	}
	switch {
	case !found:
		hint := "the aggregates are " + oneOf(names)
		if s := suggest(ref, names); s != "" {
			hint = "did you mean " + s + "?"
		}
		v.add(verr(path, fmt.Sprintf("no aggregate named %q", ref), hint))
	case topK:
		v.add(verr(path, fmt.Sprintf("%q is a top-k list, not a number", ref), instead))
	}
}

func (v *validator) anomalies() {
	f := v.f
	for i, a := range f.Anomalies {
		p := fmt.Sprintf("anomalies[%d]", i)
		v.claim(a.Name, p+".name")
		if len(f.Aggregates) == 0 {
			if i == 0 {
				v.add(verr("anomalies", "anomaly detectors need aggregates", "they watch a window aggregate: add aggregates: and a window:"))
			}
			continue
		}
		if a.Aggregate != "" {
			v.numericAggregate(p+".aggregate", a.Aggregate, "watch a numeric aggregate")
		}
		switch a.Method {
		case rule.ZScore:
			if a.Alpha != 0 {
				v.add(verr(p+".alpha", "applies to ewma, not zscore", "remove it"))
			}
			switch {
			case a.Window == 0:
				v.add(verr(p+".window", "zscore needs a window of previous values", "e.g. window: 30"))
			case a.Window < 2:
				v.add(verr(p+".window", fmt.Sprintf("%d values have no standard deviation", a.Window), "at least 2"))
			case a.Warmup > a.Window:
				v.add(verr(p+".warmup", fmt.Sprintf("%d is more than the window %d", a.Warmup, a.Window), "at most window"))
			case a.Warmup == 1:
				v.add(verr(p+".warmup", "1 value has no standard deviation", "at least 2"))
			}
		case rule.EWMA:
			if a.Window != 0 {
				v.add(verr(p+".window", "applies to zscore, not ewma", "ewma weighs all previous values: tune alpha instead"))
			}
			if !(a.Alpha > 0 && a.Alpha <= 1) {
				v.add(verr(p+".alpha", fmt.Sprintf("ewma needs alpha in (0, 1], got %v", a.Alpha), "e.g. alpha: 0.1"))
			}
		}
		if a.Threshold != 0 && !(a.Threshold > 0 && a.Threshold < 1e300) {
			v.add(verr(p+".threshold", fmt.Sprintf("%v is not a positive number", a.Threshold), "e.g. threshold: 3"))
		}
		if v.hasErrUnder(p) {
			continue
		}
		ra := f.anomalyConfig(i)
		if err := ra.Validate(); err != nil {
			v.add(ruleError(p, err.Error(), ""))
		}
	}
}

func (v *validator) crossovers() {
	f := v.f
	for i, c := range f.Crossovers {
		p := fmt.Sprintf("crossovers[%d]", i)
		v.claim(c.Name, p+".name")
		if len(f.Aggregates) == 0 {
			if i == 0 {
				v.add(verr("crossovers", "crossovers need aggregates", "they average a window aggregate: add e.g. {name: price, op: last, field: price} and a window:"))
			}
			continue
		}
		if c.Of != "" {
			v.numericAggregate(p+".of", c.Of, "average a numeric aggregate")
		}
		if c.Fast > 0 && c.Slow > 0 && c.Slow <= c.Fast {
			v.add(verr(p+".slow", fmt.Sprintf("%d is not more than fast (%d)", c.Slow, c.Fast), "the slow average is the longer one, e.g. fast: 5, slow: 20"))
		}
		if c.Slow > rule.MaxCrossoverSlow {
			v.add(verr(p+".slow", fmt.Sprintf("%d windows is more than the %d allowed", c.Slow, rule.MaxCrossoverSlow), "an SMA keeps slow values per key: use a longer window instead"))
		}
		if !(c.MinSpread >= 0 && c.MinSpread < 1) {
			v.add(verr(p+".min_spread", fmt.Sprintf("%v is outside [0, 1)", c.MinSpread), "a relative band: 0.001 is ten basis points"))
		}
		if v.hasErrUnder(p) {
			continue
		}
		rc := f.crossoverConfig(i)
		if err := rc.Validate(); err != nil {
			v.add(ruleError(p, err.Error(), ""))
		}
	}
}

func (v *validator) patterns() {
	for i, pt := range v.f.Patterns {
		p := fmt.Sprintf("patterns[%d]", i)
		v.claim(pt.Name, p+".name")
		if pt.Name == "" || len(pt.Steps) == 0 || v.hasErrUnder(p) {
			continue
		}
		var table core.FieldTable
		if _, err := pattern.Compile(v.f.patternConfig(i), &table); err != nil {
			v.add(patternError(p, err))
		}
	}
}

func patternError(path string, err error) *Error {
	var ce *pattern.CompileError
	if !errors.As(err, &ce) {
		return verr(path, err.Error(), "")
	}
	p := path
	if ce.Step >= 0 {
		p = fmt.Sprintf("%s.steps[%d]", path, ce.Step)
	}
	if ce.Field != "" {
		// The pattern package names fields by their YAML keys.
		p += "." + ce.Field
	}
	msg := ce.Err.Error()
	if ce.Field == "where" {
		e := celError(p, msg, "")
		if e.celLine > 0 && e.Hint == "CEL syntax: avg_temp > 80 && n >= 10" {
			e.Hint = "CEL syntax: value > 90.0 && status == \"ok\""
		}
		return e
	}
	return verr(p, msg, "")
}

func (v *validator) outputs() {
	o := &v.f.Outputs
	seen := map[string]bool{}
	for i, s := range o.Include {
		if seen[s] {
			v.add(verr(fmt.Sprintf("outputs.include[%d]", i), fmt.Sprintf("%s is listed twice", s), ""))
		}
		seen[s] = true
	}
	if o.Source != "" && o.Format != "cloudevents" {
		v.add(verr("outputs.source", "applies to cloudevents outputs", "set outputs.format: cloudevents, or remove it"))
	}
}

// windowSpec converts the window to the window package's form.
func (f *Function) windowSpec() window.Spec {
	s := f.windowKind()
	if e := f.Window.Early; e != nil {
		s.Early = window.Early{Every: e.Every, Count: e.Count}
	}
	return s
}

// windowKind converts the window kind to the window package's form.
func (f *Function) windowKind() window.Spec {
	w := &f.Window
	switch {
	case w.Tumbling != 0:
		return window.Spec{Kind: window.Tumbling, Size: w.Tumbling}
	case w.Sliding != nil:
		return window.Spec{Kind: window.Sliding, Size: w.Sliding.Size, Slide: w.Sliding.Slide}
	case w.Session != nil:
		return window.Spec{Kind: window.Session, Gap: w.Session.Gap, MaxDuration: w.Session.MaxDuration}
	case w.Count != nil:
		slide := w.Count.Slide
		if slide == w.Count.Size {
			slide = 0
		}
		return window.Spec{Kind: window.Count, Count: w.Count.Size, CountSlide: slide}
	case w.Global != nil:
		return window.Spec{Kind: window.Global}
	}
	return window.Spec{}
}

// ruleConfig converts the rules and anomalies to the rule package's form.
func (f *Function) ruleConfig(opts Options) rule.Config {
	cfg := rule.Config{CostLimit: f.Limits.CostLimit, IdleTTL: f.Limits.IdleTTL, Handlers: opts.Handlers}
	for i := range f.Aggregates {
		a := &f.Aggregates[i]
		ra := rule.Aggregate{Name: a.name(), List: a.Op == aggregate.TopK}
		if ra.List {
			ra.MaxItems = a.K
			if ra.MaxItems <= 0 {
				ra.MaxItems = 10
			}
		}
		cfg.Aggregates = append(cfg.Aggregates, ra)
	}
	for _, r := range f.Rules {
		cfg.Thresholds = append(cfg.Thresholds, rule.Threshold{
			Name: r.Name, Severity: r.Severity, Condition: r.When, Clear: r.Clear,
			ForWindows: r.For.Windows, ForDuration: r.For.Duration,
			KeepFiringForWindows: r.KeepFiringFor.Windows, KeepFiringFor: r.KeepFiringFor.Duration,
			EmitPending: r.EmitPending, ResetOnGap: r.ResetOnGap, EachWindow: r.EachWindow,
			Enrich: r.Enrich,
		})
	}
	for i := range f.Anomalies {
		cfg.Anomalies = append(cfg.Anomalies, f.anomalyConfig(i))
	}
	for i := range f.Crossovers {
		cfg.Crossovers = append(cfg.Crossovers, f.crossoverConfig(i))
	}
	return cfg
}

// splitEarly splits cfg into the rules that see final window results only and those that see early
// results too (rules with early: true), for two engines: their per-key state must not mix early
// and final results. The second is nil without early rules; the first nil when it has nothing.
func (f *Function) splitEarly(cfg rule.Config) (final, early *rule.Config) {
	if !slices.ContainsFunc(f.Rules, func(r Rule) bool { return r.Early }) {
		return &cfg, nil
	}
	e := cfg
	e.Thresholds, e.Anomalies, e.Crossovers, e.Handlers = nil, nil, nil, nil
	fin := cfg
	fin.Thresholds = nil
	for i, r := range f.Rules {
		if r.Early {
			e.Thresholds = append(e.Thresholds, cfg.Thresholds[i])
		} else {
			fin.Thresholds = append(fin.Thresholds, cfg.Thresholds[i])
		}
	}
	if len(fin.Thresholds) == 0 && len(fin.Anomalies) == 0 && len(fin.Crossovers) == 0 && len(fin.Handlers) == 0 {
		return nil, &e
	}
	return &fin, &e
}

func (f *Function) crossoverConfig(i int) rule.Crossover {
	c := f.Crossovers[i]
	return rule.Crossover{Name: c.Name, Severity: c.Severity, Of: c.Of, Fast: c.Fast, Slow: c.Slow,
		Average: c.Average, MinSpread: c.MinSpread}
}

func (f *Function) anomalyConfig(i int) rule.Anomaly {
	a := f.Anomalies[i]
	return rule.Anomaly{Name: a.Name, Severity: a.Severity, Aggregate: a.Aggregate, Method: a.Method,
		Window: a.Window, Threshold: a.Threshold, Alpha: a.Alpha, Warmup: a.Warmup, Direction: a.Direction}
}

// patternConfig converts pattern i to the pattern package's form.
func (f *Function) patternConfig(i int) pattern.Config {
	p := f.Patterns[i]
	ref, _ := f.declaredReference()
	cfg := pattern.Config{Reference: ref, Name: p.Name, Function: f.Name, Within: p.Within, Contiguity: p.Contiguity, Skip: p.Skip,
		Capture: p.Capture, MaxPartials: p.MaxPartials, MaxBuffered: p.MaxBuffered, KeyTTL: p.KeyTTL,
		IdleLag: p.IdleLag, CostLimit: p.CostLimit, Severity: p.Severity}
	for _, s := range p.Steps {
		cfg.Steps = append(cfg.Steps, pattern.Step{Name: s.Name, Where: s.Where, Times: s.Times, MinTimes: s.MinTimes,
			MaxTimes: s.MaxTimes, OneOrMore: s.OneOrMore, Contiguity: s.Contiguity, Absent: s.Absent, Within: s.Within})
	}
	return cfg
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// MaxWindowSlices bounds the slices of a sliding window (size over the greatest common divisor of
// size and slide): each key keeps one partial aggregate per slice, and every event updates one
// slice but every slide emits size/slide windows. W2 (5m sliding every 1s) is 300.
const MaxWindowSlices = 100_000

// sliceCount is how many slices of gcd(size, slide) a sliding window spans.
func sliceCount(size, slide time.Duration) int64 {
	a, b := int64(size), int64(slide)
	for b != 0 {
		a, b = b, a%b
	}
	if a <= 0 {
		return 0
	}
	return int64(size) / a
}

// minSlide is the shortest slide dividing size into at most MaxWindowSlices slices, rounded up to
// a readable unit.
func minSlide(size time.Duration) time.Duration {
	d := (size + MaxWindowSlices - 1) / MaxWindowSlices
	for _, u := range []time.Duration{time.Millisecond, time.Second, time.Minute, time.Hour, 24 * time.Hour} {
		if d <= u {
			return u
		}
	}
	return d.Round(24 * time.Hour)
}
