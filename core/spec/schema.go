package spec

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/eddyhq/eddy/internal/aggregate"
)

//go:embed eddy.schema.json
var schemaJSON []byte

// Schema returns the spec's JSON Schema (draft 2020-12), for editors: point the YAML language
// server at it with a "# yaml-language-server: $schema=eddy.schema.json" comment.
func Schema() []byte { return append([]byte(nil), schemaJSON...) }

const durationPattern = `^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w))+)$`

// GenerateSchema builds the JSON Schema of Function by reflection over the spec types: keys from
// the yaml tags, enumerations and defaults from the enum and default tags, descriptions from docs
// (doc comments keyed "Type" and "Type.Field", as internal/docs extracts them). Every type and
// field must have one. go generate uses it to write eddy.schema.json; Schema returns that file.
func GenerateSchema(docs map[string]string) ([]byte, error) {
	g := &schemaGen{docs: docs, defs: map[string]any{}}
	root := g.typ(reflect.TypeFor[Function]())
	g.defs["Duration"] = map[string]any{
		"description": "A duration: a number and a unit (ns, us, ms, s, m, h, d, w), repeated: 500ms, 30s, 5m, 1h30m, 1d. 0 is zero.",
		"anyOf": []any{
			map[string]any{"type": "string", "pattern": durationPattern},
			map[string]any{"const": 0},
		},
	}
	if len(g.missing) > 0 {
		sort.Strings(g.missing)
		return nil, fmt.Errorf("spec: no doc comment for %s", strings.Join(g.missing, ", "))
	}
	s := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       "eddy function spec",
		"description": g.doc("Function"),
		"$ref":        root["$ref"],
		"$defs":       g.defs,
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type schemaGen struct {
	docs    map[string]string
	defs    map[string]any
	missing []string
}

func (g *schemaGen) doc(key string) string {
	d := g.docs[key]
	if d == "" {
		g.missing = append(g.missing, key)
	}
	return d
}

// typ returns the schema of t (a $ref for struct types, defined once in $defs).
func (g *schemaGen) typ(t reflect.Type) map[string]any {
	switch t {
	case durationType:
		return map[string]any{"$ref": "#/$defs/Duration"}
	case holdType:
		g.doc("Hold")
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 0, "description": "a number of consecutive windows"},
			map[string]any{"$ref": "#/$defs/Duration"},
		}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typ(t.Elem())
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.typ(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Uint8, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Struct:
		name := t.Name()
		ref := map[string]any{"$ref": "#/$defs/" + name}
		if _, done := g.defs[name]; done {
			return ref
		}
		def := map[string]any{"type": "object", "additionalProperties": false, "description": g.doc(name)}
		g.defs[name] = def
		props := map[string]any{}
		var required []string
		for _, fi := range fieldsOf(t) {
			p := g.typ(fi.sf.Type)
			p = withDoc(p, g.doc(name+"."+fi.sf.Name))
			if len(fi.enum) > 0 {
				if p["type"] == "array" {
					p["items"] = map[string]any{"type": "string", "enum": fi.enum}
				} else {
					p["enum"] = fi.enum
				}
			}
			if fi.def != "" {
				p["default"] = fi.def
			}
			props[fi.name] = p
			if fi.required {
				required = append(required, fi.name)
			}
		}
		if t == aggType {
			g.aggregateShorthands(props, def)
		}
		def["properties"] = props
		if len(required) > 0 {
			def["required"] = required
		}
		return ref
	}
	panic(fmt.Sprintf("spec: no schema for %s", t))
}

// withDoc adds a description; a $ref gets wrapped, since siblings of $ref are ignored by some
// editors.
func withDoc(p map[string]any, doc string) map[string]any {
	if _, isRef := p["$ref"]; isRef {
		return map[string]any{"allOf": []any{p}, "description": doc}
	}
	p["description"] = doc
	return p
}

// aggregateShorthands documents the compact aggregate form: the function as the key, the field as
// the value.
func (g *schemaGen) aggregateShorthands(props map[string]any, def map[string]any) {
	for _, op := range aggregate.Ops {
		d := fmt.Sprintf("Shorthand for op: %s with this field.", op)
		p := map[string]any{"type": "string", "description": d}
		if op == aggregate.Count {
			p = map[string]any{"description": "count: true counts events; count: FIELD counts events whose field is a number.",
				"anyOf": []any{map[string]any{"const": true}, map[string]any{"type": "string"}}}
		}
		props[string(op)] = p
	}
	def["patternProperties"] = map[string]any{
		percentileRE.String(): map[string]any{"type": "string",
			"description": "Shorthand for a quantile of this field: p50, p90, p99, p999 (99.9%)."},
	}
}

// Describe writes every spec field with its type and documentation, in spec order, for
// `eddy validate --explain`.
func Describe(w io.Writer) error {
	var s struct {
		Defs map[string]struct {
			Description string                     `json:"description"`
			Properties  map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schemaJSON, &s); err != nil {
		return fmt.Errorf("spec: embedded schema: %w", err)
	}
	var walk func(t reflect.Type, prefix string) error
	walk = func(t reflect.Type, prefix string) error {
		def := s.Defs[t.Name()]
		for _, fi := range fieldsOf(t) {
			var p struct {
				Description string `json:"description"`
			}
			_ = json.Unmarshal(def.Properties[fi.name], &p)
			ft := fi.sf.Type
			path := prefix + fi.name
			kind := typeWord(ft)
			if len(fi.enum) > 0 {
				kind += ": " + strings.Join(fi.enum, " | ")
			}
			if fi.def != "" {
				kind += ", default " + fi.def
			}
			if fi.required {
				kind += ", required"
			}
			if _, err := fmt.Fprintf(w, "%s (%s)\n    %s\n", path, kind, p.Description); err != nil {
				return err
			}
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				if ft.Kind() == reflect.Slice {
					path += "[]"
				}
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != durationType && ft != holdType {
				if err := walk(ft, path+"."); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(reflect.TypeFor[Function](), "")
}

func typeWord(t reflect.Type) string {
	switch t {
	case durationType:
		return "duration"
	case holdType:
		return "windows or duration"
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Struct:
		return "mapping"
	case reflect.Slice:
		return "list of " + typeWord(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Float64:
		return "number"
	}
	return "integer"
}
