// Command testdash is a custom handler serving a small function and its dashboard, as a
// generated project's cmd/azure does with the dashboard on: the tests start it the way the
// Functions host does (FUNCTIONS_CUSTOMHANDLER_PORT) with EDDY_VIEW_STORE naming a view store.
package main

import (
	"fmt"
	"os"

	"github.com/eddyhq/eddy/adapters/azure"
	"github.com/eddyhq/eddy/adapters/env"
)

const spec = `name: press
input: {format: json, key: machine, time: ts, time_format: unix_ms}
window: {tumbling: 60s}
aggregates:
  - {name: count, count: true}
`

func main() {
	fn, err := env.ParseSpec("eddy.yaml", []byte(spec))
	if err == nil {
		err = azure.StartWithDashboard(fn)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testdash:", err)
		os.Exit(1)
	}
}
