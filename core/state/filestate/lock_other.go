//go:build !unix

package filestate

import (
	"context"
	"errors"
	"runtime"
)

// lock is unavailable where flock is: conditional writes would not be safe across processes.
func (d *Driver) lock(context.Context, string) (func(), error) {
	return nil, errors.New("filestate: conditional writes need flock, which " + runtime.GOOS + " lacks")
}
