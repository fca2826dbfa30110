package sqlstore

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestJoinHalves: a figure split into its high and low 32 bits, as the
// summary read sums them, comes back whole, and sums of halves beyond the
// int64 range are reported, including where many low halves bring a high
// sum below the range back into it.
func TestJoinHalves(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		x := int64(r.Uint64())
		if v, ok := joinHalves(x>>32, x&0xFFFFFFFF); !ok || v != x {
			t.Fatalf("%d split and joined: %d, %v", x, v, ok)
		}
	}
	for _, tc := range []struct {
		hi, lo int64
		want   int64
		ok     bool
	}{
		{math.MaxInt32, 1<<32 - 1, math.MaxInt64, true},
		{math.MaxInt32, 1 << 32, 0, false},
		{math.MaxInt32 + 1, 0, 0, false},
		{math.MinInt32, 0, math.MinInt64, true},
		{math.MinInt32 - 1, 1 << 32, math.MinInt64, true},
		{math.MinInt32 - 1, 1<<32 - 1, 0, false},
		{-3, 3 << 32, 0, true},
	} {
		if v, ok := joinHalves(tc.hi, tc.lo); ok != tc.ok || (ok && v != tc.want) {
			t.Errorf("joinHalves(%d, %d) = %d, %v; want %d, %v", tc.hi, tc.lo, v, ok, tc.want, tc.ok)
		}
	}
}
