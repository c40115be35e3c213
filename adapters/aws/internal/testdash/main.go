// Command testdash is the dashboard Lambda the aws adapter's tests build as `bootstrap` and run
// under the Lambda Runtime Interface Emulator, as a generated project's cmd/awsdashboard does:
// the dashboard over the view store EDDY_VIEW_STORE names, answering function URL events.
package main

import (
	"fmt"
	"os"

	"github.com/eddyhq/eddy/adapters/aws"
)

func main() {
	if err := aws.StartDashboard(); err != nil {
		fmt.Fprintln(os.Stderr, "testdash:", err)
		os.Exit(1)
	}
}
