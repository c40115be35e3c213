package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/core/spec"
)

func newValidateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [FILE...]",
		Short: "Check function specs completely, without running them",
		Long: `validate parses each spec (./eddy.yaml when no file is given) and checks it as a deployment
would: unknown or misspelt fields, wrong types, bad durations, CEL conditions that do not compile,
combinations that make no sense. Every problem is reported, each as

  FILE:LINE:COLUMN: PATH: what is wrong (how to fix it)

and the exit code is 1 if any spec has a problem, 0 if all are valid.`,
		Example: `  eddy validate
  eddy validate examples/bench/w1.yaml examples/bench/w4.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{""}
			}
			bad := 0
			for _, path := range args {
				f, c, err := loadSpec(path)
				if err != nil {
					bad++
					var se specError
					if errors.As(err, &se) {
						fmt.Fprintln(e.stderr, se.es.Error())
					} else {
						fmt.Fprintf(e.stderr, "%v\n", err)
					}
					continue
				}
				if path == "" {
					path = defaultSpec
				}
				fmt.Fprintf(e.stdout, "%s: ok: function %s (%s)\n", path, c.Name(), describe(f))
				// Decided here, not per message: shown so a keyless stream holds no surprise.
				fmt.Fprintf(e.stdout, "  partitioning: %s\n", f.Partitioning())
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d specs invalid", bad, len(args))
			}
			return nil
		},
	}
}

// describe summarizes what a spec computes, in a few words.
func describe(f *spec.Function) string {
	w := ""
	switch {
	case f.Window.Tumbling > 0:
		w = "tumbling " + f.Window.Tumbling.String() + " windows"
	case f.Window.Sliding != nil:
		w = fmt.Sprintf("sliding %s/%s windows", f.Window.Sliding.Size, f.Window.Sliding.Slide)
	case f.Window.Session != nil:
		w = "session windows (gap " + f.Window.Session.Gap.String() + ")"
	case f.Window.Count != nil:
		w = fmt.Sprintf("count windows of %d", f.Window.Count.Size)
	case f.Window.Global != nil:
		w = "global windows"
	}
	parts := []string{w}
	for _, x := range []struct {
		n    int
		word string
	}{{len(f.Aggregates), "aggregate"}, {len(f.Rules), "rule"}, {len(f.Anomalies), "anomaly detector"}, {len(f.Crossovers), "crossover"}, {len(f.Patterns), "pattern"}} {
		if x.n > 0 {
			parts = append(parts, plural(x.n, x.word))
		}
	}
	return joinNonEmpty(parts...)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}
