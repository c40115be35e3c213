package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// replayCompare runs the spec at o.compare (the old version) and o.spec (the new one) over the
// same input and reports the decisions that differ: by rule, key and window, those only the new
// version makes (added), those only the old one made (removed) and those both make differently
// (changed: another state, severity, time, values or id). The report goes to --output as JSON
// lines, a summary to stderr.
func replayCompare(ctx context.Context, e *env, o replayOpts) error {
	if o.input == "-" {
		return usagef("--compare replays the input twice: it needs a file or an archive, not stdin")
	}
	if o.deadLetter != "" {
		return usagef("--compare reports decisions only: drop --dead-letter")
	}
	newSpec := o.spec
	if newSpec == "" {
		newSpec = defaultSpec
	}
	var sums [2]string
	var got [2]map[decisionSlot][]json.RawMessage
	for i, path := range []string{o.compare, newSpec} {
		run := o
		run.spec, run.compare, run.output = path, "", ""
		dc := &decisionCollector{}
		var errb bytes.Buffer
		if err := replay(ctx, &env{stdin: e.stdin, stdout: dc, stderr: &errb, stderrTTY: e.stderrTTY}, run); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := dc.flush(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		got[i] = dc.slots
		sums[i] = strings.TrimSpace(errb.String())
	}
	out, closeOut, err := openOutput(e, o.output)
	if err != nil {
		return err
	}
	rep := diffDecisions(got[0], got[1])
	for _, c := range rep {
		b, _ := json.Marshal(c)
		if _, err := out.Write(append(b, '\n')); err != nil {
			closeOut()
			return fmt.Errorf("write output: %w", err)
		}
	}
	if err := closeOut(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	var n [3]int
	for _, c := range rep {
		switch c.Change {
		case "added":
			n[0]++
		case "removed":
			n[1]++
		default:
			n[2]++
		}
	}
	fmt.Fprintf(e.stderr, "old %s: %s\nnew %s: %s\n%d decision slots (rule, key, window) differ: %d added, %d removed, %d changed\n",
		o.compare, sums[0], newSpec, sums[1], len(rep), n[0], n[1], n[2])
	return nil
}

// decisionSlot is where a decision belongs: its rule, key and window.
type decisionSlot struct {
	Rule, Key, Start, End string
}

// decisionChange is one line of a comparison's report.
type decisionChange struct {
	Change string `json:"change"` // added, removed or changed
	Rule   string `json:"rule"`
	Key    string `json:"key"`
	Window struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"window"`
	// Old and New are the decisions of the slot, as each version wrote them (ids included).
	Old []json.RawMessage `json:"old,omitempty"`
	New []json.RawMessage `json:"new,omitempty"`
}

// decisionCollector keeps the decisions of a replay's output, by slot, in order.
type decisionCollector struct {
	part  []byte
	slots map[decisionSlot][]json.RawMessage
	err   error
}

func (d *decisionCollector) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.part = append(d.part, p...)
			break
		}
		line := p[:i]
		if len(d.part) > 0 {
			line = append(d.part, line...)
			d.part = d.part[:0]
		}
		d.line(line)
		p = p[i+1:]
	}
	return n, d.err
}

func (d *decisionCollector) flush() error {
	if len(d.part) > 0 {
		d.line(d.part)
		d.part = nil
	}
	return d.err
}

// line files one output line when it is a decision (plain, or the data of a CloudEvent).
func (d *decisionCollector) line(l []byte) {
	if !bytes.Contains(l, []byte(`"decision"`)) {
		return
	}
	var dec struct {
		Type, Rule, Key string
		Window          struct{ Start, End string }
		Data            json.RawMessage
	}
	if err := json.Unmarshal(l, &dec); err != nil {
		d.err = fmt.Errorf("read decision %q: %w", l, err)
		return
	}
	raw := json.RawMessage(bytes.Clone(l))
	if dec.Type != "decision" && len(dec.Data) > 0 {
		raw = bytes.Clone(dec.Data)
		if err := json.Unmarshal(dec.Data, &dec); err != nil {
			return
		}
	}
	if dec.Type != "decision" {
		return
	}
	if d.slots == nil {
		d.slots = map[decisionSlot][]json.RawMessage{}
	}
	s := decisionSlot{dec.Rule, dec.Key, dec.Window.Start, dec.Window.End}
	d.slots[s] = append(d.slots[s], raw)
}

// diffDecisions lists the slots whose decisions differ, by rule, key and window.
func diffDecisions(old, new map[decisionSlot][]json.RawMessage) []decisionChange {
	var out []decisionChange
	add := func(s decisionSlot, change string, o, n []json.RawMessage) {
		c := decisionChange{Change: change, Rule: s.Rule, Key: s.Key, Old: o, New: n}
		c.Window.Start, c.Window.End = s.Start, s.End
		out = append(out, c)
	}
	for s, o := range old {
		n, ok := new[s]
		switch {
		case !ok:
			add(s, "removed", o, nil)
		case !slices.EqualFunc(o, n, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }):
			add(s, "changed", o, n)
		}
	}
	for s, n := range new {
		if _, ok := old[s]; !ok {
			add(s, "added", nil, n)
		}
	}
	slices.SortFunc(out, func(a, b decisionChange) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Window.Start, b.Window.Start),
			cmp.Compare(a.Window.End, b.Window.End))
	})
	return out
}

var _ io.Writer = (*decisionCollector)(nil)
