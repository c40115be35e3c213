// Package docs extracts the doc comments of a Go package's types and struct fields, so the spec's
// JSON Schema can be generated from the same comments Go users read.
package docs

import (
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Extract parses the non-test Go files of the package in dir and returns the doc comment of every
// exported type ("Function") and struct field ("Function.Name"), as one paragraph each.
func Extract(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("docs: %w", err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("docs: %w", err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("docs: no Go files in %s", dir)
	}
	pkg, err := doc.NewFromFiles(fset, files, "x", doc.PreserveAST)
	if err != nil {
		return nil, fmt.Errorf("docs: %w", err)
	}
	out := map[string]string{}
	for _, t := range pkg.Types {
		out[t.Name] = Paragraph(t.Doc)
		for _, spec := range t.Decl.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, f := range st.Fields.List {
				for _, name := range f.Names {
					if name.IsExported() {
						out[ts.Name.Name+"."+name.Name] = Paragraph(f.Doc.Text())
					}
				}
			}
		}
	}
	return out, nil
}

// Paragraph joins a comment's lines into one line of text.
func Paragraph(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
