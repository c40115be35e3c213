//go:build !purego

#include "textflag.h"

// func prefetch3(ks *slicedKey, a, b *uint64)
TEXT ·prefetch3(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ ks+0(FP), AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	MOVQ a+8(FP), AX
	PREFETCHT0 (AX)
	MOVQ b+16(FP), AX
	PREFETCHT0 (AX)
	RET
