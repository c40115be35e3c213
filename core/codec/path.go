package codec

import (
	"errors"
	"fmt"
	"strings"
)

// Source tells where a path's value comes from.
type Source uint8

// Path sources.
const (
	// Payload is a field of the decoded payload (for cloudevents, of the event data).
	Payload Source = iota
	// RecordKey is the transport's partition or ordering key ($key).
	RecordKey
	// RecordTime is the transport's arrival time ($time).
	RecordTime
	// RecordID is the record id ($id).
	RecordID
	// Attr is a transport attribute ($attr.NAME).
	Attr
	// CloudEvent is a CloudEvents attribute ($ce.NAME), for the cloudevents format.
	CloudEvent
)

// Path is a parsed field path.
//
// Syntax:
//
//	a.b.c          nested object members
//	items.0.price  array element 0 (a segment of decimal digits without leading zeros also matches an
//	               object member of that name, as JSON producers are not consistent)
//	a["x.y"].b     a quoted member name: inside ["..."] a backslash escapes '"' and '\'; use it for
//	               names holding '.', '[', a leading '$', or an empty name
//	$key           Record.Key, the transport partition/ordering key
//	$time          Record.Time, the transport arrival time (as a field: unix milliseconds)
//	$id            Record.ID
//	$attr.NAME     the transport attribute NAME (the rest of the path, dots included, verbatim;
//	               an exact match is preferred, else the first case-insensitive one)
//	$ce.NAME       the CloudEvents attribute NAME (format cloudevents; case-insensitive)
type Path struct {
	Source Source
	// Name is the attribute name for Attr and CloudEvent paths.
	Name string
	// Segments are the member names (or array indexes) of a Payload path.
	Segments []string
}

var errEmptyPath = errors.New("empty path")

// ParsePath parses a field path (see Path for the syntax).
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, errEmptyPath
	}
	if s[0] == '$' {
		return parseSpecial(s)
	}
	var segs []string
	i := 0
	for {
		if i < len(s) && s[i] == '[' {
			seg, n, err := parseQuoted(s, i)
			if err != nil {
				return Path{}, fmt.Errorf("path %q: %w", s, err)
			}
			segs = append(segs, seg)
			i = n
		} else {
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i {
				return Path{}, fmt.Errorf("path %q: empty segment at byte %d", s, i)
			}
			segs = append(segs, s[i:j])
			i = j
		}
		if i == len(s) {
			return Path{Source: Payload, Segments: segs}, nil
		}
		switch s[i] {
		case '.':
			i++
			if i == len(s) {
				return Path{}, fmt.Errorf("path %q: trailing '.'", s)
			}
			if s[i] == '[' {
				return Path{}, fmt.Errorf("path %q: '.' before '[' at byte %d", s, i)
			}
		case '[':
		default:
			return Path{}, fmt.Errorf("path %q: unexpected %q at byte %d after ']'", s, s[i], i)
		}
	}
}

// parseQuoted parses ["..."] at s[i] and returns the name and the index after ']'.
func parseQuoted(s string, i int) (string, int, error) {
	if i+1 >= len(s) || s[i+1] != '"' {
		return "", 0, fmt.Errorf("want '\"' after '[' at byte %d", i)
	}
	var b strings.Builder
	for j := i + 2; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
				b.WriteByte(s[j+1])
				j++
				continue
			}
			return "", 0, fmt.Errorf("invalid escape at byte %d (only \\\" and \\\\)", j)
		case '"':
			if j+1 >= len(s) || s[j+1] != ']' {
				return "", 0, fmt.Errorf("want ']' after quoted name at byte %d", j+1)
			}
			return b.String(), j + 2, nil
		default:
			b.WriteByte(s[j])
		}
	}
	return "", 0, fmt.Errorf("unterminated [\" at byte %d", i)
}

func parseSpecial(s string) (Path, error) {
	switch s {
	case "$key":
		return Path{Source: RecordKey}, nil
	case "$time":
		return Path{Source: RecordTime}, nil
	case "$id":
		return Path{Source: RecordID}, nil
	}
	if name, ok := strings.CutPrefix(s, "$attr."); ok && name != "" {
		return Path{Source: Attr, Name: name}, nil
	}
	if name, ok := strings.CutPrefix(s, "$ce."); ok && name != "" {
		return Path{Source: CloudEvent, Name: strings.ToLower(name)}, nil
	}
	return Path{}, fmt.Errorf("path %q: unknown source (want $key, $time, $id, $attr.NAME or $ce.NAME; "+
		"quote a payload member starting with '$' as [\"%s\"])", s, s)
}

// String returns the path in canonical form; ParsePath(p.String()) gives p back.
func (p Path) String() string {
	switch p.Source {
	case RecordKey:
		return "$key"
	case RecordTime:
		return "$time"
	case RecordID:
		return "$id"
	case Attr:
		return "$attr." + p.Name
	case CloudEvent:
		return "$ce." + p.Name
	}
	var b strings.Builder
	for i, seg := range p.Segments {
		if bare(seg, i == 0) {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg)
			continue
		}
		b.WriteString(`["`)
		for j := 0; j < len(seg); j++ {
			if seg[j] == '"' || seg[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(seg[j])
		}
		b.WriteString(`"]`)
	}
	return b.String()
}

func bare(seg string, first bool) bool {
	if seg == "" || (first && seg[0] == '$') {
		return false
	}
	return !strings.ContainsAny(seg, ".[")
}

// index returns the array index a segment addresses, or -1.
func index(seg string) int {
	if seg == "" || len(seg) > 9 || (seg[0] == '0' && len(seg) > 1) {
		return -1
	}
	n := 0
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return -1
		}
		n = n*10 + int(seg[i]-'0')
	}
	return n
}
