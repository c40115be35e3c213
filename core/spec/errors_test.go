package spec

import (
	"errors"
	"strings"
	"testing"
)

// base is a valid spec the error cases below change one part of.
const base = `name: machine-alarms
input:
  key: device.id
  time: ts
window:
  tumbling: 1m
aggregates:
  - {name: avg_temp, avg: temp}
  - {name: n, count: true}
`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"syntax", "name: [x\ninput: {}\n", []string{
			`eddy.yaml:2:1: invalid YAML: ',' or ']' must be specified`}},
		{"tab", "\tname: x\n", []string{
			`eddy.yaml:1:5: invalid YAML: tab character cannot use as a map key directly (indent with spaces)`}},
		{"duplicate key", "name: a\nname: b\n", []string{
			`eddy.yaml:2:1: invalid YAML: mapping key "name" already defined at [1:1]`}},
		{"empty", "# nothing\n", []string{
			`eddy.yaml: the spec is empty (start with name:, input: and window:)`}},
		{"two documents", base + "---\nname: other\n", []string{
			`eddy.yaml:11:1: a second YAML document (a spec is one document: one function per file)`}},
		{"not a mapping", "- name: x\n", []string{
			`eddy.yaml:1:1: expected a mapping (key: value lines), got a list`}},
		{"unknown field", strings.Replace(base, "  tumbling: 1m", "  tumbilng: 1m", 1), []string{
			`eddy.yaml:6:3: window.tumbilng: unknown field (did you mean tumbling?)`}},
		{"unknown field no suggestion", base + "zzz: 1\n", []string{
			`eddy.yaml:10:1: zzz: unknown field (known fields: name, description, input, window, aggregates, rules, anomalies, crossovers, patterns, limits, outputs, views, reference)`}},
		{"synonym", base + "rules:\n  - {name: hot, condition: avg_temp > 80}\n", []string{
			`eddy.yaml:11:17: rules[0].condition: unknown field (did you mean when?)`}},
		{"bad duration", strings.Replace(base, "tumbling: 1m", "sliding: {size: 5m, slide: 10x}", 1), []string{
			`eddy.yaml:6:30: window.sliding.slide: "10x" is not a duration (use e.g. 1s, 5m, 1h30m or 1d)`}},
		{"duration without unit", strings.Replace(base, "tumbling: 1m", "tumbling: 60", 1), []string{
			`eddy.yaml:6:13: window.tumbling: 60 has no unit (use e.g. 1s, 5m, 1h30m or 1d)`}},
		{"duration wrong type", strings.Replace(base, "tumbling: 1m", "tumbling: {size: 1m}", 1), []string{
			`eddy.yaml:6:13: window.tumbling: expected a duration, got a mapping (use e.g. 1s, 5m, 1h30m or 1d)`}},
		{"negative duration", strings.Replace(base, "tumbling: 1m", "tumbling: -1m", 1), []string{
			`eddy.yaml:6:13: window.tumbling: "-1m" is negative (use e.g. 1s, 5m, 1h30m or 1d)`}},
		{"wrong type string", strings.Replace(base, "key: device.id", "key: [device, id]", 1), []string{
			`eddy.yaml:3:8: input.key: expected a string, got a list`}},
		{"each_window with for", base + "rules:\n  - {name: hot, when: avg_temp > 80.0, each_window: true, for: 2}\n", []string{
			`eddy.yaml:11:64: rules[0].for: each_window judges every window on its own, without a state across windows: drop for or each_window`}},
		{"wrong type bool", base + "rules:\n  - {name: hot, when: avg_temp > 80.0, emit_pending: yes}\n", []string{
			`eddy.yaml:11:54: rules[0].emit_pending: expected true or false, got "yes"`}},
		{"wrong type int", strings.Replace(base, "tumbling: 1m", "count: {size: 2.5}", 1), []string{
			`eddy.yaml:6:17: window.count.size: expected an integer, got the number 2.5`}},
		{"bad enum", strings.Replace(base, "  key: device.id", "  format: jsno\n  key: device.id", 1), []string{
			`eddy.yaml:3:11: input.format: "jsno" is not one of json, cloudevents or raw (did you mean json?)`}},
		{"missing name", strings.Replace(base, "name: machine-alarms\n", "", 1), []string{
			`eddy.yaml:1:1: name: missing (every function has a name: name: machine-alarms)`}},
		{"bad name", strings.Replace(base, "machine-alarms", "machine alarms", 1), []string{
			`eddy.yaml:1:7: name: "machine alarms" is not a function name (letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters)`}},
		{"name too long", strings.Replace(base, "machine-alarms", strings.Repeat("m", 129), 1), []string{
			`eddy.yaml:1:7: name: "` + strings.Repeat("m", 129) + `" is not a function name (letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters)`}},
		{"no time", strings.Replace(base, "  time: ts\n", "", 1), []string{
			`eddy.yaml:3:3: input.time: missing: events need a time (time: <field path> for event time, or processing_time: true)`}},
		{"time and processing time", strings.Replace(base, "  time: ts\n", "  time: ts\n  processing_time: true\n", 1), []string{
			`eddy.yaml:5:20: input.processing_time: exclusive with time (and Options.TimeFunc) (keep one)`}},
		{"bad path", strings.Replace(base, "key: device.id", "key: device..id", 1), []string{
			`eddy.yaml:3:8: input.key: path "device..id": empty segment at byte 7 (use a dotted path (device.id), a["x.y"], $key, $time, $id or $attr.NAME)`}},
		{"ce path without cloudevents", strings.Replace(base, "key: device.id", "key: $ce.subject", 1), []string{
			`eddy.yaml:3:8: input.key: $ce.subject addresses a CloudEvents attribute, and the input format is json (set input.format: cloudevents)`}},
		{"no window kind", strings.Replace(base, "  tumbling: 1m\n", "  allowed_lateness: 5s\n", 1), []string{
			`eddy.yaml:6:3: window: no window kind (tumbling: 1m, sliding: {size: 5m, slide: 1s}, session: {gap: 30s}, count: {size: 100} or global: {})`}},
		{"two window kinds", strings.Replace(base, "  tumbling: 1m\n", "  tumbling: 1m\n  session: {gap: 30s}\n", 1), []string{
			`eddy.yaml:7:12: window.session: a window has one kind, and tumbling is set too (keep one)`}},
		{"slide above size", strings.Replace(base, "tumbling: 1m", "sliding: {size: 5m, slide: 10m}", 1), []string{
			`eddy.yaml:6:30: window.sliding.slide: 10m is longer than the size 5m (a window starts every slide and lasts size: slide must not exceed size)`}},
		{"sliding missing slide", strings.Replace(base, "tumbling: 1m", "sliding: {size: 5m}", 1), []string{
			`eddy.yaml:6:12: window.sliding.slide: missing`}},
		{"count slide", strings.Replace(base, "tumbling: 1m", "count: {size: 100, slide: 30}", 1), []string{
			`eddy.yaml:6:29: window.count.slide: the size 100 is not a multiple of the slide 30 (e.g. size: 100, slide: 10)`}},
		{"window without aggregates", "name: f\ninput: {time: ts}\nwindow: {tumbling: 1m}\n", []string{
			`eddy.yaml:1:1: the function computes nothing (add aggregates: (with a window:) or patterns:)`,
			`eddy.yaml:3:20: window.tumbling: a window without aggregates computes nothing (add aggregates:, or remove the window kind (patterns need none))`}},
		{"aggregate two ops", strings.Replace(base, "{name: n, count: true}", "{name: n, count: true, sum: x}", 1), []string{
			`eddy.yaml:9:28: aggregates[1].sum: the function is already given by count: (an aggregate computes one function: split it in two aggregates)`}},
		{"aggregate no op", strings.Replace(base, "{name: n, count: true}", "{name: n}", 1), []string{
			`eddy.yaml:9:5: aggregates[1]: no function (name it by its key (avg: temp, count: true, p99: latency) or with op: and field:)`}},
		{"aggregate unknown op", strings.Replace(base, "{name: n, count: true}", "{name: n, op: mean, field: x}", 1), []string{
			`eddy.yaml:9:19: aggregates[1].op: "mean" is not one of count, sum, min, max, avg, variance, stddev, first, last, quantile, distinct, topk or custom`}},
		{"aggregate needs field", strings.Replace(base, "{name: n, count: true}", "{name: n, op: sum}", 1), []string{
			`eddy.yaml:9:5: aggregates[1].field: sum needs a field (e.g. sum: temp)`}},
		{"quantile without q", strings.Replace(base, "{name: n, count: true}", "{name: p, quantile: latency}", 1), []string{
			`eddy.yaml:9:5: aggregates[1].q: quantile needs q (e.g. q: 0.99, or write p99: field)`}},
		{"q out of range", strings.Replace(base, "{name: n, count: true}", "{name: p, quantile: latency, q: 99}", 1), []string{
			`eddy.yaml:9:37: aggregates[1].q: 99 is outside [0, 1] (0.99 is the 99th percentile)`}},
		{"q on avg", strings.Replace(base, "{name: n, count: true}", "{name: n, avg: x, q: 0.5}", 1), []string{
			`eddy.yaml:9:26: aggregates[1].q: applies to quantile, not avg (remove it)`}},
		{"duplicate aggregate", strings.Replace(base, "{name: n, count: true}", "{name: avg_temp, max: temp}", 1), []string{
			`eddy.yaml:9:12: aggregates[1].name: "avg_temp" is also the name of aggregates[0] (give each aggregate its own name)`}},
		{"aggregate name not CEL", strings.Replace(base, "avg_temp", "avg-temp", 1) + "rules:\n  - {name: hot, when: n > 1}\n", []string{
			`eddy.yaml:8:12: aggregates[0].name: "avg-temp" is not a CEL identifier (letters, digits and _, not starting with a digit), and rules refer to aggregates by name (rename it, e.g. avg_temp)`}},
		{"aggregate name reserved", strings.Replace(base, "{name: n, count: true}", "{name: window, count: true}", 1) + "rules:\n  - {name: hot, when: avg_temp > 1}\n", []string{
			`eddy.yaml:9:12: aggregates[1].name: "window" is reserved in rule conditions, and rules refer to aggregates by name (rename it, e.g. window_value)`}},
		{"rule without aggregates", "name: f\ninput: {time: ts}\nrules:\n  - {name: r, when: x > 1}\npatterns:\n  - {name: p, steps: [{name: a}]}\n", []string{
			`eddy.yaml:4:3: rules: rules need aggregates (rules test window results: add aggregates: and a window:)`}},
		{"rule missing when", base + "rules:\n  - name: hot\n", []string{
			`eddy.yaml:11:5: rules[0].when: missing (the CEL condition that fires the rule, e.g. when: avg_temp > 80)`}},
		{"cel undeclared", base + "rules:\n  - name: hot\n    when: avg_tmp > 80 && n >= 10\n", []string{
			`eddy.yaml:12:11: rules[0].when: undeclared reference to 'avg_tmp' (did you mean 'avg_temp'?) (the aggregates are avg_temp or n)`}},
		{"cel position in quoted", base + "rules:\n  - name: hot\n    when: \"n >= 10 && bogus\"\n", []string{
			`eddy.yaml:12:23: rules[0].when: undeclared reference to 'bogus' (the aggregates are avg_temp or n)`}},
		{"cel position in block", base + "rules:\n  - name: hot\n    when: |\n      n >= 10 &&\n        avg_temp == 80\n", []string{
			`eddy.yaml:14:18: rules[0].when: found no matching overload for '_==_' applied to '(double, int)' (aggregates are doubles: write 80.0, not 80, in == and arithmetic)`}},
		{"cel syntax", base + "rules:\n  - {name: hot, when: avg_temp >, clear: avg_temp < 70.0}\n", []string{
			`eddy.yaml:11:33: rules[0].when: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} (CEL syntax: avg_temp > 80 && n >= 10)`}},
		{"where undeclared function", base + "  - {name: f, count: true, where: \"lower(outcome) == 'fail'\"}\n", []string{
			`eddy.yaml:10:41: aggregates[2].where: undeclared reference to 'lower' (where sees the payload fields by name, event.<path>, key and time, and CEL's standard functions)`}},
		{"where not bool", base + "  - name: f\n    sum: price\n    where: price * 2.0\n", []string{
			`eddy.yaml:12:12: aggregates[2].where: condition must be of type bool, got double: price * 2.0`}},
		{"where syntax", base + "  - {name: f, count: true, where: outcome ==}\n", []string{
			`eddy.yaml:10:45: aggregates[2].where: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} (CEL syntax: outcome == "fail" && amount > 100.0)`}},
		{"where bare event", base + "  - {name: f, count: true, where: event}\n", []string{
			`eddy.yaml:10:35: aggregates[2].where: event must be followed by a field path, as in event.value`}},
		{"cel not bool", base + "rules:\n  - {name: hot, when: avg_temp + 1.0}\n", []string{
			`eddy.yaml:11:23: rules[0].when: condition must be of type bool, got double: avg_temp + 1.0`}},
		{"bad for", base + "rules:\n  - {name: hot, when: n > 1, for: 3x}\n", []string{
			`eddy.yaml:11:35: rules[0].for: "3x" is neither a number of windows nor a duration (use a number of windows (3) or a duration (5m))`}},
		{"duplicate rule names", base + "rules:\n  - {name: hot, when: n > 1}\nanomalies:\n  - {name: hot, aggregate: n, method: ewma, alpha: 0.5, threshold: 3}\n", []string{
			`eddy.yaml:13:12: anomalies[0].name: "hot" is also the name of rules[0] (rules, anomalies, crossovers and patterns need distinct names: decisions carry them)`}},
		{"anomaly unknown aggregate", base + "anomalies:\n  - {name: a, aggregate: avg_tmp, method: zscore, window: 10, threshold: 3}\n", []string{
			`eddy.yaml:11:26: anomalies[0].aggregate: no aggregate named "avg_tmp" (did you mean avg_temp?)`}},
		{"anomaly zscore window", base + "anomalies:\n  - {name: a, aggregate: n, method: zscore, threshold: 3}\n", []string{
			`eddy.yaml:11:5: anomalies[0].window: zscore needs a window of previous values (e.g. window: 30)`}},
		{"anomaly ewma alpha", base + "anomalies:\n  - {name: a, aggregate: n, method: ewma, threshold: 3, window: 5}\n", []string{
			`eddy.yaml:11:5: anomalies[0].alpha: ewma needs alpha in (0, 1], got 0 (e.g. alpha: 0.1)`,
			`eddy.yaml:11:65: anomalies[0].window: applies to zscore, not ewma (ewma weighs all previous values: tune alpha instead)`}},
		{"crossover unknown aggregate", base + "crossovers:\n  - {name: x, of: avg_tmp, fast: 5, slow: 20}\n", []string{
			`eddy.yaml:11:19: crossovers[0].of: no aggregate named "avg_tmp" (did you mean avg_temp?)`}},
		{"crossover lengths and band", base + "crossovers:\n  - {name: x, of: avg_temp, fast: 20, slow: 5, min_spread: 1.5}\n", []string{
			`eddy.yaml:11:45: crossovers[0].slow: 5 is not more than fast (20) (the slow average is the longer one, e.g. fast: 5, slow: 20)`,
			`eddy.yaml:11:60: crossovers[0].min_spread: 1.5 is outside [0, 1) (a relative band: 0.001 is ten basis points)`}},
		{"crossover missing lengths", base + "crossovers:\n  - name: x\n    of: avg_temp\n", []string{
			`eddy.yaml:11:5: crossovers[0].fast: missing (the lengths of the averages in windows, e.g. fast: 5, slow: 20)`,
			`eddy.yaml:11:5: crossovers[0].slow: missing (the lengths of the averages in windows, e.g. fast: 5, slow: 20)`}},
		{"crossover too long, bad average", base + "crossovers:\n  - {name: x, of: avg_temp, fast: 5, slow: 20000, average: wma}\n", []string{
			`eddy.yaml:11:44: crossovers[0].slow: 20000 windows is more than the 10000 allowed (an SMA keeps slow values per key: use a longer window instead)`,
			`eddy.yaml:11:60: crossovers[0].average: "wma" is not one of sma or ema (did you mean sma?)`}},
		{"crossover name taken", base + "rules:\n  - {name: hot, when: n > 1}\ncrossovers:\n  - {name: hot, of: n, fast: 1, slow: 2}\n", []string{
			`eddy.yaml:13:12: crossovers[0].name: "hot" is also the name of rules[0] (rules, anomalies, crossovers and patterns need distinct names: decisions carry them)`}},
		{"crossover without aggregates", "name: f\ninput: {time: ts}\ncrossovers:\n  - {name: r, of: x, fast: 1, slow: 2}\npatterns:\n  - {name: p, steps: [{name: a}]}\n", []string{
			`eddy.yaml:4:3: crossovers: crossovers need aggregates (they average a window aggregate: add e.g. {name: price, op: last, field: price} and a window:)`}},
		{"crossover of a non-identifier", strings.Replace(base, "avg_temp", "avg-temp", 1) + "crossovers:\n  - {name: x, of: n, fast: 1, slow: 2}\n", []string{
			`eddy.yaml:8:12: aggregates[0].name: "avg-temp" is not a CEL identifier (letters, digits and _, not starting with a digit), and rules refer to aggregates by name (rename it, e.g. avg_temp)`}},
		{"pattern bad where", base + "patterns:\n  - name: p\n    steps:\n      - {name: a, where: value > }\n", []string{
			`eddy.yaml:13:33: patterns[0].steps[0].where: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} (CEL syntax: value > 90.0 && status == "ok")`}},
		{"pattern absent not last", base + "patterns:\n  - name: p\n    steps:\n      - {name: a, absent: true, within: 1m}\n      - {name: b}\n", []string{
			`eddy.yaml:13:27: patterns[0].steps[0].absent: only the last step may be absent`}},
		{"pattern reserved step", base + "patterns:\n  - name: p\n    steps: [{name: key}]\n", []string{
			`eddy.yaml:12:20: patterns[0].steps[0].name: step name "key" is reserved`}},
		{"outputs", base + "outputs:\n  include: [window, decisions, window]\n  source: x\n", []string{
			`eddy.yaml:11:21: outputs.include[1]: "decisions" is not one of window, decision or late (did you mean decision?)`,
			`eddy.yaml:11:32: outputs.include[2]: window is listed twice`,
			`eddy.yaml:12:11: outputs.source: applies to cloudevents outputs (set outputs.format: cloudevents, or remove it)`}},
		{"unknown anchor", base + "limits: *nope\n", []string{
			`eddy.yaml:10:9: limits: unknown anchor *nope (define it first with &nope)`}},
		{"many at once", "name: x\ninput:\n  formt: json\n  time: ts\nwindow:\n  tumbling: 5\naggregates:\n  - {avg: }\n", []string{
			`eddy.yaml:3:3: input.formt: unknown field (did you mean format?)`,
			`eddy.yaml:6:13: window.tumbling: 5 has no unit (use e.g. 1s, 5m, 1h30m or 1d)`,
			`eddy.yaml:8:10: aggregates[0].avg: expected a field path, got nothing (the field to read, e.g. avg: temp)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("eddy.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", f)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if f != nil {
				t.Errorf("Parse returned a function along with errors")
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	f, err := Parse("eddy.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "machine-alarms" || f.Window.Tumbling.String() != "1m0s" || len(f.Aggregates) != 2 ||
		f.Aggregates[0] != (Aggregate{Name: "avg_temp", Op: "avg", Field: "temp"}) || f.Aggregates[1] != (Aggregate{Name: "n", Op: "count"}) {
		t.Fatalf("decoded %+v", f)
	}
}
