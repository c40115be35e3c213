// Command eddy runs, replays, checks and feeds eddy functions.
//
//	eddy dev                      run ./eddy.yaml locally on an in-memory broker; events over HTTP
//	eddy dev --input events.ndjson
//	eddy replay --spec eddy.yaml --input history.ndjson.gz --output results.ndjson
//	eddy validate eddy.yaml
//	eddy send --input events.ndjson          publish to a running `eddy dev`
//	eddy generate-event aws --input events.ndjson > kinesis-event.json
//	eddy new press-monitor --cloud all             scaffold a project
//	eddy deploy --cloud aws --dry-run             build and show what a deployment does
//
// Every command takes --help, with a working example. Exit codes: 0 success, 1 failure (a broken
// spec, unreadable input, a failed run), 2 usage error (unknown command or flag, wrong arguments).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks an error as the user's invocation being wrong (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// env is what commands read and write; tests give their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdinTTY and stderrTTY tell whether those are terminals (progress bars, default inputs).
	stdinTTY, stderrTTY bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		stdinTTY: isTerminal(os.Stdin), stderrTTY: isTerminal(os.Stderr)}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	root := newRoot(e)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ue usageError
	usage := errors.As(err, &ue) || isCobraUsage(err)
	fmt.Fprintf(e.stderr, "eddy: %v\n", err)
	if usage {
		fmt.Fprintln(e.stderr, "Run 'eddy --help' (or 'eddy COMMAND --help') for usage.")
		return exitUsage
	}
	return exitFailure
}

// isCobraUsage recognizes the errors cobra itself returns for a wrong command line.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires at most", "required flag"} {
		if strings.HasPrefix(s, p) || strings.Contains(s, "\n"+p) {
			return true
		}
	}
	return false
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "eddy",
		Short: "Serverless stream processing: windows, aggregates, rules and patterns on AWS, GCP, Azure and locally",
		Long: `eddy runs one stream-processing function, described in eddy.yaml, the same way on AWS
(Kinesis → Lambda), Google Cloud (Pub/Sub → Cloud Run functions), Azure (Event Hubs) and on your
machine. Window results and decisions are written as JSON lines (eddy's output contract).

Exit codes: 0 success, 1 failure, 2 usage error.`,
		Example: `  # Check a spec, then run it locally and feed it events from a file
  eddy validate eddy.yaml
  eddy dev --input events.ndjson

  # Re-run a function over recorded history
  eddy replay --spec eddy.yaml --input history.ndjson.gz --output results.ndjson`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newDevCmd(e), newReplayCmd(e), newValidateCmd(e), newTestCmd(e), newSendCmd(e), newGenerateEventCmd(e),
		newNewCmd(e), newDeployCmd(e))
	return root
}

// noArgs is cobra.NoArgs with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q (did you mean --input %s?)", cmd.CommandPath(), args, args[0])
	}
	return nil
}
