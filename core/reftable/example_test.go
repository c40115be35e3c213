package reftable_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eddyhq/eddy/core/reftable"
)

// A table is opened once, read without locks, and refreshed in place.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "reftable")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "limits.csv")
	_ = os.WriteFile(path, []byte("machine,max_temp\npress-07,90\npress-08,75\n*,85\n"), 0o644)

	ctx := context.Background()
	set, err := reftable.Open(ctx, []reftable.Spec{{Name: "limits", Source: path, Key: "machine", DefaultKey: "*"}}, reftable.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	show := func() {
		t := set.Table("limits")
		for _, k := range []string{"press-07", "press-08", "press-99"} {
			r, found := t.Lookup(k)
			v, _ := r.Get("max_temp")
			fmt.Printf("%s: %v (own row: %v)\n", k, v, found)
		}
	}
	show()
	_ = os.WriteFile(path, []byte("machine,max_temp\npress-07,88\n"), 0o644) // no default row any more
	if err := set.Refresh(ctx, "limits"); err != nil {
		fmt.Println("refresh failed; kept the last good version:", set.Stats("limits").Failures, "failure")
	}
	_ = os.WriteFile(path, []byte("machine,max_temp\npress-07,88\n*,80\n"), 0o644)
	_ = set.Refresh(ctx, "limits")
	show()
	// Output:
	// press-07: 90 (own row: true)
	// press-08: 75 (own row: true)
	// press-99: 85 (own row: false)
	// refresh failed; kept the last good version: 1 failure
	// press-07: 88 (own row: true)
	// press-08: 80 (own row: false)
	// press-99: 80 (own row: false)
}
