package service

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/arrears/arrears/internal/ledger"
)

// TestUnconfirmedClaimsTotalIsExact: a group's unconfirmed claims add up
// exactly per currency, and a total past the int64 range is refused, not
// wrapped to a negative figure.
func TestUnconfirmedClaimsTotalIsExact(t *testing.T) {
	g := &ComplaintCounts{Group: "350100", UnconfirmedAmounts: map[string]int64{}}
	for _, a := range []int64{math.MaxInt64 - 10, 10} {
		if err := g.addUnconfirmed("CNY", a); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.addUnconfirmed("EUR", 5); err != nil || g.UnconfirmedAmounts["CNY"] != math.MaxInt64 || g.UnconfirmedAmounts["EUR"] != 5 {
		t.Fatalf("totals %v, %v", g.UnconfirmedAmounts, err)
	}
	err := g.addUnconfirmed("CNY", 1)
	if !errors.Is(err, ledger.ErrFailedPrecondition) || !strings.Contains(err.Error(), "350100") {
		t.Errorf("a total past the range: %v, want FAILED_PRECONDITION naming the group", err)
	}
	if g.UnconfirmedAmounts["CNY"] != math.MaxInt64 {
		t.Errorf("the refused claim changed the total to %d", g.UnconfirmedAmounts["CNY"])
	}
}
