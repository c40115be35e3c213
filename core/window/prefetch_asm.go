//go:build (amd64 || arm64) && !purego

package window

// prefetch asks the CPU to bring the cache line of addr closer without waiting for it: a load
// would hold up the instructions after it until the line came. It never faults.
//
//go:noescape
func prefetch(addr *uint64)

// prefetchKey is prefetch for the first two cache lines of ks, what a firing reads of it.
//
//go:noescape
func prefetchKey(ks *keyState)
