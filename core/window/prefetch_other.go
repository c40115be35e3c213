//go:build (!amd64 && !arm64) || purego

package window

// prefetch does nothing where eddy has no assembly for it (and with the purego tag).
func prefetch(*uint64) {}

// prefetchKey does nothing where eddy has no assembly for it (and with the purego tag).
func prefetchKey(*keyState) {}
