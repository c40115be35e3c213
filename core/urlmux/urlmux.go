// Package urlmux is the scheme registry behind the portable types' URL muxes (state stores, sinks,
// view stores): driver packages register an opener per URL scheme at init, and Open looks the
// scheme up. Each portable type keeps its own opener interface and its own URL parameters.
package urlmux

import (
	"maps"
	"slices"
	"strconv"
	"sync"
)

// Registry maps URL schemes to openers of type O. The zero value is ready to use and safe for
// concurrent use.
type Registry[O any] struct {
	mu      sync.RWMutex
	openers map[string]O
}

// Register makes scheme open with o. It panics if the scheme is taken, as registering twice is a
// programming error found at init; what names the registry in the message ("state", "sink").
func (r *Registry[O]) Register(what, scheme string, o O) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.openers == nil {
		r.openers = map[string]O{}
	}
	if _, dup := r.openers[scheme]; dup {
		panic(what + ": scheme " + strconv.Quote(scheme) + " registered twice")
	}
	r.openers[scheme] = o
}

// Schemes lists the registered schemes, sorted.
func (r *Registry[O]) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.openers))
}

// Lookup returns the opener of scheme.
func (r *Registry[O]) Lookup(scheme string) (O, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	o, ok := r.openers[scheme]
	return o, ok
}
