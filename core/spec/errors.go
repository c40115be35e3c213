package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem with a spec: where it is, which field, what is wrong and how to fix it.
type Error struct {
	// File is the spec's name as given to Parse or Load ("" for a Function built in Go).
	File string
	// Line and Column locate the problem in the file, from 1 (0 when unknown).
	Line, Column int
	// Path names the field: "window.sliding.slide", "rules[0].when" ("" for the whole spec).
	Path string
	// Msg says what is wrong.
	Msg string
	// Hint, when set, says how to fix it.
	Hint string

	// Err, when set, is the error behind Msg (a reference table's *reftable.ParseError).
	Err error

	// celLine and celCol locate a CEL error inside the expression at Path.
	celLine, celCol int
}

// Error formats the error as file:line:column: path: message (hint).
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the error behind the problem, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in a spec, in file order. Parse, Load, Validate and Compile
// return one as their error; use errors.As to get at the entries.
type Errors []*Error

// Unwrap returns the entries, so that errors.As finds the errors behind them.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Error joins the errors, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// err orders the errors by position (stably, so those without one keep their order) and returns
// them as an error, or nil for none, so that no error stays a nil interface.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return es
}

// suggest returns the candidate closest to s by edit distance, if it is close enough to be a
// plausible typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	// Allow about one edit per three characters, at least one; a prefix or suffix of a candidate
	// (temp for temperature) counts too.
	limit := max(1, len(s)/3)
	if bestD <= limit {
		return best
	}
	for _, c := range candidates {
		if len(s) >= 3 && (strings.HasPrefix(c, s) || strings.HasPrefix(s, c) && len(c) >= 3) {
			return c
		}
	}
	return ""
}

// editDistance is the Damerau-Levenshtein (optimal string alignment) distance, so a transposition
// (tumbilng) costs one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// oneOf formats a list of choices for a message: "a, b or c".
func oneOf(choices []string) string {
	switch len(choices) {
	case 0:
		return ""
	case 1:
		return choices[0]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}
