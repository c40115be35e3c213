//go:build unix

package azure_test

import (
	"io"
	"sync"
	"testing"

	"github.com/eddyhq/eddy/internal/ehfake"
)

// eventHubs starts the Event Hubs AMQP fake (internal/ehfake) on a free loopback port with the
// given hubs ("name:partitions,...") and returns a connection string for it.
func eventHubs(t testing.TB, hubs string) string {
	t.Helper()
	return ehfake.Start(t, hubs)
}

// lockedWriter serializes writes from a child's output pipe.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
