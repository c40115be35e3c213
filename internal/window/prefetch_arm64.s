//go:build !purego

#include "textflag.h"

// func prefetch3(ks *slicedKey, a, b *uint64)
TEXT ·prefetch3(SB), NOSPLIT|NOFRAME, $0-24
	MOVD ks+0(FP), R0
	PRFM (R0), PLDL1KEEP
	PRFM 64(R0), PLDL1KEEP
	MOVD a+8(FP), R0
	PRFM (R0), PLDL1KEEP
	MOVD b+16(FP), R0
	PRFM (R0), PLDL1KEEP
	RET
