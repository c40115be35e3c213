package aggregate

import (
	"errors"
	"fmt"

	enc "github.com/DataDog/sketches-go/ddsketch/encoding"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
)

// checkSketchBins walks an encoded DDSketch the way its decoder does and fails on a bin index
// outside [lo, hi], the indexes values map to. The decoder's paginated store allocates a page for
// every index it meets, even one whose count is zero or missing: an absurd index in a corrupt
// snapshot would ask for terabytes, an out-of-memory crash nothing can recover from.
func checkSketchBins(b []byte, lo, hi int64) error {
	p := &b
	check := func(i int64) error {
		if i < lo || i > hi {
			return fmt.Errorf("bin index %d outside [%d, %d]", i, lo, hi)
		}
		return nil
	}
	for len(*p) > 0 {
		flag, err := enc.DecodeFlag(p)
		if err != nil {
			return err
		}
		switch flag.Type() {
		case enc.FlagTypePositiveStore, enc.FlagTypeNegativeStore:
			n, err := enc.DecodeUvarint64(p)
			if err != nil {
				return err
			}
			switch flag.SubFlag() {
			case enc.BinEncodingIndexDeltasAndCounts, enc.BinEncodingIndexDeltas:
				var index int64
				for i := uint64(0); i < n && len(*p) > 0; i++ {
					d, err := enc.DecodeVarint64(p)
					if err != nil {
						return err
					}
					index += d
					if err := check(index); err != nil {
						return err
					}
					if flag.SubFlag() == enc.BinEncodingIndexDeltasAndCounts {
						if _, err := enc.DecodeVarfloat64(p); err != nil {
							return err
						}
					}
				}
			case enc.BinEncodingContiguousCounts:
				index, err := enc.DecodeVarint64(p)
				if err != nil {
					return err
				}
				delta, err := enc.DecodeVarint64(p)
				if err != nil {
					return err
				}
				for i := uint64(0); i < n; i++ {
					if err := check(index); err != nil {
						return err
					}
					if _, err := enc.DecodeVarfloat64(p); err != nil {
						return err
					}
					index += delta
				}
			default:
				return errors.New("unknown bin encoding")
			}
		case enc.FlagTypeIndexMapping:
			if _, err := mapping.Decode(p, flag); err != nil {
				return err
			}
		default:
			switch flag {
			case enc.FlagZeroCountVarFloat:
				if _, err := enc.DecodeVarfloat64(p); err != nil {
					return err
				}
			case enc.FlagCount, enc.FlagSum, enc.FlagMin, enc.FlagMax:
				if len(*p) < 8 {
					return errors.New("truncated summary")
				}
				*p = (*p)[8:]
			default:
				return errors.New("unknown flag")
			}
		}
	}
	return nil
}
