package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/core/spec/internal/docs"
)

// The committed schema must be what go generate writes from the current types and doc comments.
func TestSchemaIsFresh(t *testing.T) {
	d, err := docs.Extract(".")
	if err != nil {
		t.Fatal(err)
	}
	want, err := GenerateSchema(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("eddy.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("eddy.schema.json is stale: run go generate ./core/spec")
	}
	if !bytes.Equal(Schema(), want) {
		t.Fatal("the embedded schema differs from eddy.schema.json")
	}
}

func TestGenerateSchemaNeedsDocs(t *testing.T) {
	d, err := docs.Extract(".")
	if err != nil {
		t.Fatal(err)
	}
	delete(d, "Rule.When")
	if _, err := GenerateSchema(d); err == nil || !strings.Contains(err.Error(), "Rule.When") {
		t.Fatalf("a field without a doc comment: %v", err)
	}
}

func TestSchemaContent(t *testing.T) {
	var s struct {
		Schema string `json:"$schema"`
		Ref    string `json:"$ref"`
		Defs   map[string]struct {
			Properties map[string]struct {
				Description string   `json:"description"`
				Enum        []string `json:"enum"`
			} `json:"properties"`
			Required []string `json:"required"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.Ref != "#/$defs/Function" {
		t.Fatalf("header: %q %q", s.Schema, s.Ref)
	}
	fn := s.Defs["Function"]
	if !strings.HasPrefix(fn.Properties["name"].Description, "Name identifies the function") ||
		strings.Join(fn.Required, ",") != "name,input" {
		t.Errorf("Function: %+v", fn)
	}
	if e := s.Defs["Input"].Properties["format"].Enum; strings.Join(e, ",") != "json,cloudevents,raw" {
		t.Errorf("input.format enum %v", e)
	}
	if _, ok := s.Defs["Aggregate"].Properties["avg"]; !ok {
		t.Error("the aggregate shorthand avg: is not in the schema")
	}
}

func TestDescribe(t *testing.T) {
	var b strings.Builder
	if err := Describe(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"name (string, required)\n    Name identifies the function",
		"input.format (string: json | cloudevents | raw, default json)\n",
		"window.sliding.slide (duration, required)\n    Slide is how often a window starts; at most size.\n",
		"rules[].for (windows or duration)\n",
		"patterns[].steps[].where (string)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Describe lacks %q", want)
		}
	}
}
