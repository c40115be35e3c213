//go:build (!amd64 && !arm64) || purego

package window

// prefetch3 does nothing where eddy has no assembly for it (and with the purego tag).
func prefetch3(*slicedKey, *uint64, *uint64) {}
