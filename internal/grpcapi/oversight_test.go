package grpcapi

import (
	"slices"
	"testing"
)

// TestApportionSumsToTheUnit: band shares sum to exactly 10,000 basis
// points, the remainders going to the largest remainders, the earlier band
// on a tie.
func TestApportionSumsToTheUnit(t *testing.T) {
	for _, c := range []struct {
		parts []int64
		want  []int64
	}{
		{[]int64{1, 1, 1}, []int64{3334, 3333, 3333}},
		{[]int64{4, 1, 1}, []int64{6667, 1667, 1666}},
		{[]int64{0, 2, 0, 1}, []int64{0, 6667, 0, 3333}},
		{[]int64{5, 0}, []int64{10000, 0}},
		{[]int64{0, 0}, []int64{0, 0}},
		// Amounts at the ledger's bound: the products pass int64.
		{[]int64{3e17, 3e17, 3e17 + 1}, []int64{3333, 3333, 3334}},
	} {
		var total int64
		for _, p := range c.parts {
			total += p
		}
		if got := apportion(c.parts, total, 10000); !slices.Equal(got, c.want) {
			t.Errorf("apportion(%v) = %v, want %v", c.parts, got, c.want)
		}
	}
}
