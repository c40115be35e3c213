package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/core/eddytest"
)

func newTestCmd(e *env) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [FILE...]",
		Short: "Run a function's YAML test cases: events in, expected outputs out, no Go",
		Long: `test runs the cases of each test file (./eddy_test.yaml when no file is given), as promtool
runs rule tests. A file names the spec (default eddy.yaml beside it) and lists cases:

  spec: eddy.yaml
  tests:
    - name: a hot press fires
      batch: 2                # records per invocation (default 7); partitions: N spreads keys
      events:                 # or input: events.ndjson
        - {machine: press-2, ts: 1767225600000, temp: 97}
        - {machine: press-2, ts: 1767225611000, temp: 70}
      expect:                 # in this order; each matches an output having these members
        - {type: decision, rule: hot, key: press-2, state: firing}
      expect_none:            # outputs that must not come out
        - {type: decision, key: press-1}
      exact: false            # true: nothing else of the expected types may come out

Each case runs in one invocation, in invocations of --batch records, and with the state saved and
restored between them; the three must agree. Dead letters are outputs of type "deadletter".
The exit code is 1 if any case fails.`,
		Example: `  eddy test
  eddy test core/eddytest/testdata/eddy_test.yaml -v`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"eddy_test.yaml"}
			}
			passed, failed := 0, 0
			for _, path := range args {
				outs, err := eddytest.RunSuite(path)
				if err != nil {
					return err
				}
				for _, o := range outs {
					if len(o.Problems) == 0 {
						passed++
						fmt.Fprintf(e.stdout, "PASS %s: %s\n", path, o.Name)
					} else {
						failed++
						fmt.Fprintf(e.stdout, "FAIL %s: %s\n    %s\n", path, o.Name, strings.Join(o.Problems, "\n    "))
					}
					if verbose || len(o.Problems) > 0 && len(o.Outputs) <= 40 {
						for _, l := range o.Outputs {
							fmt.Fprintf(e.stdout, "      %s\n", l)
						}
					}
				}
			}
			fmt.Fprintf(e.stdout, "%d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return fmt.Errorf("%d of %d test cases failed", failed, passed+failed)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every case's outputs")
	return cmd
}
