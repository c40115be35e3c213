// Command schemagen writes the spec's JSON Schema (eddy.schema.json) from the spec types and their
// doc comments. Run it with go generate in core/spec.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/spec/internal/docs"
)

func main() {
	out := flag.String("o", "eddy.schema.json", "output file")
	dir := flag.String("dir", ".", "the spec package's directory (its doc comments are the descriptions)")
	flag.Parse()
	if err := run(*dir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}

func run(dir, out string) error {
	d, err := docs.Extract(dir)
	if err != nil {
		return err
	}
	b, err := spec.GenerateSchema(d)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
