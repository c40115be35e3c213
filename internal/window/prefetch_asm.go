//go:build (amd64 || arm64) && !purego

package window

// prefetch3 asks the CPU to bring closer, without waiting for them, the first two cache lines of
// ks (what a firing reads of a key) and the lines of a and b; a load would hold up the instructions
// after it until its line came. Prefetches never fault: any pointer may be nil. One call for all
// four, since a call into assembly costs more than the instructions.
//
//go:noescape
func prefetch3(ks *slicedKey, a, b *uint64)
