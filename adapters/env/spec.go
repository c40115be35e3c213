package env

import (
	"context"
	"fmt"

	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/view"
)

// Spec compiles a function spec (eddy.yaml, as spec.Parse or spec.Load return it) into a Function
// that is also a Keyer, for every adapter's Start.
func Spec(f *spec.Function) (Function, error) {
	c, err := f.Compile(spec.Options{})
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", f.Name, err)
	}
	if c.Reference() != nil {
		// Reference tables reload in the background for the life of the instance; a failed
		// reload keeps the last good table.
		go func() { _ = c.RunReference(context.Background()) }()
	}
	return &specFunction{f: f, c: c}, nil
}

// ParseSpec parses and compiles a spec's YAML (name names it in errors, e.g. "eddy.yaml").
func ParseSpec(name string, yaml []byte) (Function, error) {
	f, err := spec.Parse(name, yaml)
	if err != nil {
		return nil, err
	}
	return Spec(f)
}

type specFunction struct {
	f *spec.Function
	c *spec.Compiled
}

func (s *specFunction) Name() string { return s.c.Name() }

func (s *specFunction) NewProcessor(string) (runner.Processor, error) { return s.c.NewPipeline() }

func (s *specFunction) Views() ([]view.Def, *view.Catalog, string) {
	return s.f.ViewDefs(), s.f.ViewCatalog(), s.f.Outputs.ViewStore
}

func (s *specFunction) KeyConfig() codec.Config {
	return codec.Config{Format: s.f.Input.Format, Key: s.f.Input.Key, ProcessingTime: true}
}
